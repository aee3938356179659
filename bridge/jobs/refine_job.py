"""`refine`: the fighters of a result folder refined against its photo by differentiable
rendering, and the folder written anew."""
from __future__ import annotations

import time

import numpy as np
import torch

from ..detection.hints import check_rect
from ..errors import BridgeError
from ..fitting.fit import FIT_THREADS
from ..fitting.state import FighterState
from ..progress import Reporter
from ..refinement.refine import RefineSettings, RefineStats, RefineTarget, part_bones, preview_folder, refine_fighter
from ..result.store import SceneResult
from ..result.store import check_out_folder, read_result
from .arguments import check_refine_arguments
from .result_folder import SceneJobReport, scene_inputs, complete_masks, load_scene, start_state, write_scene


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
    masks = complete_masks(result, photo)
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
    check_refine_arguments(settings, window, device)
    source = read_result(folder)  # a broken source is reported as such, not as an output to refuse
    out, inputs = scene_inputs(folder, out_dir)
    check_out_folder(out, inputs)  # before any work
    result, photo, K, body = load_scene(folder, source)
    states, stats, warnings = refine_result(result, photo, K, body, roles, part, bones, window, settings, device,
                                            reporter.progress, should_stop)
    record = {"refine": {role: stats_json(s) for role, s in stats.items()},
              "warnings": result.scene.get("warnings", []) + warnings}
    paths, _ = write_scene(result, out, photo, K, body, states, result.masks, record, inputs)
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
