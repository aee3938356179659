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
import threading
from pathlib import Path

import numpy as np
import roma
import torch

from ..keypoints import mapping_matrix
from . import BodyOutput, Hinge
from .keypoint_skinning import KeypointSkinning
from .rotations import rotvec_to_rotmat, special_procrustes
from .rig import bone_tails, hinge

# Anny's frame to OpenCV camera axes for a person standing upright and facing the camera.
CAMERA_FROM_ANNY = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

FREE_BONES = [
    "spine05", "spine03", "spine01", "neck01", "head",
    "upperarm01.L", "upperarm01.R", "upperleg01.L", "upperleg01.R", "foot.L", "foot.R",
]
TORSO_BONES = ["spine05", "spine03", "spine01"]
# Body parts a selective refinement may move on their own (both sides).
_SIDES = (".L", ".R")
PARTS = {
    "legs": [b + s for b in ("upperleg01", "upperleg02", "lowerleg01", "lowerleg02", "foot") for s in _SIDES],
    "arms": [b + s for b in ("clavicle", "shoulder01", "upperarm01", "upperarm02", "lowerarm01", "lowerarm02",
                             "wrist") for s in _SIDES],
    "torso": ["spine05", "spine04", "spine03", "spine02", "spine01"],
    "head": ["neck01", "neck02", "neck03", "head"],
}
# Bone whose rotation bends the joint, the child bone it swings, and which way the child moves
# when the joint flexes (Anny frame: -Y is forward).
_HINGES = [
    ("lowerarm01.L", "wrist.L", (0.0, -1.0, 0.0)),
    ("lowerarm01.R", "wrist.R", (0.0, -1.0, 0.0)),
    ("lowerleg01.L", "foot.L", (0.0, 1.0, 0.0)),
    ("lowerleg01.R", "foot.R", (0.0, 1.0, 0.0)),
]


def anny_cache_dir() -> Path:
    """Anny's model cache lives with the environment, so build.py fills it once for everyone."""
    return Path(os.environ.get("ANNY_CACHE_DIR") or Path(sys.prefix) / "share" / "golden-score" / "anny-cache")


def _quiet():
    """stdout (which carries JSON events) kept free of what anny and warp print while loading.
    On the main thread only: sys.stdout is the whole process's, and a loading thread that swapped
    it (jobs.reconstruct loads the body beside detection) swallowed the events the job wrote
    meanwhile; off the main thread warp's own quiet setting does it. Warp is not imported for
    it: Anny with dense skinning never imports warp, and its import is slow (docs/decisions.md,
    "Warm bridge")."""
    warp = sys.modules.get("warp")
    if warp is not None:
        warp.config.quiet = True
    if threading.current_thread() is threading.main_thread():
        return contextlib.redirect_stdout(io.StringIO())
    return contextlib.nullcontext()


def _quiet_import_anny():
    """Import anny with warp's banner kept off stdout (stdout carries JSON events)."""
    with _quiet():
        import anny
        import anny.paths

        anny.paths.set_anny_cache_path(anny_cache_dir())
    return anny


