"""SMPL-X as a BodyModel, built by the smplx package from the user's own model file.

SMPL-X's native frame is Y up, the body facing +Z, its left towards +X; its pose rotations are
local to each joint's parent and its rest frames are unrotated, so a hinge axis in the rest
frame is the axis of the joint's own rotation. Our `transl` is the pelvis's position (the
interface's root position), not smplx's `transl` (an offset of the whole mesh):
native_parameters gives the smplx one too.

Hands are flat at pose zero (flat_hand_mean) and use full joint rotations (no PCA), so a
result's pose is the whole SMPL-X pose with nothing implied; expression stays neutral.
"""
from __future__ import annotations

import contextlib
import functools
import io
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import roma
import torch

from ..errors import BridgeError
from ..keypoints import mapping_matrix
from . import BodyOutput
from .rig import bone_tails, hinge
from .smplx_files import SMPLX_JOINTS, check_gender, find_model_file, read_model_arrays, write_plain_copy
from .vposer import load_vposer

NUM_BETAS = 10
NUM_EXPRESSION = 10
# SMPL-X's frame to OpenCV camera axes for a person upright and facing the camera.
CAMERA_FROM_SMPLX = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
FREE_BONES = [
    "spine1", "spine2", "spine3", "neck", "head",
    "left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_ankle", "right_ankle",
]
TORSO_BONES = ["spine1", "spine2", "spine3"]
PARTS = {
    "legs": [f"{side}_{b}" for b in ("hip", "knee", "ankle", "foot") for side in ("left", "right")],
    "arms": [f"{side}_{b}" for b in ("collar", "shoulder", "elbow", "wrist") for side in ("left", "right")],
    "torso": TORSO_BONES,
    "head": ["neck", "head", "jaw", "left_eye_smplhf", "right_eye_smplhf"],
}
# Joint whose rotation bends, the joint it swings, and which way that one moves when the joint
# flexes (SMPL-X frame: +Z is forward).
_HINGES = [
    ("left_elbow", "left_wrist", (0.0, 0.0, 1.0)),
    ("right_elbow", "right_wrist", (0.0, 0.0, 1.0)),
    ("left_knee", "left_ankle", (0.0, 0.0, -1.0)),
    ("right_knee", "right_ankle", (0.0, 0.0, -1.0)),
]
# BODY_25 points SMPL-X has no joint for, picked as single vertices (smplx's names for them).
_VERTEX_KEYPOINTS = {
    "nose": "nose", "right_eye": "reye", "left_eye": "leye", "right_ear": "rear", "left_ear": "lear",
    "left_big_toe": "LBigToe", "left_small_toe": "LSmallToe", "left_heel": "LHeel",
    "right_big_toe": "RBigToe", "right_small_toe": "RSmallToe", "right_heel": "RHeel",
}


def _import_smplx():
    try:
        import smplx
        import smplx.lbs
        import smplx.joint_names
        import smplx.vertex_ids
    except ImportError:
        raise BridgeError("smplx_not_installed", "The SMPL-X body needs the smplx package, which is not installed.",
                          "Install it with: python build.py env --smplx (its licence allows non-commercial "
                          "research only, so it is not installed by default; see the README).") from None
    return smplx


