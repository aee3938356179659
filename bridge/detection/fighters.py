"""Finding the fighters in a photo: each one's keypoints, mask and role (tori or uke).

The stage's entry point. Every source of people (sources/: the detector voting over crops, a
keypoint file, the artist's rectangles) gives candidates, and one consensus (consensus.py) picks
the fighters; each fighter is isolated by GrabCut and detected again on its own (candidates.py),
a leg both claim goes to the fighter whose gi it shows (shared_legs.py), and roles are read from
the keypoints (roles.py). The artist's rectangles, stroke files and keypoint files (hints.py)
override each guess they cover.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import BridgeError
from ..imaging.photo import Photo, processing_scale
from ..keypoints import CONFIDENT, MIN_CONFIDENT_KEYPOINTS, PersonTarget
from ..progress import Reporter
from ..result.format import ROLES
from .candidates import enough_keypoints, full_size, isolate_pair, redetected
from .consensus import choose
from .hints import check_rect, load_strokes
from .roles import guess_roles, named_by_strokes
from .shared_legs import drop_shared_legs
from .sources import Request


@dataclass
class Fighter:
    role: str
    target: PersonTarget  # keypoints in the photo's pixels
    mask: np.ndarray | None  # (H, W) bool in the photo's pixels; None when not isolated


@dataclass
class FighterHints:
    """What the artist says about one fighter (all optional)."""

    rect: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in the photo's pixels
    strokes: str | None = None  # stroke file (bridge.detection.hints)
    stroke_labels: np.ndarray | None = None  # the file read, checked against the photo


@dataclass
class KnownMask:
    """A fighter's mask from an earlier result and the keypoints it was cut for: a warm Fit
    reuses it instead of running GrabCut again while the keypoints stay near (STILL_NEAR)."""

    mask: np.ndarray  # (H, W) bool in the photo's pixels
    points: np.ndarray  # (25, 2) pixels
    confidence: np.ndarray  # (25,)


# How far (a fraction of the person's keypoint box diagonal) any keypoint may have moved for an
# earlier mask to still hold: a nudged keypoint keeps the mask, a limb moved to another place
# (a detection corrected) cuts a new one.
STILL_NEAR = 0.05


def _still_holds(known: KnownMask | None, target: PersonTarget) -> bool:
    """Whether every keypoint the target is sure of lies near where the mask's keypoints had it
    (one the artist made sure of counts: it must not have moved far from the guess either)."""
    if known is None:
        return False
    sure = target.confidence >= CONFIDENT
    if sure.sum() < MIN_CONFIDENT_KEYPOINTS or not np.isfinite(known.points[sure]).all():
        return False
    points = target.points[sure]
    diagonal = float(np.linalg.norm(points.max(0) - points.min(0)))
    return float(np.linalg.norm(known.points[sure] - points, axis=1).max()) <= STILL_NEAR * diagonal


def _working_image(photo: Photo) -> tuple[np.ndarray, float]:
    """The photo at the detector's working size, and the scale from the photo to it."""
    scale = processing_scale(photo)
    if scale >= 1.0:
        return photo.rgb, 1.0
    size = (round(photo.width * scale), round(photo.height * scale))
    return cv2.resize(photo.rgb, size, interpolation=cv2.INTER_AREA), scale


def _working_mask(mask: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    if mask.shape == rgb.shape[:2]:
        return mask
    size = (rgb.shape[1], rgb.shape[0])
    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)


def find_fighters(photo: Photo, count: int, keypoints_file=None, hints: dict[str, FighterHints] | None = None,
                  reporter=None, known_masks: dict[str, KnownMask] | None = None) -> tuple[list[Fighter], list[str]]:
    """The fighters in `photo` (one or two), their roles, keypoints and masks, and warnings.
    `known_masks` (role -> KnownMask, from the result a warm Fit starts from) are kept where the
    role's keypoints barely moved."""
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
    chosen, roles, more = choose(Request(photo, rgb, scale, count, hints, keypoints_file, reporter))
    targets = [candidate.target() for candidate in chosen]
    given = any(candidate.given for candidate in chosen)  # keypoints given are never re-detected
    warnings += more
    for target in targets:
        if not enough_keypoints(target.confidence) and given:
            usable = int((target.confidence >= CONFIDENT).sum())
            raise BridgeError("keypoints_too_few", f"A person in the keypoint file {keypoints_file} has only {usable} "
                              f"usable keypoints (confidence at least {CONFIDENT:g}, finite coordinates); a body needs "
                              f"{MIN_CONFIDENT_KEYPOINTS}.", "Give the keypoints of the whole body in the file, or "
                              "leave --keypoints out to detect them in the photo.")
        if not enough_keypoints(target.confidence):
            raise BridgeError("no_person", f"Too few body keypoints were found in {photo.path} to fit a body.",
                              "Use a photo where the whole body is visible, or give keypoints with --keypoints.")
    if len(targets) == 1 and count == 1 and not hints:
        return [Fighter(roles[0], targets[0], None)], warnings
    if roles == [None, None] and any(h.stroke_labels is not None for h in hints.values()):
        roles = named_by_strokes(targets, hints)  # the strokes then steer their fighter's isolation
    ordered = [hints.get(role) for role in roles]
    known = [(known_masks or {}).get(role) for role in roles]
    known = [_working_mask(k.mask, rgb) if _still_holds(k, target) else None for k, target in zip(known, targets)]
    masks = isolate_pair(rgb, targets, ordered, photo, scale, known)
    if not given and len(targets) == 2 and not any(h and h.rect is not None for h in ordered):
        targets, masks = redetected(rgb, targets, masks, ordered, photo, scale)
    dropped = []
    if not given and len(targets) == 2:  # before roles: a stray leg misleads their cues
        targets, dropped = drop_shared_legs(rgb, targets, masks, scale)
    if roles == [None, None]:  # named after re-detection, whose keypoints are the better ones
        roles, clear = guess_roles(targets)
        if not clear:
            warnings.append("Which fighter is tori and which uke was guessed (the cues - lean, feet off the mat, "
                            "leaning back - named neither clearly); swap them in Blender or give --tori-rect / --uke-rect.")
    warnings += [f"{roles[person].capitalize()}'s {side} leg was detected on {roles[1 - person]}'s leg; "
                 f"{roles[person]} was fitted without it: pose that leg by hand." for person, side in dropped]
    fighters = [Fighter(role, target, full_size(mask, photo)) for role, target, mask in zip(roles, targets, masks)]
    return sorted(fighters, key=lambda f: ROLES.index(f.role)), warnings
