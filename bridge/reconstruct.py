"""The main job: a photo in, one or two fitted fighters and a result folder out."""
from __future__ import annotations

import contextlib
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .body import load_body_model
from .camera import DEFAULT_FOCAL_35MM, LEVEL_WORLD_FROM_CAMERA, intrinsics, project
from .errors import BridgeError
from .fighters import Fighter, FighterHints, find_fighters
from .fit import FitSettings, fit_people
from .image_io import load_photo
from .overlay import draw_overlay
from .pair import overlap_front, pair_terms
from .placement import place_in_contact
from .progress import Reporter
from .raster import silhouette_mask
from .results import write_result


@dataclass
class ReconstructReport:
    paths: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    keypoint_error_px: float = float("nan")  # mean over the fighters
    peak_memory_mb: float = 0.0
    warnings: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    front: str | None = None


@contextlib.contextmanager
def _timed(seconds: dict[str, float], stage: str):
    """Add the time spent in the block to seconds[stage] (the report and the benchmark)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start


def _camera(photo, focal_35mm, warnings):
    focal = focal_35mm or photo.focal_35mm or DEFAULT_FOCAL_35MM
    if focal_35mm is None and photo.focal_35mm is None:
        warnings.append(f"{Path(photo.path).name} has no focal length in its EXIF; assumed "
                        f"{DEFAULT_FOCAL_35MM:g} mm (35 mm equivalent).")
    return intrinsics(photo.width, photo.height, focal), focal


def _fighter_arrays(body, fit, fighter: Fighter, shift=None) -> dict:
    """One fighter by the data contract; `shift` (3,) moves a body fitted in another photo's
    camera into this scene."""
    shift = np.zeros(3) if shift is None else np.asarray(shift)
    skeleton = body.rest_skeleton(fit.shape)
    posed = fit.output.bone_poses[0].numpy().copy()
    posed[:, :3, 3] += shift
    return {
        "vertices": (fit.output.vertices[0].numpy() + shift).astype(np.float32),
        "faces": body.faces.numpy().astype(np.int32),
        "keypoints3d": (fit.output.keypoints[0].numpy() + shift).astype(np.float32),
        "keypoints2d": fighter.target.points.astype(np.float32),
        "keypoint_confidence": fighter.target.confidence.astype(np.float32),
        "pose": fit.pose.numpy().astype(np.float32),
        "shape": fit.shape.numpy().astype(np.float32),
        "transl": (fit.transl.numpy() + shift).astype(np.float32),
        "bone_names": np.array(body.bone_names),
        "bone_parents": np.array(body.bone_parents, dtype=np.int32),
        "rest_heads": skeleton["rest_heads"].astype(np.float32),
        "rest_tails": skeleton["rest_tails"].astype(np.float32),
        "bone_poses": posed.astype(np.float32),
        "bone_transforms": (posed @ np.linalg.inv(skeleton["rest_poses"])).astype(np.float32),
        "skin_weights": skeleton["skin_weights"],
    }


def reconstruct(photo_path, out_dir, people: int = 1, keypoints_file=None, focal_35mm=None, body_name="anny",
                hints: dict[str, FighterHints] | None = None, uke_photo=None, grips: bool = True,
                settings: FitSettings = FitSettings(), reporter: Reporter | None = None,
                should_stop=None) -> ReconstructReport:
    """Find, fit and write the fighters of `photo_path` (`people` of them: 1 or 2).

    With `uke_photo`, tori comes from the first photo and uke from the second, each fitted in
    its own camera, and uke is placed beside tori in the first photo's camera, touching."""
    reporter = reporter or Reporter()
    if people not in (1, 2):
        raise BridgeError("bad_people", f"--people must be 1 or 2, not {people}.", "Use --people 1 or --people 2.")
    seconds: dict[str, float] = {}
    warnings: list[str] = []
    with _timed(seconds, "load"):
        reporter.progress("load", 0, 1)
        photo = load_photo(photo_path)
        second = load_photo(uke_photo) if uke_photo is not None else None
        reporter.progress("load", 1, 1)

    with _timed(seconds, "detect"):
        if second is None:
            fighters, found_warnings = find_fighters(photo, people, keypoints_file, hints, reporter)
        else:
            fighters, found_warnings = find_fighters(photo, 1, keypoints_file, None, reporter)
            uke, uke_warnings = find_fighters(second, 1, None, None, reporter)
            fighters += [Fighter("uke", uke[0].target, uke[0].mask)]
            found_warnings += uke_warnings
        warnings += found_warnings
    K, focal = _camera(photo, focal_35mm, warnings)

    with _timed(seconds, "model"):
        body = load_body_model(body_name)
    faces = body.faces.numpy()
    image_size = max(photo.width, photo.height)
    targets = [f.target for f in fighters]
    shifts = [None] * len(fighters)
    with _timed(seconds, "fit"):
        if second is None:
            fits = fit_people(body, targets, K, image_size, settings, reporter.progress, should_stop,
                              pair=lambda separate: pair_terms(separate, targets, faces, K, photo.width, photo.height,
                                                               grips))
        else:
            K_uke, _ = _camera(second, None, warnings)
            fits = [fit_people(body, [targets[0]], K, image_size, settings, reporter.progress, should_stop)[0],
                    fit_people(body, [targets[1]], K_uke, max(second.width, second.height), settings,
                               reporter.progress, should_stop)[0]]
            shifts[1] = place_in_contact(fits[0].output.vertices[0].numpy(), fits[1].output.vertices[0].numpy(), faces)

    with _timed(seconds, "write"):
        arrays = {f.role: _fighter_arrays(body, fit, f, shift) for f, fit, shift in zip(fighters, fits, shifts)}
        roles = [f.role for f in fighters]
        front = roles[0]
        if len(fighters) == 2:
            masks = None if second is not None else [f.mask for f in fighters]
            index, _ = overlap_front([arrays[r]["vertices"] for r in roles], faces, K, photo.width, photo.height,
                                     masks)
            front = roles[index] if index is not None else min(roles, key=lambda r: arrays[r]["transl"][2])
        scene = {
            "image": {"path": str(Path(photo_path).resolve()), "width": photo.width, "height": photo.height},
            "camera": {"K": K.tolist(), "world_from_camera": LEVEL_WORLD_FROM_CAMERA.tolist(), "focal_35mm": focal},
            "fighters": roles,
            "front": front,
            "body_model": {"id": body.model_id, "version": body.version},
            "bridge_version": __version__,
            "fit": {"keypoint_error_px": {f.role: fit.keypoint_error_px for f, fit in zip(fighters, fits)}},
            "warnings": warnings,
        }
        if second is not None:
            scene["photos"] = {"tori": scene["image"]["path"], "uke": str(Path(uke_photo).resolve())}
        overlay_people = []
        for f in fighters:
            a = arrays[f.role]
            same_photo = second is None or f.role == "tori"
            overlay_people.append({
                "mask": silhouette_mask(K, a["vertices"], faces, photo.width, photo.height),
                "detected": (f.target.points, f.target.confidence if same_photo else np.zeros(25)),
                "fitted": project(K, a["keypoints3d"]),
            })
        paths = write_result(Path(out_dir), scene, arrays, draw_overlay(photo.rgb, overlay_people))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    reporter.result(paths, warnings=warnings)
    error = float(np.mean([fit.keypoint_error_px for fit in fits]))
    return ReconstructReport(paths, seconds, error, peak, warnings, roles, front)
