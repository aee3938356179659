"""Finding the fighters in a photo: each one's keypoints, mask and role (tori or uke).

Why this way: MediaPipe finds one person per image, and on two tangled fighters the whole photo
often gives a blend of both. So the detector also looks at overlapping halves of the photo
(left, right, top, bottom), upright and upside down; detections of one person are grouped and
the people found most often win. Each fighter is then isolated by GrabCut, seeded by its own
skeleton with the other's as background (the masks and the photo's colours then tell who is in
front, bridge.pair), and detected again on its own isolated image, which pulls apart a detection
that blended both. A leg both detections claim stays with the fighter whose colours it shows
(bridge.shared_legs). Roles are guessed from the final keypoints (role_cues). A fighter thrown
upside down is found without the user rotating anything. Rectangles, stroke files and keypoint
files from the artist override each guess they cover.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .detect import detect_body25, detect_fighter
from .errors import BridgeError
from .fit import PersonTarget
from .image_io import Photo, processing_scale
from .isolate import check_rect, dilate_mask, grabcut_mask, load_strokes, margin_px, skeleton_mask
from .keypoints import (CONFIDENT, INDEX, MIN_CONFIDENT_KEYPOINTS, assign_people, load_keypoint_file, pick_two,
                        points_inside, same_person)
from .progress import Reporter
from .shared_legs import drop_shared_legs

ROLES = ("tori", "uke")
UPRIGHT_MARGIN_DEGREES = 30.0  # a fighter this much further from upright than the other is uke
OFF_THE_MAT = 0.5  # torso lengths (about 25 cm) one fighter's lowest foot is above the other's
BACK_LEAN_MARGIN_DEGREES = 15.0  # a standing fighter this much further back-leaning than the other is uke
STANDING_DEGREES = 45.0  # a fighter within this of upright has the head above the hips: the face says "forward"
FACING_READABLE = 0.05  # torso lengths the nose must lie beyond the ears' midpoint to tell which way the face points


@dataclass
class Fighter:
    role: str
    target: PersonTarget  # keypoints in the photo's pixels
    mask: np.ndarray | None  # (H, W) bool in the photo's pixels; None when not isolated


@dataclass
class FighterHints:
    """What the artist says about one fighter (all optional)."""

    rect: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in the photo's pixels
    strokes: str | None = None  # stroke file (bridge.isolate)
    stroke_labels: np.ndarray | None = None  # the file read, checked against the photo


def _working_image(photo: Photo) -> tuple[np.ndarray, float]:
    """The photo at the detector's working size, and the scale from the photo to it."""
    scale = processing_scale(photo)
    if scale >= 1.0:
        return photo.rgb, 1.0
    size = (round(photo.width * scale), round(photo.height * scale))
    return cv2.resize(photo.rgb, size, interpolation=cv2.INTER_AREA), scale


def _enough(confidence: np.ndarray) -> bool:
    """Whether enough keypoints are confident to fit a body."""
    return int((confidence >= CONFIDENT).sum()) >= MIN_CONFIDENT_KEYPOINTS


# Parts of the photo (fractions x0, y0, x1, y1) the detector looks at: the whole, and halves that
# overlap by a fifth. MediaPipe finds one person per image; a fighter standing beside (or above)
# the other fills one half, where the whole photo often gives a blend of both.
GROUP_TOLERANCE = 0.05  # detections this close (a fraction of the body's size) are one person
CROPS = ((0.0, 0.0, 1.0, 1.0), (0.0, 0.0, 0.6, 1.0), (0.4, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0, 0.6), (0.0, 0.4, 1.0, 1.0))


def _candidate_people(rgb: np.ndarray) -> list:
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
            if found is None or not _enough(found.confidence):
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
    return [max(g, key=lambda d: float(d.confidence.mean())) for g in groups]


def _scaled_target(found, scale: float) -> PersonTarget:
    return PersonTarget(found.points / scale, found.confidence, found.points3d)


