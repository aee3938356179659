"""Body models behind one small interface, so fitting and the result contract never see which."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Protocol

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
    body25_regressor: torch.Tensor  # (25, V): BODY_25 keypoints as weighted sums of vertices
    parts: dict[str, list[str]]  # named groups of bones ("legs", "arms", ...) for selective refinement

    # A learned prior on whole poses (B, J, 3) -> (B,) that replaces the fit's L2 prior on the
    # free bones, or None (VPoser for SMPL-X when the user gives its checkpoint).
    learned_pose_prior: Callable[[torch.Tensor], torch.Tensor] | None

    def default_shape(self, batch: int = 1) -> torch.Tensor: ...

    def shape_from_unconstrained(self, free: torch.Tensor) -> torch.Tensor:
        """The shape for unconstrained optimiser values (zeros give default_shape()), so the fit
        never needs to know a body's shape bounds."""
        ...

    def unconstrained_shape(self, shape: torch.Tensor) -> torch.Tensor:
        """The inverse of shape_from_unconstrained: where an optimiser starts from a known shape."""
        ...

    def shape_prior(self, shape: torch.Tensor) -> torch.Tensor:
        """(B,) cost of leaving the average body, on one scale for every body model."""
        ...

    def base_orientation(self) -> torch.Tensor:
        """Root rotation vector of a person upright and facing the camera."""
        ...

    def bone_index(self, name: str) -> int: ...

    def describe(self) -> dict:
        """What scene.json records: id, version and the options that decide the body."""
        ...

    def native_parameters(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> dict:
        """Extra result arrays in the model's own conventions (for its own tools), if ours differ."""
        ...

    def forward(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> BodyOutput:
        """shape (B, S); pose (B, J, 3) rotation vectors (pose[:, 0] the orientation in camera
        coordinates); transl (B, 3) the root's position in camera coordinates."""
        ...

    def forward_sample(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor,
                       index: torch.Tensor | None) -> BodyOutput:
        """forward(...) with only the vertices `index` (B, n, 3) (None: all), as fast as the body
        allows: the joint stage of two fighters poses a thinned copy of each surface and the other
        body's nearest vertices to it, and every few steps both whole meshes (bridge.fitting.pair)."""
        ...

    def keypoints_of(self, vertices: torch.Tensor) -> torch.Tensor:
        """BODY_25 keypoints (B, 25, 3) of posed vertices (B, V, 3)."""
        ...

    def posed_keypoints(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> torch.Tensor:
        """forward(...).keypoints, as fast as the body allows: the fit's keypoint stages need
        nothing else."""
        ...

    def pose_from_bone_poses(self, shape: torch.Tensor, bone_poses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pose (J, 3) and translation (3,) giving posed bone frames (J, 4, 4): the inverse of
        forward's bone_poses, so a pose the artist set in Blender comes back."""
        ...

    def rest_skeleton(self, shape: torch.Tensor) -> dict:
        """Rest-pose armature for one body: heads, tails (J, 3) and skin weights (V, J)."""
        ...


def load_recorded_body(record: dict) -> BodyModel:
    """The body a result was made with, from scene.json's `body_model` (its describe())."""
    options = {key: record.get(key) for key in ("model_folder", "gender", "vposer")}
    return load_body_model(record["id"], **options)


_LOADING = threading.Lock()  # one load at a time: the warm bridge preloads while a job may ask


def load_body_model(name: str = "anny", **options) -> BodyModel:
    """The body model a user picked by name. Options left as None are unset; SMPL-X takes
    model_folder, gender and vposer (see bridge.body.smplx_body), Anny takes none. Safe from
    several threads: a second caller waits for the first's model instead of building another."""
    with _LOADING:
        return _load(name, **options)


def _load(name: str, **options) -> BodyModel:
    from ..errors import BridgeError

    options = {key: value for key, value in options.items() if value is not None}
    if name == "anny":
        if options:
            flags = ", ".join("--" + key.replace("_", "-") for key in options)
            raise BridgeError("bad_body_option", f"{flags} only apply to --body smplx.",
                              "Add --body smplx, or leave them out for Anny.")
        from .anny_body import AnnyBody

        return AnnyBody.shared()
    if name == "smplx":
        from .smplx_body import SmplxBody

        return SmplxBody.shared(**options)
    raise BridgeError(
        "unknown_body_model", f"There is no body model called '{name}'.", "Use --body anny or --body smplx."
    )
