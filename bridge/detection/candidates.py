"""Candidate people from the MediaPipe detector, and re-detection of two fighters on images
isolated by their GrabCut masks.

Why: MediaPipe finds one person per image, and on two tangled fighters the whole photo often
gives a blend of both. So the detector also looks at overlapping halves of the photo, upright and
upside down, and the people found most often win; each fighter is then detected again on its own
isolated image, which pulls apart a detection that blended both.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..imaging.masks import dilate_mask, margin_px
from ..keypoints import CONFIDENT, MIN_CONFIDENT_KEYPOINTS, PersonTarget, same_person, share_inside
from .isolation import grabcut_mask
from .mediapipe_pose import detect_body25, detect_fighter


def enough_keypoints(confidence: np.ndarray) -> bool:
    """Whether enough keypoints are confident to fit a body."""
    return int((confidence >= CONFIDENT).sum()) >= MIN_CONFIDENT_KEYPOINTS


# Parts of the photo (fractions x0, y0, x1, y1) the detector looks at: the whole, and halves that
# overlap by a fifth. MediaPipe finds one person per image; a fighter standing beside (or above)
# the other fills one half, where the whole photo often gives a blend of both.
GROUP_TOLERANCE = 0.05  # detections this close (a fraction of the body's size) are one person
CROPS = ((0.0, 0.0, 1.0, 1.0), (0.0, 0.0, 0.6, 1.0), (0.4, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0, 0.6), (0.0, 0.4, 1.0, 1.0))


def candidate_people(rgb: np.ndarray) -> list:
    """Distinct people in the image, most credible first. Every crop is tried upright and upside
    down (the whole photo at every quarter turn); detections of one person are grouped, and a
    person found in more views, then more confidently, ranks higher: a blend of two fighters or
    a body invented inside a half rarely comes back the same way twice."""
    height, width = rgb.shape[:2]
    groups: list[list] = []
    for index, (fx0, fy0, fx1, fy1) in enumerate(CROPS):
        x0, y0, x1, y1 = round(fx0 * width), round(fy0 * height), round(fx1 * width), round(fy1 * height)
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        for quarter_turns in (0, 1, 2, 3) if index == 0 else (0, 2):
            found = detect_body25(crop, quarter_turns)
            if found is None or not enough_keypoints(found.confidence):
                continue
            found.points = found.points + [x0, y0]
            # Tight, because fighters in contact stand close and a blend of both lies near each.
            group = next((g for g in groups if same_person(found.points, found.confidence, g[0].points,
                                                           g[0].confidence, GROUP_TOLERANCE)), None)
            if group is None:
                groups.append([found])
            else:
                group.append(found)
    groups.sort(key=lambda g: (len(g), max(float(d.confidence.mean()) for d in g)), reverse=True)
    best = [max(g, key=lambda d: float(d.confidence.mean())) for g in groups]
    for detection, group in zip(best, groups):
        detection.views = len(group)  # how many views found this person (credible_person)
    return best


VIEWS = sum(4 if index == 0 else 2 for index in range(len(CROPS)))  # views candidate_people tries
# A person found in one view only and with a low mean confidence is what MediaPipe invents in
# noise (docs/decisions.md, "No made-up people"): real fighters came back in 10 or more views.
MIN_VIEWS = 2
MIN_MEAN_CONFIDENCE = 0.5


def credible_person(detection) -> bool:
    """Whether a person of candidate_people is more than MediaPipe's guess in noise."""
    return getattr(detection, "views", VIEWS) >= MIN_VIEWS or float(detection.confidence.mean()) >= MIN_MEAN_CONFIDENCE


def scaled_target(found, scale: float) -> PersonTarget:
    return PersonTarget(found.points / scale, found.confidence, found.points3d)


def working_strokes(hint, photo, scale: float):
    if hint is None or hint.stroke_labels is None:
        return None
    strokes = hint.stroke_labels
    if scale >= 1.0:
        return strokes
    size = (round(photo.width * scale), round(photo.height * scale))
    return cv2.resize(strokes, size, interpolation=cv2.INTER_NEAREST)


def isolate_pair(rgb, targets: list[PersonTarget], hints: list, photo, scale: float, known: list | None = None):
    """GrabCut masks for two fighters at the working scale, each with the other's limbs as
    background, the artist's rectangle and strokes where given; `known` masks (working scale,
    None where there is none) are kept as they are."""
    masks = []
    for index, target in enumerate(targets):
        if known is not None and known[index] is not None:
            masks.append(known[index])
            continue
        hint = hints[index]
        other = targets[1 - index] if len(targets) == 2 else None
        masks.append(grabcut_mask(
            rgb,
            rect=None if hint is None or hint.rect is None else np.asarray(hint.rect, float) * scale,
            keypoints=(target.points * scale, target.confidence),
            strokes=working_strokes(hint, photo, scale),
            other=None if other is None else (other.points * scale, other.confidence)))
    return masks


