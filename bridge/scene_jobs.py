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
from .camera import project
from .contact import interpenetration_m
from .errors import BridgeError
from .fit import FIT_THREADS, FitSettings, PersonTarget, keypoint_loss
from .image_io import load_photo
from .isolate import check_rect, grabcut_mask
from .keypoints import CONFIDENT
from .pair import pair_terms
from .progress import Reporter
from .refine import (FighterState, PoseChanges, RefineSettings, RefineStats, RefineTarget, part_bones, preview_folder,
                     refine_fighter)
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


def _complete_masks(result: SceneResult, photo) -> dict[str, np.ndarray]:
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
    scene["front"] = front_role(arrays, masks, K, photo.rgb)
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
    masks = _complete_masks(result, photo)
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
    paths, _ = write_scene(result, out_dir or folder, photo, K, body, states, result.masks, record)
    reporter.result(paths, warnings=warnings, refine=record["refine"])
    return SceneJobReport(paths, stats, time.perf_counter() - began, warnings)


def resolve_contact(body, states: list[FighterState], points: list[np.ndarray], confidence: list[np.ndarray],
                    K: np.ndarray, width: int, height: int, steps: int = 60, settings: FitSettings = FitSettings(),
                    progress=None, should_stop=None) -> list[FighterState]:
    """Move two bodies, from where they stand, until they no longer pass through each other and
    a hand that lies on the other fighter in the photo holds the other's body, while their
    keypoints stay on the photo's and their pose near where it started."""
    torch.set_num_threads(FIT_THREADS)
    faces = body.faces.numpy()
    bones = body.free_bones + [h.bone for h in body.hinges]
    changes = [PoseChanges(body, state, bones, orientation=True, shape=False) for state in states]
    with torch.no_grad():
        standing = [body.forward(s.shape[None], s.pose[None], s.transl[None]).vertices[0].numpy() for s in states]
    people = [PersonTarget(p, c) for p, c in zip(points, confidence)]
    terms = pair_terms(standing, people, faces, K, width, height)
    groups = [g for c in changes for g in c.parameter_groups(settings.pair_learning_rate)]
    optimiser = torch.optim.Adam(groups)
    K_t = torch.as_tensor(K, dtype=torch.float32)
    targets = [(torch.as_tensor(p, dtype=torch.float32),
                torch.as_tensor(np.where(c >= CONFIDENT, c, 0.0), dtype=torch.float32)) for p, c in zip(points, confidence)]
    sigma = settings.robust_scale[-1] * max(width, height)
    for step in range(steps):
        if should_stop and should_stop():
            raise BridgeError("cancelled", "Resolving the contact was cancelled.", "")
        optimiser.zero_grad()
        shapes, poses, transls = zip(*(c.state() for c in changes))
        out = body.forward(torch.stack(shapes), torch.stack(poses), torch.stack(transls))
        loss = terms.loss(out, settings)
        for index, (target, conf) in enumerate(targets):
            loss = loss + keypoint_loss(project(K_t, out.keypoints[index]), target, conf, sigma)
            loss = loss + settings.pose_prior[-1] * changes[index].prior()
        loss.backward()
        optimiser.step()
        for c in changes:
            c.clamp()
        if progress is not None:
            progress("contact", step + 1, steps, float(loss.detach()))
    with torch.no_grad():
        return [FighterState(*c.state()) for c in changes]


def resolve_contact_scene(folder, out_dir=None, steps: int = 60, reporter: Reporter | None = None,
                          should_stop=None) -> SceneJobReport:
    """resolve_contact on a result folder (from the artist's poses where the add-on left them)."""
    reporter = reporter or Reporter()
    began = time.perf_counter()
    result, photo, K, body = _load(folder)
    roles = list(result.fighters)
    if len(roles) != 2:
        raise BridgeError("needs_two_fighters", f"The result in {folder} holds {len(roles)} fighter(s); resolving "
                          "contact needs two.", "Reconstruct the photo with --people 2.")
    if "photos" in result.scene:
        raise BridgeError("contact_two_photos", "These fighters come from two photos; their keypoints do not share "
                          "one camera.", "They were already placed touching; adjust them in Blender.")
    states = [start_state(body, result, role) for role in roles]
    moved = resolve_contact(body, states, [result.fighters[r]["keypoints2d"] for r in roles],
                            [result.fighters[r]["keypoint_confidence"] for r in roles], K, photo.width, photo.height,
                            steps, progress=reporter.progress, should_stop=should_stop)
    masks = _complete_masks(result, photo)
    with torch.no_grad():
        vertices = [body.forward(s.shape[None], s.pose[None], s.transl[None]).vertices[0].numpy() for s in moved]
    overlap = interpenetration_m(vertices[0].astype(float), vertices[1].astype(float), body.faces.numpy())
    record = {"contact": {"interpenetration_mm": round(1000 * overlap, 1), "steps": steps}}
    paths, _ = write_scene(result, out_dir or folder, photo, K, body, dict(zip(roles, moved)), masks, record)
    reporter.result(paths, contact=record["contact"])
    return SceneJobReport(paths, {}, time.perf_counter() - began, [])


def stats_json(stats: RefineStats) -> dict:
    return {
        "iterations": stats.iterations,
        "iterations_per_second": round(stats.iterations_per_second, 2),
        "silhouette_error": [round(v, 4) for v in stats.silhouette_error],
        "image_error_percent": [round(v, 4) for v in stats.image_error],
        "keypoint_error_px": round(stats.keypoint_error_px, 2),
        "moved_bones": stats.moved_bones,
    }
