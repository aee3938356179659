"""Body models behind one small interface, so fitting and the result contract never see which."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass
class BodyOutput:
    """A posed batch, in camera coordinates (metres)."""

    vertices: torch.Tensor  # (B, V, 3)
    keypoints: torch.Tensor  # (B, 25, 3) BODY_25
    bone_poses: torch.Tensor  # (B, J, 4, 4) posed bone frames


@dataclass(frozen=True)
class Hinge:
    """A joint that bends one way only (knee, elbow): rotation `angle * axis` with angle >= 0."""

    bone: str
    axis: tuple[float, float, float]
    max_angle: float


class BodyModel(Protocol):
    """What fitting, refinement and the result writer need from a parametric body."""

    model_id: str
    version: str
    bone_names: list[str]
    bone_parents: list[int]
    shape_names: list[str]
    faces: torch.Tensor  # (F, 3) triangles
    free_bones: list[str]  # bones the keypoint fit rotates freely (besides the root)
    hinges: list[Hinge]
    torso_bones: list[str]

    def default_shape(self, batch: int = 1) -> torch.Tensor: ...

    def forward(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> BodyOutput:
        """shape (B, S); pose (B, J, 3) rotation vectors (pose[:, 0] the orientation in camera
        coordinates); transl (B, 3) the root's position in camera coordinates."""
        ...

    def rest_skeleton(self, shape: torch.Tensor) -> dict:
        """Rest-pose armature for one body: heads, tails (J, 3) and skin weights (V, J)."""
        ...


def load_body_model(name: str = "anny", **options) -> BodyModel:
    """The body model a user picked by name."""
    if name == "anny":
        from .anny_body import AnnyBody

        return AnnyBody.shared()
    from ..errors import BridgeError

    raise BridgeError(
        "unknown_body_model", f"There is no body model called '{name}'.", "Use --body anny."
    )
