"""Reading the bridge's result folder (its contract: bridge/result/format.py, docs/result_format.md) and making new ones."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from .locations import bridge_format
from .user_folders import user_dir

FORMAT = bridge_format()  # the one owner of the result's names, keys and version
BODY_25 = FORMAT.BODY_25


def read_result(folder) -> tuple[dict, dict[str, dict]]:
    """scene.json and each fighter's arrays; raises KeyError/OSError/ValueError on a broken folder,
    before anything in Blender changes."""
    folder = Path(folder)
    scene = json.loads((folder / FORMAT.SCENE_JSON).read_text())
    problem = FORMAT.version_problem(scene) if isinstance(scene, dict) else "its scene.json is not an object"
    if problem:
        raise ValueError(f"the result in {folder} cannot be read: {problem}")
    fighters = {}
    for role in scene["fighters"]:
        with np.load(folder / FORMAT.fighter_file(role), allow_pickle=False) as npz:
            missing = [key for key in FORMAT.FIGHTER_KEYS if key not in npz]
            if missing:
                raise KeyError(f"{FORMAT.fighter_file(role)} lacks {', '.join(missing)}")
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
