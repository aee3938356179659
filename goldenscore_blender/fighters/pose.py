"""The artist's pose, handed back to the bridge so Refine and Resolve Contact start from it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..coordinates import camera_from_world
from ..results import FORMAT
from .build import BONE_NAMES_PROP, REST_POSES_PROP


def artist_bone_poses(armature, camera_object) -> np.ndarray:
    """(J, 4, 4) posed bone frames in the photo camera's OpenCV coordinates, the meaning of
    bone_poses in fighter_<role>.npz: deform matrix (in camera coordinates) @ rest frame."""
    names = list(armature.data[BONE_NAMES_PROP])
    rest_poses = np.array(armature.data[REST_POSES_PROP], dtype=np.float64).reshape(len(names), 4, 4)
    camera_from_armature = camera_from_world(camera_object) @ np.array(armature.matrix_world)
    deform = np.array([np.array(armature.pose.bones[name].matrix) @ np.linalg.inv(
        np.array(armature.data.bones[name].matrix_local)) for name in names])
    return camera_from_armature @ deform @ rest_poses


def write_artist_poses(folder: Path, armatures: dict, camera_object) -> list[Path]:
    """artist_pose_<role>.npz (key bone_poses) for each fighter, in the result folder."""
    written = []
    for role, armature in armatures.items():
        path = Path(folder) / FORMAT.artist_pose_file(role)
        np.savez(path, **{FORMAT.ARTIST_POSE_KEY: artist_bone_poses(armature, camera_object).astype(np.float32)})
        written.append(path)
    return written
