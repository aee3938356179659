"""Jobs that start from a result folder (an earlier reconstruct, or the artist's pose from
Blender) and write it anew, atomically: `refine` and `resolve-contact`."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .assemble import fighter_arrays, front_role, result_overlay
from .body import load_recorded_body
from .errors import BridgeError
from .fit import FIT_THREADS
from .image_io import load_photo
from .isolate import check_rect, grabcut_mask
from .progress import Reporter
from .refine import FighterState, RefineSettings, RefineStats, RefineTarget, part_bones, preview_folder, refine_fighter
from .results import SceneResult, read_result, write_result


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


def _load(folder) -> tuple[SceneResult, object, np.ndarray, object]:
    result = read_result(folder)
    photo = load_photo(result.scene["image"]["path"])
    size = (result.scene["image"]["width"], result.scene["image"]["height"])
    if (photo.width, photo.height) != tuple(size):
        raise BridgeError("photo_changed", f"{photo.path} is {photo.width}x{photo.height} pixels but the result was "
                          f"made from a {size[0]}x{size[1]} photo.", "Run reconstruct again on this photo.")
    body = load_recorded_body(result.scene["body_model"])
    return result, photo, np.asarray(result.scene["camera"]["K"], dtype=np.float64), body


def _masks(result: SceneResult, photo) -> dict[str, np.ndarray]:
    """Each fighter's mask: the one the result holds, else GrabCut from its keypoints (with the
    other fighter's as background)."""
    masks = {}
    for role in result.fighters:
        if result.masks.get(role) is not None:
            masks[role] = result.masks[role]
            continue
        a = result.fighters[role]
        others = [r for r in result.fighters if r != role]
        other = None if not others else (result.fighters[others[0]]["keypoints2d"],
                                         result.fighters[others[0]]["keypoint_confidence"])
        masks[role] = result.masks[role] = grabcut_mask(photo.rgb, keypoints=(a["keypoints2d"], a["keypoint_confidence"]), other=other)
    return masks


def write_scene(result: SceneResult, out_dir, photo, K, body, states: dict[str, FighterState],
                masks: dict[str, np.ndarray | None], record: dict | None = None) -> tuple[dict[str, str], dict]:
    """Write the result folder: fighters with a new state rebuilt from it, the others as they
    were, `front` and the overlay anew, `record` added to scene.json. Returns the paths and the
    scene written."""
    arrays = {}
    for role, a in result.fighters.items():
        state = states.get(role)
        arrays[role] = a if state is None else fighter_arrays(
            body, state.shape, state.pose, state.transl, a["keypoints2d"], a["keypoint_confidence"], state.vertices)
    scene = {**result.scene, **(record or {})}
    scene["front"] = front_role(arrays, masks, K, photo.width, photo.height)
    in_photo = {role: role == "tori" or "photos" not in scene for role in arrays}
    overlay = result_overlay(photo.rgb, K, arrays, in_photo)
    return write_result(Path(out_dir), scene, arrays, overlay, masks), scene


def refine_result(result: SceneResult, photo, K: np.ndarray, body, roles: list[str] | None = None,
                  part: str | None = None, bones: list[str] | None = None, window=None,
                  settings: RefineSettings = RefineSettings(), device: str = "auto", progress=None,
                  should_stop=None) -> tuple[dict[str, FighterState], dict[str, RefineStats], list[str]]:
    """Refine the chosen fighters of a result (in memory) against its photo."""
    torch.set_num_threads(FIT_THREADS)
    warnings = []
    chosen = list(result.fighters) if not roles else list(roles)
    unknown = [r for r in chosen if r not in result.fighters]
    if unknown:
        raise BridgeError("unknown_role", f"The result has no fighter {', '.join(unknown)}.",
                          f"It holds {', '.join(result.fighters)}.")
    other_photo = [r for r in chosen if "photos" in result.scene and r != "tori"]
    warnings += [f"{r} was fitted in its own photo, so it is not refined against this one." for r in other_photo]
    chosen = [r for r in chosen if r not in other_photo]
    if window is not None:
        window, warning = check_rect(window, photo.width, photo.height, "the refinement window")
        warnings += [warning] if warning else []
    moving = part_bones(body, part, bones)
    masks = _masks(result, photo)
    previews = preview_folder("refine")
    states, stats = {}, {}
    for role in chosen:
        arrays = result.fighters[role]
        others = [masks[r] for r in result.fighters if r != role]
        target = RefineTarget(photo.rgb, masks[role], others[0] if others else None, arrays["keypoints2d"],
                              arrays["keypoint_confidence"])
        states[role], stats[role] = refine_fighter(
            body, start_state(body, result, role), target, K, settings, moving, window, device, progress,
            should_stop, previews / f"preview_{role}.png", arrays["skin_weights"], stage=f"refine {role}")
    return states, stats, warnings


def refine_scene(folder, out_dir=None, roles: list[str] | None = None, part: str | None = None,
                 bones: list[str] | None = None, window=None, settings: RefineSettings = RefineSettings(),
                 device: str = "auto", reporter: Reporter | None = None, should_stop=None) -> SceneJobReport:
    """Refine the fighters of a result folder against its photo and write the result to
    `out_dir` (default: the same folder, replaced as a whole when done)."""
    reporter = reporter or Reporter()
    began = time.perf_counter()
    result, photo, K, body = _load(folder)
    states, stats, warnings = refine_result(result, photo, K, body, roles, part, bones, window, settings, device,
                                            reporter.progress, should_stop)
    record = {"refine": {role: stats_json(s) for role, s in stats.items()},
              "warnings": result.scene.get("warnings", []) + warnings}
    paths, _ = write_scene(result, out_dir or folder, photo, K, body, states, _masks(result, photo), record)
    reporter.result(paths, warnings=warnings, refine=record["refine"])
    return SceneJobReport(paths, stats, time.perf_counter() - began, warnings)


def stats_json(stats: RefineStats) -> dict:
    return {
        "iterations": stats.iterations,
        "iterations_per_second": round(stats.iterations_per_second, 2),
        "silhouette_error": [round(v, 4) for v in stats.silhouette_error],
        "image_error_percent": [round(v, 4) for v in stats.image_error],
        "keypoint_error_px": round(stats.keypoint_error_px, 2),
        "moved_bones": stats.moved_bones,
    }