# Rounds of re-detection, and how much less of a re-detection must lie inside the other fighter's
# mask to replace the kept one: measured in docs/decisions.md, "Re-detecting two fighters".
REDETECT_ROUNDS = 2
CLEARLY_MORE_DISTINCT = 0.1
SETTLED = 0.05  # a round that moves both fighters less than this (a fraction of size) ends the loop


def _share_inside(target: PersonTarget, mask: np.ndarray, scale: float) -> float:
    """The share of the target's confident keypoints inside `mask` (working scale, grown by a
    margin): inside the other fighter's mask means the detection strays onto, or blends with, it."""
    return share_inside(target.points * scale, target.confidence, dilate_mask(mask, margin_px(mask)))


def redetected(rgb, targets: list[PersonTarget], masks: list[np.ndarray], hints, photo, scale: float):
    """Both fighters detected again, each on its own image isolated by its GrabCut mask
    (detect_fighter), new masks cut from the new keypoints, and again (REDETECT_ROUNDS). For each
    fighter the kept detection, with the mask it was found in, is the one least inside the other
    fighter's mask (CLEARLY_MORE_DISTINCT), so a candidate that blends both fighters gives way to a
    detection of one. MediaPipe's visibility is no guide (it rated the blends as high), nor the
    truth. Two kept detections of one person fall back to the candidates."""
    kept = [(targets[i], masks[i], _share_inside(targets[i], masks[1 - i], scale)) for i in range(2)]
    current, current_masks = targets, masks
    for round_ in range(REDETECT_ROUNDS):
        found = [detect_fighter(rgb, current_masks[i], current_masks[1 - i]) for i in range(2)]
        if any(d is None or not enough_keypoints(d.confidence) for d in found):
            break
        new = [scaled_target(d, scale) for d in found]
        for i in range(2):
            share = _share_inside(new[i], current_masks[1 - i], scale)
            if share < kept[i][2] - CLEARLY_MORE_DISTINCT:
                kept[i] = (new[i], current_masks[i], share)
        if round_ == REDETECT_ROUNDS - 1 or all(same_person(n.points, n.confidence, c.points, c.confidence, SETTLED)
                                               for n, c in zip(new, current)):
            break
        current, current_masks = new, isolate_pair(rgb, new, hints, photo, scale)
    chosen = [k[0] for k in kept]
    if same_person(chosen[0].points, chosen[0].confidence, chosen[1].points, chosen[1].confidence):
        return targets, masks
    return chosen, [k[1] for k in kept]


# Two judo fighters are in contact; a referee or a spectator stands apart. When the detector finds
# more distinct people than fighters, the pair whose keypoint boxes lie closest (in body sizes)
# is taken, if the two most prominent people stand clearly apart and another pair does not.
APART = 0.25  # box gap, in the pair's mean box diagonal, beyond which two people are not in contact
CONSIDERED = 4  # the most prominent people among which the pair is sought


def _box(points: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    confident = points[confidence >= CONFIDENT]
    return np.concatenate([confident.min(0), confident.max(0)])


def box_gap(a, b) -> float:
    """The gap between two people's keypoint boxes, in their mean box diagonal (0: overlapping)."""
    box_a, box_b = _box(a.points, a.confidence), _box(b.points, b.confidence)
    gap = np.maximum(0.0, np.maximum(box_a[:2] - box_b[2:], box_b[:2] - box_a[2:]))
    size = (np.linalg.norm(box_a[2:] - box_a[:2]) + np.linalg.norm(box_b[2:] - box_b[:2])) / 2
    return float(np.linalg.norm(gap) / max(size, 1e-6))


def fighters_in_contact(people: list) -> list:
    """Of distinct people (most prominent first), the two fighters: the two most prominent, unless
    they stand apart (APART) while another pair among the first CONSIDERED is in contact; then the
    closest pair, the more prominent first."""
    if len(people) <= 2:
        return people
    if box_gap(people[0], people[1]) <= APART:
        return people[:2]
    pairs = [(box_gap(people[i], people[j]), i + j, i, j) for i in range(min(len(people), CONSIDERED))
             for j in range(i + 1, min(len(people), CONSIDERED))]
    gap, _, i, j = min(pairs)
    return [people[i], people[j]] if gap <= APART else people[:2]