def _upright_degrees(target: PersonTarget) -> float:
    """How far the body's hips-to-neck line leans from the image's up (0 upright, 180 upside down)."""
    neck, hip = INDEX["neck"], INDEX["mid_hip"]
    if min(target.confidence[neck], target.confidence[hip]) < CONFIDENT:
        return 0.0
    up = target.points[neck] - target.points[hip]
    return abs(math.degrees(math.atan2(up[0], -up[1])))


def _torso_length(targets: list[PersonTarget]) -> float | None:
    """The pair's mean neck-to-hips length in pixels: the body's size that a pose changes least."""
    neck, hip = INDEX["neck"], INDEX["mid_hip"]
    lengths = [float(np.linalg.norm(t.points[neck] - t.points[hip])) for t in targets
               if min(t.confidence[neck], t.confidence[hip]) >= CONFIDENT]
    return float(np.mean(lengths)) if lengths else None


FEET = [INDEX[f"{side}_{part}"] for side in ("left", "right") for part in ("ankle", "heel", "big_toe", "small_toe")]


def _foot_height(target: PersonTarget) -> float | None:
    """How high the fighter's lowest foot keypoint lies in the image (minus its row): a fighter on
    the mat stands on it, one thrown has both feet off it. With a level camera two fighters in
    contact stand at about one depth, so their feet on the mat lie on about one row."""
    rows = target.points[FEET, 1][target.confidence[FEET] >= CONFIDENT]
    return -float(rows.max()) if rows.size else None


def _back_lean_degrees(target: PersonTarget) -> float | None:
    """How far a standing fighter's hips-to-neck line leans away from the way the face points (the
    nose beyond the ears' midpoint), negative when leaning forward; None when the head is not above
    the hips or the face's way cannot be read."""
    neck, hip, nose = INDEX["neck"], INDEX["mid_hip"], INDEX["nose"]
    ears = [INDEX["left_ear"], INDEX["right_ear"]]
    ears = [e for e in ears if target.confidence[e] >= CONFIDENT]
    if not ears or min(target.confidence[[neck, hip, nose]]) < CONFIDENT or _upright_degrees(target) > STANDING_DEGREES:
        return None
    up = target.points[neck] - target.points[hip]
    face = target.points[nose, 0] - target.points[ears, 0].mean()
    if abs(face) < FACING_READABLE * np.linalg.norm(up):
        return None
    return math.degrees(math.atan2(-np.sign(face) * up[0], -up[1]))


def role_cues(targets: list[PersonTarget]) -> dict[str, tuple[list[float | None], float | None]]:
    """Each cue's value per fighter (higher is more like uke) and the margin that makes a clear call.
    lean: uke is being thrown, so further from upright (tomoe-nage's uke upside down, seoi-nage's
    over the shoulder). feet: uke is thrown off the mat while tori stands on it (measured on the six
    scenes' keypoints: 1.7-3.7 torso lengths in seoi-nage, tomoe-nage and uchi-mata; at most 0.1
    with both standing). back: in leg reaps (osoto-gari, ouchi-gari) tori drives uke backwards, so
    uke leans back while tori leans forward into uke; in hip throws both lean forward, so it does
    not decide there (measured on the final keypoints 28 and 44 degrees apart in osoto-gari and
    ouchi-gari, 20 in another osoto-gari scene; 29, 50, 23 on the true keypoints)."""
    torso = _torso_length(targets)
    return {"lean": ([_upright_degrees(t) for t in targets], UPRIGHT_MARGIN_DEGREES),
            "feet": ([_foot_height(t) for t in targets], None if torso is None else OFF_THE_MAT * torso),
            "back": ([_back_lean_degrees(t) for t in targets], BACK_LEAN_MARGIN_DEGREES)}


def _clearly_more(values: list[float | None], margin: float | None) -> int | None:
    """The index of the fighter whose value exceeds the other's by `margin`, if one does."""
    if margin is None or None in values or abs(values[0] - values[1]) < margin:
        return None
    return int(values[1] > values[0])


