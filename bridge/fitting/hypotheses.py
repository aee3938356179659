"""Depth hypotheses: what a body's 2D keypoints leave open, enumerated and ranked (issue 19).

Each limb segment seen in one photo has two depths consistent with its 2D: its end joint lies
on the camera's ray through its pixel at the segment's length from the parent joint, nearer
than the parent or further (the segment mirrored in depth); a few steps of the keypoint fit then
make it a body again (bone rotations, hinges that bend one way). Each arm and leg has
four choices (upper segment, lower segment, both, neither), 4^4 = 256 for a body. They are
ranked in two steps:

1. every combination by a cheap score of its skeleton: agreement of each limb's 3D direction
   with MediaPipe's world landmarks where the person has them (PersonTarget.points3d), a knee
   that would have to bend backwards, and hips and shoulders past their published ranges of
   motion (losses.joint_limit_excess); the score adds up limb by limb;
2. the best few (HYPOTHESES of them, the fit itself always among them) start a short keypoint
   fit each, all in one batch, pulled towards their skeleton's limb directions first and then
   left to the fit's own objective (reprojection, the 3D cue, the pose prior); they are ranked
   by that objective plus the backwards knees and the joints past their range.

The best becomes the fit; the ranked list goes to the result (fighter_<role>.npz's
hypothesis_* keys) for the artist to step through.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from ..keypoints import INDEX, LIMBS
from .losses import joint_limit_excess

# Each limb: its root, middle and end joint, and the points that follow its end.
CHAINS = {
    "right arm": ("right_shoulder", "right_elbow", "right_wrist", ()),
    "left arm": ("left_shoulder", "left_elbow", "left_wrist", ()),
    "right leg": ("right_hip", "right_knee", "right_ankle", ("right_big_toe", "right_small_toe", "right_heel")),
    "left leg": ("left_hip", "left_knee", "left_ankle", ("left_big_toe", "left_small_toe", "left_heel")),
}
CHOICES = ((False, False), (True, False), (False, True), (True, True))  # (upper flipped, lower flipped)
CHOICE_NAMES = ("", "upper flipped", "lower flipped", "flipped")
HYPOTHESES = 8  # refitted and kept per person
REFIT_STEPS = (15, 15)  # pulled towards the hypothesis, then the fit's own objective
HYPOTHESIS_WEIGHT = 2.0  # the pull of the hypothesis' limb directions in the first steps
BACKWARD_KNEE_WEIGHT = 1.0
JOINT_LIMIT_WEIGHT = 1.0  # per radian past a hip's or shoulder's range of motion (losses.joint_limit_excess)
MIN_BEND = 0.2  # sine of the knee angle under which its direction says nothing
KNEE_TOLERANCE = 0.05  # true judo poses measure up to 0.02 here (keypoints, not bones)


@dataclass
class Hypothesis:
    """One ranked alternative of a person's body: pose (J, 3), translation (3,), its score
    (lower is better) and what differs from the fit, in words."""

    pose: torch.Tensor
    transl: torch.Tensor
    score: float
    label: str


def _along_ray(parent: np.ndarray, child: np.ndarray, length: float, sign: float) -> np.ndarray:
    """The point on the camera's ray through `child` at `length` from `parent`, on the near
    (sign < 0) or far (sign > 0) side of the parent's depth along that ray: the two depths of a
    segment its 2D allows. Where the ray passes further than `length` from the parent, its
    closest point."""
    ray = child / np.linalg.norm(child)
    middle = float(ray @ parent)
    half = np.sqrt(max(middle**2 - float(parent @ parent) + length**2, 0.0))
    return ray * (middle + np.copysign(half, sign))


def flipped_skeleton(keypoints: np.ndarray, choices: dict[str, tuple[bool, bool]]) -> np.ndarray:
    """BODY_25 camera-space keypoints (25, 3) with the named limbs' segments mirrored in depth
    (choices: limb -> (upper, lower) flipped): each moved joint stays on its camera ray (so in
    its pixel) at its segment's length from its parent, on the other side of the parent in
    depth; a segment not flipped keeps its side. The points below a moved joint move with it."""
    points = np.array(keypoints, dtype=np.float64)
    for limb, (upper, lower) in choices.items():
        if not (upper or lower):
            continue
        root, middle, end, extra = CHAINS[limb]
        a, b, c = (points[INDEX[n]].copy() for n in (root, middle, end))

        def side(parent, child):
            ray = child / np.linalg.norm(child)
            return 1.0 if (child - parent) @ ray >= 0 else -1.0

        first, second = side(a, b), side(b, c)
        new_b = _along_ray(a, b, np.linalg.norm(b - a), -first if upper else first)
        new_c = _along_ray(new_b, c, np.linalg.norm(c - b), -second if lower else second)
        points[[INDEX[n] for n in extra]] += new_c - c
        points[INDEX[middle]], points[INDEX[end]] = new_b, new_c
    return points


def backward_knees(keypoints: np.ndarray) -> np.ndarray:
    """How far each knee of skeletons (..., 25, 3) bends backwards (0 when it bends the way a
    knee can): the sine of the knee angle against the body's left-right axis, where the knee is
    bent at all. A knee flexes about the left-right axis so that the shin swings back."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    left = keypoints[..., INDEX["left_hip"], :] - keypoints[..., INDEX["right_hip"], :]
    left = left / np.linalg.norm(left, axis=-1, keepdims=True).clip(1e-9)
    total = np.zeros(keypoints.shape[:-2])
    for side in ("right", "left"):
        hip, knee, ankle = (keypoints[..., INDEX[f"{side}_{n}"], :] for n in ("hip", "knee", "ankle"))
        thigh, shin = knee - hip, ankle - knee
        normal = np.cross(thigh, shin) / (np.linalg.norm(thigh, axis=-1) * np.linalg.norm(shin, axis=-1)).clip(
            1e-9)[..., None]
        bend = (normal * left).sum(-1)  # > 0 for a knee bent the right way
        total += np.clip(MIN_BEND - bend, 0.0, None) * (np.linalg.norm(normal, axis=-1) > MIN_BEND)
    return np.clip(total - KNEE_TOLERANCE, 0.0, None)


