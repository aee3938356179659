"""The main job: a photo in, one or two fitted fighters and a result folder out."""
from __future__ import annotations

import contextlib
import dataclasses
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .body import load_body_model
from .assemble import fighter_arrays
from .camera import DEFAULT_FOCAL_35MM, LEVEL_WORLD_FROM_CAMERA, intrinsics
from .contact import interpenetration_m
from .errors import BridgeError
from .fighters import Fighter, FighterHints, find_fighters
from .fit import FitSettings, fit_people
from .image_io import load_photo
from .pair import pair_terms
from .placement import place_in_contact
from .progress import Reporter
from .refine import RefineSettings
from .results import SceneResult
from .scene_jobs import refine_result, stats_json, write_scene


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


# How far two fitted bodies may pass into each other before the artist is told (issue 4's figure).
OVERLAP_WARNING_M = 0.01


def still_overlapping(fits, faces) -> list[str]:
    """A warning where the joint stage left the two bodies passing into each other. Why: it
    separates bodies that touch, not two fits of one blended detection (a copy of seoi-nage at
    twice the size came out 4.6 cm deep), and the artist should hear of it before posing."""
    vertices = [fit.output.vertices[0].numpy().astype(float) for fit in fits]
    depth = interpenetration_m(vertices[0], vertices[1], faces)
    if depth <= OVERLAP_WARNING_M:
        return []
    return [f"The two fitted bodies still pass {100 * depth:.1f} cm into each other: the detector may have mixed "
            "the fighters up. Check the overlay; draw --tori-rect and --uke-rect, or use Resolve Contact in Blender "
            "(python -m bridge contact)."]


def reconstruct(photo_path, out_dir, people: int = 1, keypoints_file=None, focal_35mm=None, body_name="anny",
                body_options: dict | None = None,
                hints: dict[str, FighterHints] | None = None, uke_photo=None, grips: bool = True,
                settings: FitSettings = FitSettings(), reporter: Reporter | None = None,
                should_stop=None, refine_iterations: int = 0, device: str = "auto") -> ReconstructReport:
    """Find, fit and write the fighters of `photo_path` (`people` of them: 1 or 2).

    With `uke_photo`, tori comes from the first photo and uke from the second, each fitted in
    its own camera, and uke is placed beside tori in the first photo's camera, touching.
    `body_options` go to load_body_model (SMPL-X's model folder, gender, VPoser checkpoint);
    the body is loaded before detection, so wrong model files are reported at once."""
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

    with _timed(seconds, "model"):
        body = load_body_model(body_name, **(body_options or {}))

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

    faces = body.faces.numpy()
    image_size = max(photo.width, photo.height)
    targets = [f.target for f in fighters]
    shifts = [torch.zeros(3)] * len(fighters)
    with _timed(seconds, "fit"):
        if second is None:
            def pair(separate):
                standing = [fit.output.vertices[0].numpy() for fit in separate]
                return pair_terms(standing, targets, faces, K, photo.width, photo.height, grips,
                                  [f.mask for f in fighters], photo.rgb)

            fits = fit_people(body, targets, K, image_size, settings, reporter.progress, should_stop, pair=pair)
        else:
            K_uke, _ = _camera(second, None, warnings)
            fits = [fit_people(body, [targets[0]], K, image_size, settings, reporter.progress, should_stop)[0],
                    fit_people(body, [targets[1]], K_uke, max(second.width, second.height), settings,
                               reporter.progress, should_stop)[0]]
            shifts[1] = torch.as_tensor(place_in_contact(fits[0].output.vertices[0].numpy(),
                                                         fits[1].output.vertices[0].numpy(), faces), dtype=torch.float32)
        if second is None and len(fits) == 2:
            warnings += still_overlapping(fits, faces)

    with _timed(seconds, "write"):
        arrays = {f.role: fighter_arrays(body, fit.shape, fit.pose, fit.transl + shift, f.target.points,
                                         f.target.confidence)
                  for f, fit, shift in zip(fighters, fits, shifts)}
        roles = [f.role for f in fighters]
        masks = {f.role: (f.mask if second is None else None) for f in fighters}
        scene = {
            "image": {"path": str(Path(photo_path).resolve()), "width": photo.width, "height": photo.height},
            "camera": {"K": K.tolist(), "world_from_camera": LEVEL_WORLD_FROM_CAMERA.tolist(), "focal_35mm": focal},
            "fighters": roles,
            "front": None,  # write_scene decides
            "body_model": body.describe(),
            "bridge_version": __version__,
            "fit": {"keypoint_error_px": {f.role: fit.keypoint_error_px for f, fit in zip(fighters, fits)}},
            "warnings": warnings,
        }
        if second is not None:
            scene["photos"] = {"tori": scene["image"]["path"], "uke": str(Path(uke_photo).resolve())}
        result = SceneResult(Path(out_dir), scene, arrays, masks, {})
    states, record = {}, {}
    if refine_iterations:
        with _timed(seconds, "refine"):
            refine_settings = dataclasses.replace(RefineSettings(), iterations=refine_iterations)
            states, stats, more = refine_result(result, photo, K, body, settings=refine_settings, device=device,
                                                progress=reporter.progress, should_stop=should_stop)
            warnings += more
            record["refine"] = {role: stats_json(s) for role, s in stats.items()}
    with _timed(seconds, "write"):
        paths, written = write_scene(result, out_dir, photo, K, body, states, result.masks, record)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    reporter.result(paths, warnings=warnings)
    error = float(np.mean([fit.keypoint_error_px for fit in fits]))
    return ReconstructReport(paths, seconds, error, peak, warnings, roles, written["front"])
