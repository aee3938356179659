"""One floor for both fighters (issue 19): judo happens on a mat. The photo alone leaves each
fighter's distance and size open together (a body twice as far and twice as large shows the
same); both standing on one floor decides the pair's relative depth and scale.

The floor is a plane in camera coordinates: points x with up . x + offset = 0, `up` the world's
up seen from the camera, tilted by the camera's pitch (a level camera, LEVEL_WORLD_FROM_CAMERA,
has up = (0, -1, 0)), and `offset` the camera's height above the mat. It is estimated from the
fitted feet: the lowest foot point of all fighters lies on it; a fighter whose feet are within
CONTACT_M of it stands (a thrown uke in the air does not), and each foot of a standing fighter
within CONTACT_M touches. In the joint stage, the touching feet are held on the floor, no point
of either body goes below it, and the pitch stays near level (a weak prior: the photo alone
says little about it), all while the keypoints hold each body in the photo.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..keypoints import INDEX

FEET = {
    "right": [INDEX[n] for n in ("right_ankle", "right_heel", "right_big_toe", "right_small_toe")],
    "left": [INDEX[n] for n in ("left_ankle", "left_heel", "left_big_toe", "left_small_toe")],
}
ALL_FEET = FEET["right"] + FEET["left"]
CONTACT_M = 0.15  # a foot this close to the floor stands on it
# Anny's ankle keypoint stands this high above the sole (the lowest foot keypoint on a flat foot).
KEYPOINT_ABOVE_SOLE_M = 0.04
PITCH_PRIOR = 0.01  # weight of (pitch in radians)^2
CONTACT_WEIGHT = 50.0
BELOW_WEIGHT = 200.0


def up_vector(pitch: torch.Tensor | float) -> torch.Tensor:
    """The world's up in camera coordinates for a camera pitched down by `pitch` (radians)."""
    pitch = torch.as_tensor(pitch, dtype=torch.float32)
    return torch.stack([torch.zeros_like(pitch), -torch.cos(pitch), -torch.sin(pitch)])


@dataclass
class FloorEstimate:
    pitch: float  # radians, the camera looking down is positive
    height: float  # the camera's height above the floor, metres
    touching: list[list[list[int]]]  # per person, the keypoint indices of each foot on the floor


def estimate_floor(keypoints: np.ndarray) -> FloorEstimate:
    """The floor under fitted people's keypoints (P, 25, 3) for a level camera: the lowest foot
    point of anyone on it, and who touches it with which foot."""
    up = up_vector(0.0).numpy()
    heights = keypoints @ up  # up . x; the floor is at -height
    lowest = min(float(heights[p, ALL_FEET].min()) for p in range(len(keypoints)))
    offset = -lowest + KEYPOINT_ABOVE_SOLE_M
    touching = []
    for person in range(len(keypoints)):
        feet = [FEET[side] for side in FEET
                if float(heights[person, FEET[side]].min()) + offset < CONTACT_M + KEYPOINT_ABOVE_SOLE_M]
        touching.append(feet)
    return FloorEstimate(0.0, offset, touching)


class FloorTerm:
    """The joint stage's floor: its pitch and height optimised with the bodies."""

    def __init__(self, estimate: FloorEstimate):
        self.pitch = torch.tensor(float(estimate.pitch), requires_grad=True)
        self.height = torch.tensor(float(estimate.height), requires_grad=True)
        self.touching = estimate.touching

    def parameters(self) -> list[torch.Tensor]:
        return [self.pitch, self.height]

    def loss(self, keypoints: torch.Tensor) -> torch.Tensor:
        """keypoints (P, 25, 3): touching feet's lowest point on the floor, nothing below it."""
        up = up_vector(self.pitch)
        above = keypoints @ up + self.height - KEYPOINT_ABOVE_SOLE_M  # per keypoint, metres above the mat
        total = PITCH_PRIOR * self.pitch**2
        total = total + BELOW_WEIGHT * (torch.relu(-above) ** 2).sum()
        for person, feet in enumerate(self.touching):
            for foot in feet:
                total = total + CONTACT_WEIGHT * above[person, foot].min() ** 2
        return total

    def describe(self) -> dict:
        return {"pitch_degrees": round(math.degrees(float(self.pitch.detach())), 2),
                "camera_height_m": round(float(self.height.detach()), 3),
                "touching": [len(f) for f in self.touching]}