def guess_roles(targets: list[PersonTarget]) -> tuple[list[str], bool]:
    """Roles for two fighters found without the artist's rectangles: uke is the one the cues that
    make a clear call name (role_cues), when they all name the same fighter; otherwise the first
    found (the detector's most prominent person) is tori. Returns the roles and whether that was a
    clear call."""
    named = {_clearly_more(values, margin) for values, margin in role_cues(targets).values()} - {None}
    if len(named) == 1:
        return (["uke", "tori"] if named.pop() == 0 else ["tori", "uke"]), True
    return ["tori", "uke"], False


def _strokes(hint: FighterHints | None, photo: Photo, scale: float):
    if hint is None or hint.stroke_labels is None:
        return None
    strokes = hint.stroke_labels
    if scale >= 1.0:
        return strokes
    size = (round(photo.width * scale), round(photo.height * scale))
    return cv2.resize(strokes, size, interpolation=cv2.INTER_NEAREST)


def _isolate_pair(rgb, targets: list[PersonTarget], hints: list[FighterHints | None], photo: Photo, scale: float):
    """GrabCut masks for two fighters at the working scale, each with the other's limbs as
    background, the artist's rectangle and strokes where given."""
    masks = []
    for index, target in enumerate(targets):
        hint = hints[index]
        other = targets[1 - index] if len(targets) == 2 else None
        masks.append(grabcut_mask(
            rgb,
            rect=None if hint is None or hint.rect is None else np.asarray(hint.rect, float) * scale,
            keypoints=(target.points * scale, target.confidence),
            strokes=_strokes(hint, photo, scale),
            other=None if other is None else (other.points * scale, other.confidence)))
    return masks


# Re-detection of two fighters found in the whole photo, each on its own isolated image. Measured on
# the six committed scenes (mean of each fighter's mean / median px error of confident keypoints,
# 12 fighters): the candidates 30.5 / 20.5; one round 27.1 / 16.5, two rounds 17.5 / 10.3
# (seoi-nage's uke, a blend of both fighters, 140 -> 6 px mean; osoto-gari's 23 -> 7), a third no
# better (with GrabCut's seed 0: 19.3 either way); about +1 s a scene (at most +2) on the 2-core
# CPU, mostly GrabCut. With the true masks the same detector gives 4-10 px, so what is left
# (harai-goshi, uchi-mata) is GrabCut's masks.
REDETECT_ROUNDS = 2
# A re-detection replaces the kept one only with this much less of it inside the other fighter's
# mask; with no margin (19.9 / 12.0) or 0.05 (19.0 / 11.8; GrabCut's seed 0, against 19.3 / 11.6)
# it took worse detections on fighters the candidates had already found well (tomoe-nage's tori
# 12 -> 20 px, uchi-mata's uke 21 -> 28).
CLEARLY_MORE_DISTINCT = 0.1
SETTLED = 0.05  # a round that moves both fighters less than this (a fraction of size) ends the loop


def _share_inside(target: PersonTarget, mask: np.ndarray, scale: float) -> float:
    """The share of the target's confident keypoints inside `mask` (working scale, grown by a
    margin): inside the other fighter's mask means the detection strays onto, or blends with, it."""
    confident = target.points[target.confidence >= CONFIDENT] * scale
    return float(points_inside(confident, dilate_mask(mask, margin_px(mask))).mean())


def _redetected(rgb, targets: list[PersonTarget], masks: list[np.ndarray], hints, photo: Photo, scale: float):
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
        if any(d is None or not _enough(d.confidence) for d in found):
            break
        new = [_scaled_target(d, scale) for d in found]
        for i in range(2):
            share = _share_inside(new[i], current_masks[1 - i], scale)
            if share < kept[i][2] - CLEARLY_MORE_DISTINCT:
                kept[i] = (new[i], current_masks[i], share)
        if round_ == REDETECT_ROUNDS - 1 or all(same_person(n.points, n.confidence, c.points, c.confidence, SETTLED)
                                               for n, c in zip(new, current)):
            break
        current, current_masks = new, _isolate_pair(rgb, new, hints, photo, scale)
    chosen = [k[0] for k in kept]
    if same_person(chosen[0].points, chosen[0].confidence, chosen[1].points, chosen[1].confidence):
        return targets, masks
    return chosen, [k[1] for k in kept]


