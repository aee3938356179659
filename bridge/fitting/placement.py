"""Placing a fighter fitted in a photo of its own beside the other, touching.

Why this way: with one photo per fighter (as the original method's best result had) nothing
in either photo says where the two stood relative to each other. Both photos are taken as
from the same viewpoint, so heights and facing stay as fitted; the second fighter is brought
to the first's depth and slid sideways until the two bodies just touch without passing
through each other. The artist moves them from there in Blender.
"""
from __future__ import annotations

import numpy as np
import torch

from .pair import penetration_loss

CONTACT_GAP_M = 0.005  # bisection stops when the bodies are this close and not overlapping


def _overlapping(vertices_a: np.ndarray, vertices_b: np.ndarray, faces: torch.Tensor) -> bool:
    a, b = torch.as_tensor(vertices_a, dtype=torch.float32), torch.as_tensor(vertices_b, dtype=torch.float32)
    return float(penetration_loss(a, b, faces) + penetration_loss(b, a, faces)) > 0.0


def place_in_contact(vertices_a: np.ndarray, vertices_b: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """The shift (3,), camera coordinates, that puts body b at body a's depth and beside it
    (on the side b was on in its own photo), touching a."""
    faces_t = torch.as_tensor(faces)
    centre_a, centre_b = vertices_a.mean(0), vertices_b.mean(0)
    side = 1.0 if centre_b[0] >= centre_a[0] else -1.0
    base = np.array([centre_a[0] - centre_b[0], 0.0, centre_a[2] - centre_b[2]])  # same spot, same depth
    near, far = 0.0, 3.0  # metres sideways: overlapping at 0, apart at 3
    from scipy.spatial import cKDTree  # scipy.spatial only where used

    tree_a = cKDTree(vertices_a)
    for _ in range(30):
        middle = 0.5 * (near + far)
        moved = vertices_b + base + np.array([side * middle, 0.0, 0.0])
        if _overlapping(vertices_a, moved, faces_t):
            near = middle
        else:
            far = middle
            if tree_a.query(moved)[0].min() < CONTACT_GAP_M:
                break
    return base + np.array([side * far, 0.0, 0.0])
