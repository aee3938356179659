"""Which fighter is tori and which uke, from their keypoints (lean, feet off the mat, leaning
back) or from the artist's stroke files."""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..imaging.masks import skeleton_mask
from ..keypoints import CONFIDENT, INDEX, PersonTarget
from ..result.format import ROLES

UPRIGHT_MARGIN_DEGREES = 30.0  # a fighter this much further from upright than the other is uke
OFF_THE_MAT = 0.5  # torso lengths (about 25 cm) one fighter's lowest foot is above the other's
BACK_LEAN_MARGIN_DEGREES = 15.0  # a standing fighter this much further back-leaning than the other is uke
STANDING_DEGREES = 45.0  # a fighter within this of upright has the head above the hips: the face says "forward"
FACING_READABLE = 0.05  # torso lengths the nose must lie beyond the ears' midpoint to tell which way the face points


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


def named_by_strokes(targets: list[PersonTarget], hints: dict) -> list[str]:
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