class SmplxBody:
    model_id = "smplx"

    def __init__(self, model_folder, gender: str = "neutral", vposer=None, dtype: torch.dtype = torch.float32):
        check_gender(gender)
        path = find_model_file(model_folder, gender)
        # Every input is checked before the slow parts (reading a 100+ MB model, a fit).
        self.learned_pose_prior = load_vposer(vposer) if vposer is not None else None
        smplx = _import_smplx()
        arrays = read_model_arrays(path)
        with tempfile.TemporaryDirectory(prefix="goldenscore-smplx-") as folder, \
                contextlib.redirect_stdout(io.StringIO()):  # smplx prints warnings; stdout carries events
            self.model = smplx.SMPLX(
                str(write_plain_copy(arrays, folder, gender)), gender=gender, ext="npz",
                num_betas=NUM_BETAS, num_expression_coeffs=NUM_EXPRESSION, use_pca=False,
                flat_hand_mean=True, create_transl=False, dtype=dtype,
            )
        self.model.requires_grad_(False)
        self._lbs = smplx.lbs
        self.dtype = dtype
        self.gender = gender
        self.model_path = path
        self.model_folder = Path(model_folder).expanduser().resolve()
        self.version = metadata.version("smplx")
        self.bone_names = list(smplx.joint_names.JOINT_NAMES[:SMPLX_JOINTS])
        self.bone_parents = [int(p) for p in self.model.parents]
        self.shape_names = [f"beta{i}" for i in range(self.model.num_betas)]
        self.faces = self.model.faces_tensor.long()
        self.body25_regressor = self._body25_regressor(smplx.vertex_ids.vertex_ids["smplx"])
        self.free_bones = FREE_BONES
        self.torso_bones = TORSO_BONES
        self.parts = PARTS
        heads = self._rest_joints(self.default_shape())[0]
        self.hinges = [hinge(b, heads[self.bone_index(b)], heads[self.bone_index(c)], m) for b, c, m in _HINGES]

    @classmethod
    @functools.lru_cache(maxsize=2)
    def _cached(cls, model_folder: str, gender: str, vposer: str | None) -> "SmplxBody":
        return cls(model_folder, gender, vposer)

    @classmethod
    def shared(cls, model_folder=None, gender: str = "neutral", vposer=None) -> "SmplxBody":
        """One model per folder, gender and prior: reading a model file takes seconds."""
        return cls._cached(None if model_folder is None else str(model_folder), gender,
                           None if vposer is None else str(vposer))

    def _body25_regressor(self, vertex_ids: dict) -> torch.Tensor:
        """(25, V): SMPL-X's joint regressor rows for the joints BODY_25 shares with it, single
        vertices for face and feet points; neck and mid-hip are the shoulders' and hips' means
        (how OpenPose's own training labels made them from COCO's points)."""
        names = self.bone_names + list(_VERTEX_KEYPOINTS)
        picks = torch.zeros(len(_VERTEX_KEYPOINTS), self.model.J_regressor.shape[1], dtype=self.dtype)
        for row, smplx_name in enumerate(_VERTEX_KEYPOINTS.values()):
            picks[row, vertex_ids[smplx_name]] = 1.0
        sources = torch.cat([self.model.J_regressor, picks])
        return torch.as_tensor(mapping_matrix(names), dtype=self.dtype) @ sources

    def bone_index(self, name: str) -> int:
        return self.bone_names.index(name)

    def default_shape(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, len(self.shape_names), dtype=self.dtype)

    def shape_from_unconstrained(self, free: torch.Tensor) -> torch.Tensor:
        """Betas are unbounded already."""
        return free

    def unconstrained_shape(self, shape: torch.Tensor) -> torch.Tensor:
        return shape

    def shape_prior(self, shape: torch.Tensor) -> torch.Tensor:
        """Betas are in standard deviations; two of them cost what an Anny phenotype value at
        its bound (0 or 1) costs, so one shape weight means about the same for both bodies."""
        return ((shape / 4.0) ** 2).sum(-1)

    def base_orientation(self) -> torch.Tensor:
        """Root rotation vector of a person upright and facing the camera."""
        return roma.rotmat_to_rotvec(CAMERA_FROM_SMPLX.to(self.dtype))

    def describe(self) -> dict:
        prior = self.learned_pose_prior
        """Enough to load the same body again: load_body_model(id, model_folder=..., gender=...,
        vposer=...) with the values recorded here."""
        return {"id": self.model_id, "version": self.version, "model_folder": str(self.model_folder),
                "gender": self.gender, "model_file": self.model_path.name,
                "pose_prior": "vposer" if prior else "l2", "vposer": str(prior.path) if prior else None}

    def _rest_joints(self, shape: torch.Tensor) -> torch.Tensor:
        """(B, J, 3) joint positions of the shaped body at rest, in SMPL-X's frame."""
        v_shaped = self.model.v_template + self._lbs.blend_shapes(shape, self.model.shapedirs)
        return self._lbs.vertices2joints(self.model.J_regressor, v_shaped)

    def forward(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> BodyOutput:
        batch = pose.shape[0]
        flat = lambda first, last: pose[:, first:last].reshape(batch, -1)  # noqa: E731
        out = self.model(
            betas=shape, global_orient=pose[:, 0], body_pose=flat(1, 22), jaw_pose=pose[:, 22],
            leye_pose=pose[:, 23], reye_pose=pose[:, 24], left_hand_pose=flat(25, 40),
            right_hand_pose=flat(40, 55), expression=torch.zeros(batch, NUM_EXPRESSION, dtype=self.dtype),
        )
        rest = self._lbs.vertices2joints(self.model.J_regressor, out.v_shaped)
        rotations = self._lbs.batch_rodrigues(pose.reshape(-1, 3)).reshape(batch, -1, 3, 3)
        _, skinning = self._lbs.batch_rigid_transform(rotations, rest, self.model.parents, dtype=self.dtype)
        offset = transl - rest[:, 0]  # the pelvis, which the root rotates about, to transl
        vertices = out.vertices + offset[:, None]
        # A joint's frame is its skinning transform times its unrotated rest frame at the joint.
        bone_poses = skinning.clone()
        bone_poses[..., :3, 3] = (skinning[..., :3, :3] @ rest[..., None])[..., 0] + skinning[..., :3, 3] \
            + offset[:, None]
        return BodyOutput(vertices=vertices, keypoints=self.keypoints_of(vertices), bone_poses=bone_poses)

    def forward_sample(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor,
                       index: torch.Tensor | None) -> BodyOutput:
        """SMPL-X's pose correctives need the whole mesh: forward, then the vertices `index`."""
        out = self.forward(shape, pose, transl)
        if index is None:
            return out
        return BodyOutput(vertices=out.vertices[:, index], keypoints=out.keypoints, bone_poses=out.bone_poses)

    def posed_keypoints(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> torch.Tensor:
        """SMPL-X's pose correctives move vertices with the pose itself, so no shortcut here."""
        return self.forward(shape, pose, transl).keypoints

    def pose_from_bone_poses(self, shape: torch.Tensor, bone_poses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pose (J, 3) and translation (3,) that give these posed bone frames (J, 4, 4, camera
        coordinates): how a pose the artist set in Blender comes back. SMPL-X's rest frames are
        unrotated, so each joint's rotation is its frame's relative to its parent's; bone
        translations other than the root's are ignored (SMPL-X's joints only rotate)."""
        rotations = torch.as_tensor(bone_poses, dtype=self.dtype)[:, :3, :3]
        parents = torch.tensor(self.bone_parents[1:])
        local = torch.cat([rotations[:1], rotations[parents].transpose(-1, -2) @ rotations[1:]])
        return roma.rotmat_to_rotvec(local), torch.as_tensor(bone_poses, dtype=self.dtype)[0, :3, 3].clone()

    def keypoints_of(self, vertices: torch.Tensor) -> torch.Tensor:
        """BODY_25 keypoints (B, 25, 3) of posed vertices (B, V, 3)."""
        return torch.einsum("kv,bvd->bkd", self.body25_regressor, vertices)

    def rest_skeleton(self, shape: torch.Tensor) -> dict:
        heads = self._rest_joints(shape.reshape(1, -1).to(self.dtype))[0].detach().numpy()
        rest_poses = np.tile(np.eye(4, dtype=np.float32), (len(heads), 1, 1))
        rest_poses[:, :3, 3] = heads
        return {"rest_heads": heads, "rest_tails": bone_tails(heads, self.bone_parents), "rest_poses": rest_poses,
                "skin_weights": self.model.lbs_weights.numpy().astype(np.float32)}

    def native_parameters(self, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor) -> dict:
        """The fit as smplx.SMPLX arguments (flat_hand_mean=True, use_pca=False), for other
        SMPL-X tools: in camera coordinates, smplx_transl being smplx's whole-mesh offset."""
        shape, pose, transl = (torch.as_tensor(t, dtype=self.dtype).detach() for t in (shape, pose, transl))
        pose = pose.reshape(SMPLX_JOINTS, 3)
        pelvis = self._rest_joints(shape.reshape(1, -1))[0, 0]
        arrays = {
            "betas": shape, "global_orient": pose[0], "body_pose": pose[1:22].reshape(-1),
            "jaw_pose": pose[22], "leye_pose": pose[23], "reye_pose": pose[24],
            "left_hand_pose": pose[25:40].reshape(-1), "right_hand_pose": pose[40:55].reshape(-1),
            "expression": torch.zeros(NUM_EXPRESSION), "transl": transl - pelvis,
        }
        native = {f"smplx_{key}": value.numpy().astype(np.float32) for key, value in arrays.items()}
        native["smplx_gender"] = np.array(self.gender)
        return native