def _full_size(mask: np.ndarray, photo: Photo) -> np.ndarray:
    if mask.shape == (photo.height, photo.width):
        return mask
    return cv2.resize(mask.astype(np.uint8), (photo.width, photo.height), interpolation=cv2.INTER_NEAREST).astype(bool)


def _from_file(path, photo: Photo, count: int, hints: dict[str, FighterHints]) -> tuple[list[PersonTarget], list[str], list[str]]:
    """People from a keypoint file: assigned to the artist's rectangles, else the largest and
    most central."""
    warnings = []
    people = load_keypoint_file(path)
    roles = [role for role in ROLES[:count] if hints.get(role) and hints[role].rect is not None]
    if roles:
        chosen = assign_people(people, [hints[role].rect for role in roles])
        missing = [role for role, index in zip(roles, chosen) if index is None]
        if missing:
            raise BridgeError("rect_empty", f"No person in {path} lies inside the rectangle for {', '.join(missing)}.",
                              "Draw the rectangle around that fighter, or leave it out.")
        picked = list(chosen)
    else:
        picked = pick_two(people, photo.width, photo.height)[:count]
        if len(people) > count:
            warnings.append(f"{path} holds {len(people)} people; the {count} largest and most central were kept.")
    targets = [PersonTarget(*people[index]) for index in picked]
    return targets, roles or list(ROLES[:len(targets)]), warnings


def _detected(photo: Photo, rgb, scale: float, count: int, hints: dict[str, FighterHints], reporter):
    """People found by the detector: in the artist's rectangles where given, else the people the
    detector finds most often across the photo and its halves (_candidate_people)."""
    warnings = []
    ruled = [role for role in ROLES[:count] if hints.get(role) and hints[role].rect is not None]
    found, roles = [], []
    for step, role in enumerate(ruled):
        reporter.progress("detect", step, count)
        rect = np.asarray(hints[role].rect, float) * scale
        mask = grabcut_mask(rgb, rect=rect, strokes=_strokes(hints[role], photo, scale))
        detection = detect_fighter(rgb, mask)
        if detection is None or not _enough(detection.confidence):
            raise BridgeError("no_person", f"No person was found inside the rectangle for {role}.",
                              "Draw the rectangle around the whole fighter, or give keypoints with --keypoints.")
        found.append(_scaled_target(detection, scale))
        roles.append(role)
    if len(found) < count:
        reporter.progress("detect", len(found), count)
        for detection in _candidate_people(rgb):
            if len(found) == count:
                break
            if not any(same_person(detection.points, detection.confidence, t.points * scale, t.confidence)
                       for t in found):
                found.append(_scaled_target(detection, scale))
                roles.append(None)
    if not found:
        raise BridgeError("no_person", f"No person was found in {photo.path}.",
                          "Use a photo where the fighters' bodies are visible, or give keypoints with --keypoints.")
    if len(found) < count:
        box = _box_text(found[0])
        warnings.append(f"Only one person was found; fitted the person at {box} alone. Draw --tori-rect and "
                        "--uke-rect (or give a keypoint file) to fit both.")
    unassigned = [i for i, role in enumerate(roles) if role is None]
    if len(unassigned) < 2:  # one or none left to name: it takes the role no rectangle claimed
        for index, role in zip(unassigned, [role for role in ROLES if role not in roles]):
            roles[index] = role
    return found, roles, warnings  # two unnamed (None) are named from their final keypoints


def _box_text(target: PersonTarget) -> str:
    points = target.points[target.confidence >= CONFIDENT]
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    return f"pixels ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f})"


