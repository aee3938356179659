"""Refinement's settings, apart from the renderer and torch: the CLI reads their defaults for
its flags without importing the refinement stack (a cold `reconstruct` without --refine never
needs it; docs/decisions.md, "Warm bridge")."""
from __future__ import annotations

from dataclasses import dataclass

from ..messages import REFINE_ITERATIONS


@dataclass
class RefineSettings:
    iterations: int = REFINE_ITERATIONS
    resolution: int = 256  # rendered pixels along the longer side of the view
    learning_rate: float = 0.02
    silhouette_weight: float = 1.0
    rgb_weight: float = 0.0
    keypoint_weight: float = 1.0
    prior_weight: float = 0.3
    # The keypoint term's robust scale, as a fraction of the view's longer side.
    keypoint_sigma: float = 0.05
    orientation: bool = True  # the body's global orientation and placement may move
    shape: bool = False
    raw_vertices: bool = False  # the paper's first experiment: move vertices, not the pose
    normal_weight: float = 0.5  # normal consistency, raw-vertex mode only
    preview_every: int = 10
