"""What every job does with a result folder: read it with its photo and body model, find where
each fighter starts (the artist's pose from Blender, else the fit), and write it anew."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..body import load_recorded_body
from ..detection.isolation import grabcut_mask
from ..errors import BridgeError
from ..fitting.state import FighterState
from ..imaging.photo import load_photo
from ..result.format import SCENE_JSON
from ..result.store import SceneResult, read_result, write_result
from .assemble import fighter_arrays, front_role, kept_hypotheses, result_overlay


@dataclass
class SceneJobReport:
    paths: dict[str, str]
    stats: dict[str, RefineStats] = field(default_factory=dict)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def start_state(body, result: SceneResult, role: str) -> FighterState:
    """Where a job starts for this fighter: the artist's pose from Blender if the add-on left one,
    else the result's own parameters."""
    arrays = result.fighters[role]
    shape = torch.as_tensor(arrays["shape"], dtype=torch.float32)
    if role in result.artist_poses:
        poses = result.artist_poses[role]
        if poses.shape != (len(body.bone_names), 4, 4):
            raise BridgeError("artist_pose_wrong", f"The artist pose of {role} has shape {poses.shape}, "
                              f"not ({len(body.bone_names)}, 4, 4).", "Import the fighter into Blender again.")
        pose, transl = body.pose_from_bone_poses(shape, torch.as_tensor(poses, dtype=torch.float32))
        return FighterState(shape, pose, transl)
    return FighterState(shape, torch.as_tensor(arrays["pose"], dtype=torch.float32),
                        torch.as_tensor(arrays["transl"], dtype=torch.float32))


def scene_inputs(folder, out_dir) -> tuple[Path, list]:
    """Where a job on a result folder writes (the folder itself unless --out says otherwise), and
    the inputs that folder may not hold: the source result, unless it is replaced in place."""
    out = Path(out_dir if out_dir is not None else folder)
    same = os.path.abspath(out) == os.path.abspath(folder)
    return out, ([] if same else [Path(folder) / SCENE_JSON])


def load_scene(folder, result: SceneResult | None = None) -> tuple[SceneResult, object, np.ndarray, object]:
    """The result (read here unless given), its photo, camera and body model."""
    result = result if result is not None else read_result(folder)
    photo = load_photo(result.scene["image"]["path"])
    size = (result.scene["image"]["width"], result.scene["image"]["height"])
    if (photo.width, photo.height) != tuple(size):
        raise BridgeError("photo_changed", f"{photo.path} is {photo.width}x{photo.height} pixels but the result was "
                          f"made from a {size[0]}x{size[1]} photo.", "Run reconstruct again on this photo.")
    body = load_recorded_body(result.scene["body_model"])
    return result, photo, np.asarray(result.scene["camera"]["K"], dtype=np.float64), body


def complete_masks(result: SceneResult, photo) -> dict[str, np.ndarray]:
    """Each fighter's mask: the one the result holds, else GrabCut from its keypoints (with the
    other fighter's as background), kept in `result.masks` so the rewritten result holds it."""
    for role, arrays in result.fighters.items():
        if result.masks.get(role) is not None:
            continue
        others = [a for r, a in result.fighters.items() if r != role]
        other = (others[0]["keypoints2d"], others[0]["keypoint_confidence"]) if others else None
        result.masks[role] = grabcut_mask(photo.rgb, keypoints=(arrays["keypoints2d"], arrays["keypoint_confidence"]),
                                          other=other)
    return result.masks


def write_scene(result: SceneResult, out_dir, photo, K, body, states: dict[str, FighterState],
                masks: dict[str, np.ndarray | None], record: dict | None = None,
                inputs=()) -> tuple[dict[str, str], dict]:
    """Write the result folder: fighters with a new state rebuilt from it, the others as they
    were, `front` and the overlay anew, `record` added to scene.json. Returns the paths and the
    scene written. `inputs`: the user's files the job read (see check_out_folder)."""
    arrays = {}
    for role, a in result.fighters.items():
        state = states.get(role)
        arrays[role] = a if state is None else kept_hypotheses(a, fighter_arrays(
            body, state.shape, state.pose, state.transl, a["keypoints2d"], a["keypoint_confidence"], state.vertices))
    scene = {**result.scene, **(record or {})}
    scene["front"] = front_role(arrays, K, photo.width, photo.height)
    in_photo = {role: role == "tori" or "photos" not in scene for role in arrays}
    overlay = result_overlay(photo.rgb, K, arrays, in_photo)
    return write_result(Path(out_dir), scene, arrays, overlay, masks, inputs), scene


