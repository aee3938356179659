"""Reading the bridge's result folder (the data contract in DESIGN.md) and making new ones."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from .locations import user_dir

BODY_25 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
FIGHTER_KEYS = ("vertices", "faces", "keypoints3d", "keypoints2d", "keypoint_confidence", "bone_names",
                "bone_parents", "rest_heads", "rest_tails", "bone_poses", "bone_transforms", "skin_weights")


def read_result(folder) -> tuple[dict, dict[str, dict]]:
    """scene.json and each fighter's arrays; raises KeyError/OSError/ValueError on a broken folder,
    before anything in Blender changes."""
    folder = Path(folder)
    scene = json.loads((folder / "scene.json").read_text())
    fighters = {}
    for role in scene["fighters"]:
        with np.load(folder / f"fighter_{role}.npz") as npz:
            missing = [key for key in FIGHTER_KEYS if key not in npz]
            if missing:
                raise KeyError(f"fighter_{role}.npz lacks {', '.join(missing)}")
            fighters[role] = {key: npz[key] for key in npz.files}
    return scene, fighters


def new_result_folder(photo_name: str) -> Path:
    """A fresh folder for one job's result. Every job writes a new one, so undo can go back to
    the scene of an earlier result whose folder is still intact."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(photo_name).stem) or "photo"
    return user_dir("results") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**9}"


def copy_result(source) -> Path:
    """A copy of a result folder for a job that rewrites its input (refine, resolve contact)."""
    target = new_result_folder(Path(source).name.split("-")[0])
    shutil.copytree(source, target)
    return target
