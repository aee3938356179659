"""Anny (NAVER, Apache-2.0 code, CC0 MakeHuman assets) as a BodyModel.

Anny's native frame is Z up, -Y forward, pelvis at the origin. Pose parameters are Anny's
'local-ref' deltas (rotations about world-aligned axes at rest), so a knee bends about +X and
the root's rotation is the body's orientation in camera coordinates.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from pathlib import Path

import numpy as np
import roma
import torch

from ..keypoints import mapping_matrix
from . import BodyOutput, Hinge

# Anny's frame to OpenCV camera axes for a person standing upright and facing the camera.
CAMERA_FROM_ANNY = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

FREE_BONES = [
    "spine05", "spine03", "spine01", "neck01", "head",
    "upperarm01.L", "upperarm01.R", "upperleg01.L", "upperleg01.R", "foot.L", "foot.R",
]
TORSO_BONES = ["spine05", "spine03", "spine01"]
# Bone whose rotation bends the joint, the child bone it swings, and which way the child moves
# when the joint flexes (Anny frame: -Y is forward).
_HINGES = [
    ("lowerarm01.L", "wrist.L", (0.0, -1.0, 0.0)),
    ("lowerarm01.R", "wrist.R", (0.0, -1.0, 0.0)),
    ("lowerleg01.L", "foot.L", (0.0, 1.0, 0.0)),
    ("lowerleg01.R", "foot.R", (0.0, 1.0, 0.0)),
]
MAX_FLEXION = 2.6  # radians, about 150 degrees


def anny_cache_dir() -> Path:
    """Anny's model cache lives with the environment, so build.py fills it once for everyone."""
    return Path(os.environ.get("ANNY_CACHE_DIR") or Path(sys.prefix) / "share" / "golden-score" / "anny-cache")


def _quiet_import_anny():
    """Import anny with warp's banner kept off stdout (stdout carries JSON events)."""
    with contextlib.redirect_stdout(io.StringIO()):
        import anny
        import anny.paths

        anny.paths.set_anny_cache_path(anny_cache_dir())
    return anny


class AnnyBody:
    model_id = "anny"

    def __init__(self, dtype: torch.dtype = torch.float32):
        anny = _quiet_import_anny()
        self.version = anny.__version__
        with contextlib.redirect_stdout(io.StringIO()):
            # Dense skinning: a little faster than warp's on the CPU, and silent.
            self.model = anny.Anny(skinning_method="lbs").to(dtype)
            regressor = anny.KeypointsRegressor.coco(self.model)
        self.dtype = dtype
        self.bone_names = list(self.model.bone_labels)
        self.bone_parents = [int(p) for p in self.model.bone_parents]
        self.shape_names = list(self.model.phenotype_labels)
        self.faces = self.model.get_triangular_faces().long()
        to_body25 = torch.as_tensor(mapping_matrix(regressor.labels), dtype=dtype)
        self.body25_regressor = to_body25 @ regressor.regression_weights.to(dtype)  # (25, V)
        self.free_bones = FREE_BONES
        self.torso_bones = TORSO_BONES
        self.hinges = self._hinges()

    @classmethod
    @functools.lru_cache(maxsize=1)
    def shared(cls) -> "AnnyBody":
        """One model per process: building it costs a second, the cache a minute once."""
        return cls()

    def bone_index(self, name: str) -> int:
        return self.bone_names.index(name)

    def default_shape(self, batch: int = 1) -> torch.Tensor:
        return torch.full((batch, len(self.shape_names)), 0.5, dtype=self.dtype)

    def _hinges(self) -> list[Hinge]:
        heads = self.model(phenotype_kwargs=self.default_shape())["rest_bone_heads"][0]
        hinges = []
        for bone, child, motion in _HINGES:
            direction = heads[self.bone_index(child)] - heads[self.bone_index(bone)]
            axis = torch.linalg.cross(direction, torch.tensor(motion, dtype=self.dtype))
            axis = axis / axis.norm()
            hinges.append(Hinge(bone, tuple(float(a) for a in axis), MAX_FLEXION))
        return hinges

    def forward(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> BodyOutput:
        batch, joints = pose.shape[:2]
        delta = torch.zeros(batch, joints, 4, 4, dtype=self.dtype)
        delta[..., :3, :3] = roma.rotvec_to_rotmat(pose)
        delta[..., 3, 3] = 1.0
        out = self.model(pose_parameters=delta, phenotype_kwargs=shape)
        vertices = out["vertices"] + transl[:, None, :]
        bone_poses = out["bone_poses"].clone()
        bone_poses[..., :3, 3] += transl[:, None, :]
        keypoints = torch.einsum("kv,bvd->bkd", self.body25_regressor, vertices)
        return BodyOutput(vertices=vertices, keypoints=keypoints, bone_poses=bone_poses)

    def base_orientation(self) -> torch.Tensor:
        """Root rotation vector of a person upright and facing the camera."""
        return roma.rotmat_to_rotvec(CAMERA_FROM_ANNY.to(self.dtype))

    def rest_skeleton(self, shape: torch.Tensor) -> dict:
        rest = self.model(phenotype_kwargs=shape.reshape(1, -1))
        heads = rest["rest_bone_heads"][0].detach().numpy()
        rest_poses = rest["rest_bone_poses"][0].detach().numpy()
        tails = np.empty_like(heads)
        for j, head in enumerate(heads):
            children = [c for c, p in enumerate(self.bone_parents) if p == j]
            ends = heads[children] if children else np.empty((0, 3))
            ends = ends[np.linalg.norm(ends - head, axis=1) > 1e-3]
            if len(ends):
                tails[j] = ends.mean(axis=0)
            else:  # a leaf: continue along the parent's direction for a short bone
                parent = self.bone_parents[j]
                along = head - heads[parent] if parent >= 0 else np.array([0.0, 0.0, 1.0])
                tails[j] = head + 0.03 * along / max(np.linalg.norm(along), 1e-6)
        weights = np.zeros((self.model.vertex_bone_indices.shape[0], len(self.bone_names)), np.float32)
        rows = np.arange(weights.shape[0])[:, None]
        np.add.at(weights, (rows, self.model.vertex_bone_indices.numpy()),
                  self.model.vertex_bone_weights.float().numpy())
        return {"rest_heads": heads, "rest_tails": tails, "rest_poses": rest_poses, "skin_weights": weights}
