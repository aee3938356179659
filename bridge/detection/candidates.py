"""Two chosen fighters isolated by GrabCut (isolate_pair) and detected again, each on its own
isolated image (redetected), which pulls apart a detection that blended both; and the helpers
between the photo's pixels and the detector's working size.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ..imaging.masks import dilate_mask, margin_px
from ..keypoints import CONFIDENT, MIN_CONFIDENT_KEYPOINTS, PersonTarget, same_person, share_inside
from .isolation import grabcut_mask
from .mediapipe_pose import detect_isolated_views, isolated_view


def enough_keypoints(confidence: np.ndarray) -> bool:
    """Whether enough keypoints are confident to fit a body."""
    return int((confidence >= CONFIDENT).sum()) >= MIN_CONFIDENT_KEYPOINTS


def scaled_target(found, scale: float) -> PersonTarget:
    return PersonTarget(found.points / scale, found.confidence, found.points3d)


def full_size(mask: np.ndarray, photo) -> np.ndarray:
    """A working-size mask at the photo's size."""
    if mask.shape == (photo.height, photo.width):
        return mask
    return cv2.resize(mask.astype(np.uint8), (photo.width, photo.height), interpolation=cv2.INTER_NEAREST).astype(bool)


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
    def cut(index: int) -> np.ndarray:
        if known is not None and known[index] is not None:
            return known[index]
        hint, target = hints[index], targets[index]
        other = targets[1 - index] if len(targets) == 2 else None
        return grabcut_mask(
            rgb,
            rect=None if hint is None or hint.rect is None else np.asarray(hint.rect, float) * scale,
            keypoints=(target.points * scale, target.confidence),
            strokes=working_strokes(hint, photo, scale),
            other=None if other is None else (other.points * scale, other.confidence))

    if len(targets) < 2:
        return [cut(i) for i in range(len(targets))]
    # The two cuts side by side: OpenCV's GrabCut holds no interpreter lock, and each seeds its
    # own thread's random generator (grabcut_mask), so the masks are those of one after the other.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="grabcut") as pool:
        return list(pool.map(cut, range(len(targets))))


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
        # Both isolated views side by side (inpainting holds no interpreter lock), then the
        # detector on both, its graphs side by side.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="isolate") as pool:
            views = list(pool.map(lambda i: isolated_view(rgb, current_masks[i], current_masks[1 - i]), range(2)))
        found = detect_isolated_views(views)
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
