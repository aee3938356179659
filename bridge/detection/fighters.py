"""Finding the fighters in a photo: each one's keypoints, mask and role (tori or uke).

The stage's entry point. People come from the detector (candidates.py: halves of the photo,
quarter turns, re-detection on isolated images) or a keypoint file (keypoint_file.py); each
fighter is isolated by GrabCut (isolation.py), a leg both claim goes to the fighter whose gi it
shows (shared_legs.py), and roles are read from the keypoints (roles.py). The artist's
rectangles, stroke files and keypoint files (hints.py) override each guess they cover.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import BridgeError
from ..imaging.photo import Photo, processing_scale
from ..keypoints import CONFIDENT, MIN_CONFIDENT_KEYPOINTS, PersonTarget, same_person
from ..progress import Reporter
from ..result.format import ROLES
from .blazepose import FILE_CUE_WEIGHT, world_landmarks
from .candidates import (VIEWS, candidate_people, credible_person, enough_keypoints, fighters_in_contact, isolate_pair,
                         redetected, scaled_target, working_strokes)
from .hints import check_rect, load_strokes
from .isolation import grabcut_mask
from .keypoint_file import assign_people, check_near_photo, load_keypoint_file, pick_two
from .mediapipe_pose import detect_fighter
from .roles import guess_roles, named_by_strokes
from .shared_legs import drop_shared_legs



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
    if known is None:
        return False
    both = (known.confidence >= CONFIDENT) & (target.confidence >= CONFIDENT)
    if both.sum() < MIN_CONFIDENT_KEYPOINTS or not np.array_equal(known.confidence >= CONFIDENT,
                                                                  target.confidence >= CONFIDENT):
        return False
    points = target.points[both]
    diagonal = float(np.linalg.norm(points.max(0) - points.min(0)))
    return float(np.linalg.norm(known.points[both] - points, axis=1).max()) <= STILL_NEAR * diagonal


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
    for index in picked:
        check_near_photo(path, *people[index], photo.width, photo.height)
    # The file gives no 3D: MediaPipe's landmark model on a crop around each person's keypoints
    # gives its world landmarks, the depth cue the detector's people carry (issue 19).
    targets = [PersonTarget(*people[index], world_landmarks(photo.rgb, *people[index]), FILE_CUE_WEIGHT)
               for index in picked]
    return targets, roles or list(ROLES[:len(targets)]), warnings


def _detected(photo: Photo, rgb, scale: float, count: int, hints: dict[str, FighterHints], reporter):
    """People found by the detector: in the artist's rectangles where given, else the people the
    detector finds most often across the photo and its halves (candidate_people)."""
    warnings = []
    ruled = [role for role in ROLES[:count] if hints.get(role) and hints[role].rect is not None]
    found, roles, doubtful = [], [], []
    for step, role in enumerate(ruled):
        reporter.progress("detect", step, count)
        rect = np.asarray(hints[role].rect, float) * scale
        mask = grabcut_mask(rgb, rect=rect, strokes=working_strokes(hints[role], photo, scale))
        detection = detect_fighter(rgb, mask)
        if detection is None or not enough_keypoints(detection.confidence):
            raise BridgeError("no_person", f"No person was found inside the rectangle for {role}.",
                              "Draw the rectangle around the whole fighter, or give keypoints with --keypoints.")
        found.append(scaled_target(detection, scale))
        roles.append(role)
    if len(found) < count:
        reporter.progress("detect", len(found), count)
        people = []  # distinct credible people, most prominent first
        for detection in candidate_people(rgb):
            if not credible_person(detection):
                doubtful.append(detection)
            elif not any(same_person(detection.points, detection.confidence, t.points * scale, t.confidence)
                         for t in found) and \
                    not any(same_person(detection.points, detection.confidence, p.points, p.confidence) for p in people):
                people.append(detection)
        if not found and count == 2:  # a referee or spectator is not a fighter: the fighters touch
            people = fighters_in_contact(people)
        for detection in people[:count - len(found)]:
            found.append(scaled_target(detection, scale))
            roles.append(None)
    if not found and doubtful:
        guess = doubtful[0]
        raise BridgeError("no_confident_person", f"No person was found with confidence in {photo.path}: the detector's "
                          f"only guess came back in {guess.views} of {VIEWS} views with a mean keypoint confidence of "
                          f"{float(guess.confidence.mean()):.2f}, as it does in noise.",
                          "Use a photo where the fighters' bodies are visible, or give keypoints with --keypoints.")
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
    if keypoints_file is not None:
        targets, roles, more = _from_file(keypoints_file, photo, count, hints)
    else:
        targets, roles, more = _detected(photo, rgb, scale, count, hints, reporter)
    warnings += more
    for target in targets:
        if not enough_keypoints(target.confidence) and keypoints_file is not None:
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
    if keypoints_file is None and len(targets) == 2 and not any(h and h.rect is not None for h in ordered):
        targets, masks = redetected(rgb, targets, masks, ordered, photo, scale)
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
