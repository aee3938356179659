"""The main job: a photo in, a fitted body and a result folder out."""
from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .body import load_body_model
from .camera import DEFAULT_FOCAL_35MM, LEVEL_WORLD_FROM_CAMERA, intrinsics, project
from .detect import detect_body25
from .errors import BridgeError
from .fit import FitSettings, fit_fighter
from .image_io import load_photo, processing_scale
from .keypoints import load_openpose_json
from .overlay import draw_overlay
from .progress import Reporter
from .raster import silhouette_mask
from .results import write_result

MIN_CONFIDENT_KEYPOINTS = 6


@dataclass
class ReconstructReport:
    paths: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    keypoint_error_px: float = float("nan")
    peak_memory_mb: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _person_keypoints(photo, keypoints_file, reporter):
    """BODY_25 points in the photo's pixels, confidences, and the detector's 3D estimate (None
    for keypoint files): from the file (its most confident person) or detected."""
    if keypoints_file is not None:
        people = load_openpose_json(keypoints_file)
        return (*max(people, key=lambda person: person[1].sum()), None)
    scale = processing_scale(photo)
    rgb = photo.rgb
    if scale < 1.0:
        import cv2

        size = (round(photo.width * scale), round(photo.height * scale))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    reporter.progress("detect", 0, 1)
    found = detect_body25(rgb)
    reporter.progress("detect", 1, 1)
    if found is None:
        raise BridgeError("no_person", f"No person was found in {photo.path}.",
                          "Use a photo where the whole body is visible, or give keypoints with --keypoints.")
    return found.points / scale, found.confidence, found.points3d


def reconstruct(photo_path, out_dir, keypoints_file=None, focal_35mm=None, body_name="anny",
                settings: FitSettings = FitSettings(), reporter: Reporter | None = None,
                should_stop=None) -> ReconstructReport:
    reporter = reporter or Reporter()
    seconds = {}
    warnings = []
    start = time.perf_counter()
    reporter.progress("load", 0, 1)
    photo = load_photo(photo_path)
    reporter.progress("load", 1, 1)
    seconds["load"] = time.perf_counter() - start

    start = time.perf_counter()
    points, conf, points3d = _person_keypoints(photo, keypoints_file, reporter)
    seconds["detect"] = time.perf_counter() - start
    if (conf > 0.3).sum() < MIN_CONFIDENT_KEYPOINTS:
        raise BridgeError("no_person", f"Too few body keypoints were found in {photo.path} to fit a body.",
                          "Use a photo where the whole body is visible, or give keypoints with --keypoints.")

    focal = focal_35mm or photo.focal_35mm or DEFAULT_FOCAL_35MM
    if focal_35mm is None and photo.focal_35mm is None:
        warnings.append(f"The photo has no focal length in its EXIF; assumed {DEFAULT_FOCAL_35MM:g} mm (35 mm equivalent).")
    K = intrinsics(photo.width, photo.height, focal)

    start = time.perf_counter()
    body = load_body_model(body_name)
    seconds["model"] = time.perf_counter() - start

    start = time.perf_counter()
    fit = fit_fighter(body, points, conf, K, max(photo.width, photo.height), settings,
                      progress=reporter.progress, should_stop=should_stop, points3d=points3d)
    seconds["fit"] = time.perf_counter() - start

    start = time.perf_counter()
    vertices = fit.output.vertices[0].numpy()
    faces = body.faces.numpy()
    keypoints3d = fit.output.keypoints[0].numpy()
    skeleton = body.rest_skeleton(fit.shape)
    posed = fit.output.bone_poses[0].numpy()
    role = "tori"
    fighter = {
        "vertices": vertices.astype(np.float32),
        "faces": faces.astype(np.int32),
        "keypoints3d": keypoints3d.astype(np.float32),
        "keypoints2d": points.astype(np.float32),
        "keypoint_confidence": conf.astype(np.float32),
        "pose": fit.pose.numpy().astype(np.float32),
        "shape": fit.shape.numpy().astype(np.float32),
        "transl": fit.transl.numpy().astype(np.float32),
        "bone_names": np.array(body.bone_names),
        "bone_parents": np.array(body.bone_parents, dtype=np.int32),
        "rest_heads": skeleton["rest_heads"].astype(np.float32),
        "rest_tails": skeleton["rest_tails"].astype(np.float32),
        "bone_poses": posed.astype(np.float32),
        "bone_transforms": (posed @ np.linalg.inv(skeleton["rest_poses"])).astype(np.float32),
        "skin_weights": skeleton["skin_weights"],
    }
    scene = {
        "image": {"path": str(Path(photo_path).resolve()), "width": photo.width, "height": photo.height},
        "camera": {"K": K.tolist(), "world_from_camera": LEVEL_WORLD_FROM_CAMERA.tolist(), "focal_35mm": focal},
        "fighters": [role],
        "front": role,
        "body_model": {"id": body.model_id, "version": body.version},
        "bridge_version": __version__,
        "fit": {"keypoint_error_px": fit.keypoint_error_px},
        "warnings": warnings,
    }
    mask = silhouette_mask(K, vertices, faces, photo.width, photo.height)
    fitted_2d = project(K, keypoints3d)
    overlay = draw_overlay(photo.rgb, [{"mask": mask, "detected": (points, conf), "fitted": fitted_2d}])
    paths = write_result(Path(out_dir), scene, {role: fighter}, overlay)
    seconds["write"] = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    reporter.result(paths, warnings=warnings)
    return ReconstructReport(paths, seconds, fit.keypoint_error_px, peak, warnings)