def _segment_misalignment(keypoints: np.ndarray, guide: np.ndarray | None, weight: np.ndarray) -> dict[str, list]:
    """Per limb and per choice, the cue's misalignment (1 - cosine) of the limb's segments."""
    scores = {}
    for limb, (root, middle, end, _) in CHAINS.items():
        row = []
        for choice in CHOICES:
            skeleton = flipped_skeleton(keypoints, {limb: choice})
            cost = JOINT_LIMIT_WEIGHT * float(joint_limit_excess(torch.as_tensor(skeleton))[limb])
            if guide is not None:
                for a, b in ((root, middle), (middle, end)):
                    i, j = INDEX[a], INDEX[b]
                    d = skeleton[j] - skeleton[i]
                    g = guide[j] - guide[i]
                    cos = d @ g / max(np.linalg.norm(d) * np.linalg.norm(g), 1e-9)
                    cost += min(weight[i], weight[j]) * (1.0 - cos)
            row.append(cost)
        scores[limb] = row
    return scores


def candidate_choices(keypoints: np.ndarray, guide: np.ndarray | None, confidence: np.ndarray,
                      count: int = HYPOTHESES, cue_weight: float = 1.0) -> list[dict[str, tuple[bool, bool]]]:
    """The `count` most promising combinations of flipped segments for a fitted skeleton
    (25, 3): the fit's own first, then by the cue's misalignment (times `cue_weight`), joints
    past their range and backward knees."""
    weight = cue_weight * np.asarray(confidence, np.float64) ** 2
    per_limb = _segment_misalignment(keypoints, guide, weight)
    limbs = list(CHAINS)
    combos = []
    for picks in itertools.product(range(len(CHOICES)), repeat=len(limbs)):
        choice = {limb: CHOICES[p] for limb, p in zip(limbs, picks)}
        cue = sum(per_limb[limb][p] for limb, p in zip(limbs, picks))
        flips = sum(CHOICES[p][0] + CHOICES[p][1] for p in picks)
        combos.append((picks, choice, cue, flips))
    legs = {}  # the knees depend on the legs' choices only
    for picks, choice, _, _ in combos:
        key = picks[2:]
        if key not in legs:
            legs[key] = float(backward_knees(flipped_skeleton(keypoints, choice)))
    # Fewer flips first among equals: without a cue, the fit's own choice stays ahead.
    ranked = sorted(combos[1:], key=lambda c: (c[2] + BACKWARD_KNEE_WEIGHT * legs[c[0][2:]], c[3]))
    return [combos[0][1]] + [c[1] for c in ranked[:count - 1]]


def describe(choice: dict[str, tuple[bool, bool]]) -> str:
    parts = [f"{limb} {CHOICE_NAMES[CHOICES.index(c)]}" for limb, c in choice.items() if any(c)]
    return ", ".join(parts) or "as fitted"


def limb_direction_targets(skeletons: np.ndarray) -> torch.Tensor:
    """Unit directions (B, L, 3) of LIMBS in skeletons (B, 25, 3)."""
    s = torch.as_tensor(skeletons, dtype=torch.float32)
    a, b = (torch.tensor(i) for i in zip(*LIMBS))
    return torch.nn.functional.normalize(s[:, b] - s[:, a], dim=-1)