def named_by_strokes(targets: list[PersonTarget], hints: dict[str, FighterHints]) -> list[str]:
    """Roles for two fighters found without rectangles, from the artist's stroke files: a file's
    fighter strokes (sure or probable) lie on its fighter, nearer that fighter's skeleton than the
    other's. Why: roles are otherwise guessed after the fighters are isolated, and the strokes must
    steer the isolation of the fighter they were painted for."""
    shape = next(h.stroke_labels.shape for h in hints.values() if h.stroke_labels is not None)
    distances = []
    for target in targets:
        bones = skeleton_mask(shape, target.points, target.confidence, 3)
        distances.append(cv2.distanceTransform((~bones).astype(np.uint8), cv2.DIST_L2, 3))
    votes = np.zeros((2, 2))  # votes[i, r]: how much fighter i looks like role r's strokes
    for r, role in enumerate(ROLES):
        labels = hints[role].stroke_labels if role in hints else None
        if labels is not None:
            painted = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
            nearer_first = distances[0][painted] < distances[1][painted]
            votes[:, r] = nearer_first.sum(), (~nearer_first).sum()
    as_painted = votes[0, 0] + votes[1, 1] >= votes[0, 1] + votes[1, 0]
    return list(ROLES) if as_painted else list(ROLES[::-1])


def find_fighters(photo: Photo, count: int, keypoints_file=None, hints: dict[str, FighterHints] | None = None,
                  reporter=None) -> tuple[list[Fighter], list[str]]:
    """The fighters in `photo` (one or two), their roles, keypoints and masks, and warnings."""
    hints = dict(hints or {})
    reporter = reporter or Reporter()
    warnings = []
    for role, hint in hints.items():  # the artist's input is checked before anything slow runs
        rect = hint.rect
        if rect is not None:
            rect, warning = check_rect(rect, photo.width, photo.height, role)
            warnings += [warning] if warning else []
        labels = None if hint.strokes is None else load_strokes(hint.strokes, photo.width, photo.height)
        hints[role] = FighterHints(rect, hint.strokes, labels)
    rgb, scale = _working_image(photo)
    if keypoints_file is not None:
        targets, roles, more = _from_file(keypoints_file, photo, count, hints)
    else:
        targets, roles, more = _detected(photo, rgb, scale, count, hints, reporter)
    warnings += more
    for target in targets:
        if not _enough(target.confidence):
            raise BridgeError("no_person", f"Too few body keypoints were found in {photo.path} to fit a body.",
                              "Use a photo where the whole body is visible, or give keypoints with --keypoints.")
    if len(targets) == 1 and count == 1 and not hints:
        return [Fighter(roles[0], targets[0], None)], warnings
    if roles == [None, None] and any(h.stroke_labels is not None for h in hints.values()):
        roles = named_by_strokes(targets, hints)  # the strokes then steer their fighter's isolation
    ordered = [hints.get(role) for role in roles]
    masks = _isolate_pair(rgb, targets, ordered, photo, scale)
    if keypoints_file is None and len(targets) == 2 and not any(h and h.rect is not None for h in ordered):
        targets, masks = _redetected(rgb, targets, masks, ordered, photo, scale)
    dropped = []
    if keypoints_file is None and len(targets) == 2:  # before roles: a stray leg misleads their cues
        targets, dropped = drop_shared_legs(rgb, targets, masks, scale)
    if roles == [None, None]:  # named after re-detection, whose keypoints are the better ones
        roles, clear = guess_roles(targets)
        if not clear:
            warnings.append("Which fighter is tori and which uke was guessed (the cues - lean, feet off the mat, "
                            "leaning back - named neither clearly); swap them in Blender or give --tori-rect / --uke-rect.")
    warnings += [f"{roles[person].capitalize()}'s {side} leg was detected on {roles[1 - person]}'s leg; "
                 f"{roles[person]} was fitted without it: pose that leg by hand." for person, side in dropped]
    fighters = [Fighter(role, target, _full_size(mask, photo)) for role, target, mask in zip(roles, targets, masks)]
    return sorted(fighters, key=lambda f: ROLES.index(f.role)), warnings
