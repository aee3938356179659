"""Skeleton pieces every body model derives the same way from its rest joints: one-way hinges
for the fit and bone tails for the Blender armature."""
from __future__ import annotations

import numpy as np
import torch

from . import Hinge

MAX_FLEXION = 2.6  # radians, about 150 degrees


def hinge(bone: str, head: torch.Tensor, child_head: torch.Tensor, motion, max_angle: float = MAX_FLEXION) -> Hinge:
    """The hinge at `bone` whose positive angle swings its child (from `head` towards
    `child_head`) in the direction `motion`: the axis is direction x motion, in the rest frame
    the body's pose rotations are expressed in."""
    direction = child_head - head
    axis = torch.linalg.cross(direction, torch.tensor(motion, dtype=direction.dtype))
    axis = axis / axis.norm()
    return Hinge(bone, tuple(float(a) for a in axis), max_angle)


def bone_tails(heads: np.ndarray, parents: list[int]) -> np.ndarray:
    """Where each bone ends: the mean of its children's heads, or for a leaf a short bone
    continuing its parent's direction (Blender needs a tail apart from the head)."""
    tails = np.empty_like(heads)
    for j, head in enumerate(heads):
        children = [c for c, p in enumerate(parents) if p == j]
        ends = heads[children] if children else np.empty((0, 3))
        ends = ends[np.linalg.norm(ends - head, axis=1) > 1e-3]
        if len(ends):
            tails[j] = ends.mean(axis=0)
        else:
            parent = parents[j]
            along = head - heads[parent] if parent >= 0 else np.array([0.0, 0.0, 1.0])
            tails[j] = head + 0.03 * along / max(np.linalg.norm(along), 1e-6)
    return tails