class AnnyBody:
    model_id = "anny"
    learned_pose_prior = None  # the fit's L2 prior on the free bones

    def __init__(self, dtype: torch.dtype = torch.float32):
        anny = _quiet_import_anny()
        self.version = anny.__version__
        with _quiet():
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
        self.keypoint_skinning = KeypointSkinning(self.body25_regressor, self.model.dense_vertex_bone_weights,
                                                  self.model.template_vertices, self.model.blendshapes)
        self.free_bones = FREE_BONES
        self.torso_bones = TORSO_BONES
        self.parts = PARTS
        self.hinges = self._hinges()
        from .anny_kinematics import AnnyKinematics
        from .anny_phenotype import PhenotypeCoefficients  # imports anny, imported above

        self._coefficients = PhenotypeCoefficients(self.model)  # Anny's, in fewer operations
        self.kinematics = AnnyKinematics(self.model)  # Anny's chain, in fewer operations
        self._bottom_row = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=dtype)
        self._rest_memo = (None, None)  # posed_keypoints' last fixed shape and its rest model
        self._sample_memo = (None, None)  # forward_sample's last vertex subset and its rest data

    @classmethod
    @functools.lru_cache(maxsize=1)
    def shared(cls) -> "AnnyBody":
        """One model per process: building it costs a second, the cache a minute once."""
        return cls()

    def bone_index(self, name: str) -> int:
        return self.bone_names.index(name)

    def default_shape(self, batch: int = 1) -> torch.Tensor:
        return torch.full((batch, len(self.shape_names)), 0.5, dtype=self.dtype)

    def shape_from_unconstrained(self, free: torch.Tensor) -> torch.Tensor:
        """Phenotype values live in [0, 1]: the fit optimises their logits."""
        return torch.sigmoid(free)

    def unconstrained_shape(self, shape: torch.Tensor) -> torch.Tensor:
        return torch.logit(shape.clamp(1e-4, 1 - 1e-4))

    def shape_prior(self, shape: torch.Tensor) -> torch.Tensor:
        return ((shape - 0.5) ** 2).sum(-1)

    def describe(self) -> dict:
        return {"id": self.model_id, "version": self.version}

    def native_parameters(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> dict:
        """pose, shape and transl are already Anny's own parameters."""
        return {}

    def _hinges(self) -> list[Hinge]:
        heads = self.model(phenotype_kwargs=self.default_shape())["rest_bone_heads"][0]
        return [hinge(bone, heads[self.bone_index(bone)], heads[self.bone_index(child)], motion)
                for bone, child, motion in _HINGES]

    def forward(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> BodyOutput:
        out = self.model(pose_parameters=self._deltas(pose), phenotype_kwargs=shape)
        vertices = out["vertices"] + transl[:, None, :]
        bone_poses = out["bone_poses"].clone()
        bone_poses[..., :3, 3] += transl[:, None, :]
        return BodyOutput(vertices=vertices, keypoints=self.keypoints_of(vertices), bone_poses=bone_poses)

    def forward_sample(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor,
                       index: torch.Tensor | None) -> BodyOutput:
        """forward's output with the vertices `index` only (None: all of them): the same skinning
        (Anny's dense linear blend) of those vertices' rest positions, and the keypoints from the
        bones, through the fit's faster phenotype and chain (anny_phenotype, anny_kinematics)."""
        from anny.skinning.skinning import dense_linear_blend_skinning  # anny is imported with the model

        template, blendshapes, weights = self._sample_rest(index)
        coeffs, rest_bone_poses = self._rest(shape)
        (rotation, translation), posed = self.kinematics.transforms(rotvec_to_rotmat(pose), rest_bone_poses)
        rest = template + torch.einsum("bc,cvd->bvd", coeffs, blendshapes)
        transforms = torch.cat([rotation, translation[..., None]], -1)  # (B, J, 3, 4): skinning reads these rows
        vertices = dense_linear_blend_skinning(rest, weights, transforms) + transl[:, None, :]
        bone_poses = torch.cat([torch.cat([posed[0], (posed[1] + transl[:, None, :])[..., None]], -1),
                                self._bottom_row.expand(*posed[0].shape[:2], 1, 4)], -2)
        return BodyOutput(vertices=vertices,
                          keypoints=self.keypoint_skinning.keypoints(coeffs, (rotation, translation), transl),
                          bone_poses=bone_poses)

    def _sample_rest(self, index: torch.Tensor | None):
        """The template, blendshapes and skin weights of the vertices `index` (the last subset is
        kept; None: every vertex)."""
        if index is None:
            model = self.model
            return model.template_vertices, model.blendshapes, model.dense_vertex_bone_weights
        key = index.numpy().tobytes()
        if self._sample_memo[0] != key:
            model = self.model
            self._sample_memo = (key, (model.template_vertices[index], model.blendshapes.index_select(1, index),
                                       model.dense_vertex_bone_weights[index]))
        return self._sample_memo[1]

    def posed_keypoints(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> torch.Tensor:
        """forward's keypoints, from the bones alone (bridge.body.keypoint_skinning): the same
        points to float precision, 2-3x faster than skinning the mesh. It runs the steps of Anny's
        own forward up to skinning, its phenotype and its chain in fewer operations
        (anny_phenotype, anny_kinematics; pinned anny version: the test on it fails if they change)."""
        coeffs, rest_bone_poses = self._rest(shape)
        transforms, _ = self.kinematics.transforms(rotvec_to_rotmat(pose), rest_bone_poses)
        return self.keypoint_skinning.keypoints(coeffs, transforms, transl)

    def rigid_keypoints(self, shape: torch.Tensor, pose: torch.Tensor):
        """posed_keypoints as a function of the root's rotation and the translation alone, the
        other bones and the shape held as given: f(root (B, 3), transl (B, 3)) -> (B, 25, 3).
        Anny's root bone sits at the origin and its 'local-ref' rotation turns the whole posed
        body about it, so the keypoints are that rotation applied to the keypoints with the root
        unturned (equal to float precision, tested): a fit stage that moves only the root and the
        translation runs a dozen operations a step instead of the kinematic chain."""
        with torch.no_grad():
            unturned = pose.detach().clone()
            unturned[:, 0] = 0.0
            base = self.posed_keypoints(shape.detach(), unturned, torch.zeros(len(pose), 3, dtype=self.dtype))
        shares = self.keypoint_skinning.row_sums[:, None]
        return lambda root, transl: (base @ rotvec_to_rotmat(root).transpose(-1, -2)
                                     + shares * transl[:, None, :])

    def _rest(self, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The blendshape coefficients and rest bone frames of `shape`. A shape the fit does not
        move (no gradient: a stage that fits only the pose) is computed once, not every step."""
        key = None if shape.requires_grad else (tuple(shape.shape), shape.detach().numpy().tobytes())
        if key is not None and self._rest_memo[0] == key:
            return self._rest_memo[1]
        coeffs = self._coefficients(shape)
        rest = (coeffs, self._rest_bone_poses(coeffs))
        if key is not None:
            self._rest_memo = (key, rest)
        return rest

    def _rest_bone_poses(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Anny's rest bone frames for blendshape coefficients: its get_rest_model ("cached" bone
        orientation) without the rest vertices, which the keypoints do not need
        (docs/decisions.md, "Warm bridge")."""
        from anny.skinning.skinning import apply_linear_blendshape  # anny is imported with the model

        model = self.model
        if model.bone_orientation != "cached":
            return model.get_rest_model(coeffs)["rest_bone_poses"]
        heads = apply_linear_blendshape(model.template_bone_heads, model.bone_heads_blendshapes, coeffs)
        cross = model.bone_template_orientation_matrices[None] + torch.einsum(
            "ba,akij->bkij", coeffs, model.bone_orientation_blendshapes)
        orientation = special_procrustes(cross)  # roma's, in fewer operations
        if model.rest_orientation_refiner is not None:
            orientation = model.rest_orientation_refiner(orientation, heads)
        poses = roma.Rigid(linear=orientation, translation=heads).to_homogeneous()
        if model.root_identity_orientation:
            poses[:, 0, :3, :3] = torch.eye(3, dtype=poses.dtype)
        return poses

    def _deltas(self, pose: torch.Tensor) -> torch.Tensor:
        """Anny's pose parameters: a homogeneous rotation per bone."""
        delta = torch.zeros(*pose.shape[:2], 4, 4, dtype=self.dtype)
        delta[..., :3, :3] = roma.rotvec_to_rotmat(pose)
        delta[..., 3, 3] = 1.0
        return delta

    def keypoints_of(self, vertices: torch.Tensor) -> torch.Tensor:
        """BODY_25 keypoints (B, 25, 3) of posed vertices (B, V, 3)."""
        return torch.einsum("kv,bvd->bkd", self.body25_regressor, vertices)

    def pose_from_bone_poses(self, shape: torch.Tensor, bone_poses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pose (J, 3) and translation (3,) that give these posed bone frames (J, 4, 4, camera
        coordinates): how a pose the artist set in Blender comes back. Bone translations other
        than the root's are ignored (Anny's bones only rotate)."""
        bone_poses = torch.as_tensor(bone_poses, dtype=self.dtype)
        # With zero pose translation, Anny keeps the root bone's head at the origin.
        transl = bone_poses[0, :3, 3].clone()
        local = bone_poses.clone()
        local[:, :3, 3] -= transl
        rest = self.model(phenotype_kwargs=shape.reshape(1, -1))
        deltas = self.model.get_pose_parameterization(
            {"rest_bone_poses": rest["rest_bone_poses"], "bone_poses": local[None]}, "local-ref")
        return roma.rotmat_to_rotvec(deltas[0, :, :3, :3]), transl

    def base_orientation(self) -> torch.Tensor:
        """Root rotation vector of a person upright and facing the camera."""
        return roma.rotmat_to_rotvec(CAMERA_FROM_ANNY.to(self.dtype))

    def rest_skeleton(self, shape: torch.Tensor) -> dict:
        rest = self.model(phenotype_kwargs=shape.reshape(1, -1))
        heads = rest["rest_bone_heads"][0].detach().numpy()
        rest_poses = rest["rest_bone_poses"][0].detach().numpy()
        tails = bone_tails(heads, self.bone_parents)
        weights = np.zeros((self.model.vertex_bone_indices.shape[0], len(self.bone_names)), np.float32)
        rows = np.arange(weights.shape[0])[:, None]
        np.add.at(weights, (rows, self.model.vertex_bone_indices.numpy()),
                  self.model.vertex_bone_weights.float().numpy())
        return {"rest_heads": heads, "rest_tails": tails, "rest_poses": rest_poses, "skin_weights": weights}
