"""A leg that both fighters' detections claim belongs to one of them: the other loses it.

Why: where two fighters' legs tangle (harai-goshi, ouchi-gari, uchi-mata), the detector run on
one isolated fighter often puts that fighter's hidden leg on the other's visible one, knee,
ankle and foot within a few pixels of the other detection's. On the twelve judo scenes of the
benchmark this happened on four; each time one of the two was right (under 15 px) and the
other 40-185 px off. The fit then bends a body onto the other fighter's leg, and the roles
and depth order read from the keypoints go wrong with it. The photo tells whose leg it is: the
thigh and shin drawn from each claimant's hip show that claimant's colours (its gi) only if
the leg is its own. The loser's leg is left to the fit's prior; it is not guessed.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..imaging.colours import colour_vote, fighter_colour_models
from ..imaging.masks import skeleton_mask
from ..keypoints import CONFIDENT, INDEX, PersonTarget, keypoint_size

SIDES = ("right", "left")
LEG_POINTS = ("knee", "ankle", "heel", "big_toe", "small_toe")
# Two legs are one when the knee and at least two more of their points lie this near (a fraction
# of the smaller fighter's size). Feet side by side share an ankle or a heel, not a knee: on
# osoto-gari's kuzushi the two fighters' ankles are 5 px apart and both right.
SAME_POINT = 0.06
SAME_POINTS = 3
LINE_WIDTH = 0.03  # of the smaller fighter's size: the thigh and shin drawn for the colour vote
# The owner's leg must show its own colours and the loser's the owner's (votes of opposite sign),
# this far apart; else nothing is dropped (docs/decisions.md, "Shared legs").
DECIDES = 0.15


def _leg(side: str) -> list[int]:
    return [INDEX[f"{side}_{point}"] for point in LEG_POINTS]


def claimed_twice(a: PersonTarget, b: PersonTarget) -> list[tuple[str, str]]:
    """The (a's side, b's side) pairs of legs that are one leg in the image."""
    tolerance = SAME_POINT * min(keypoint_size(a.points, a.confidence), keypoint_size(b.points, b.confidence))
    return [(side_a, side_b) for side_a in SIDES for side_b in SIDES if _is_one_leg(a, side_a, b, side_b, tolerance)]


def _is_one_leg(a: PersonTarget, side_a: str, b: PersonTarget, side_b: str, tolerance: float) -> bool:
    leg_a, leg_b = _leg(side_a), _leg(side_b)
    both = (a.confidence[leg_a] >= CONFIDENT) & (b.confidence[leg_b] >= CONFIDENT)
    near = both & (np.linalg.norm(a.points[leg_a] - b.points[leg_b], axis=1) < tolerance)
    return bool(near[0]) and int(near.sum()) >= SAME_POINTS


def _leg_pixels(shape: tuple[int, int], target: PersonTarget, side: str, scale: float, width: int) -> np.ndarray:
    """The thigh and shin as lines from this fighter's hip, at the working scale."""
    chain = [INDEX[f"{side}_{joint}"] for joint in ("hip", "knee", "ankle")]
    only_chain = np.zeros_like(target.confidence)
    only_chain[chain] = target.confidence[chain]
    return skeleton_mask(shape, target.points * scale, only_chain, width)


def drop_shared_legs(rgb: np.ndarray, targets: list[PersonTarget], masks: list[np.ndarray],
                     scale: float) -> tuple[list[PersonTarget], list[tuple[int, str]]]:
    """Two fighters' targets (photo pixels) with each leg both claim kept by the fighter whose
    colours it shows, and taken from the other (confidence 0); and which (fighter, side) lost one.
    `rgb` and `masks` are at the working scale `scale`."""
    models = fighter_colour_models(rgb, masks)
    if models is None:
        return targets, []
    targets = list(targets)
    width = max(3, round(LINE_WIDTH * min(keypoint_size(t.points, t.confidence) for t in targets) * scale))
    dropped = []
    for side_a in SIDES:
        for side_b in SIDES:
            sides = (side_a, side_b)
            if sides not in claimed_twice(*targets):  # anew: a leg dropped below is claimed once
                continue
            # Each claimant's own-colour vote on its leg: +1 all its colours, -1 all the other's.
            votes = [sign * colour_vote(rgb, models, _leg_pixels(rgb.shape[:2], t, side, scale, width))
                     for t, side, sign in zip(targets, sides, (1, -1))]
            if min(votes) >= 0 or max(votes) <= 0 or abs(votes[0] - votes[1]) < DECIDES:
                continue
            loser = int(np.argmin(votes))
            confidence = targets[loser].confidence.copy()
            confidence[_leg(sides[loser])] = 0.0
            targets[loser] = replace(targets[loser], confidence=confidence)
            dropped.append((loser, sides[loser]))
    return targets, dropped
