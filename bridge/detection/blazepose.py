"""MediaPipe's BlazePose landmark model run directly (ai-edge-litert) on a crop around keypoints
the caller already has, for its metric 3D (world landmarks) only: the depth cue a keypoint file
or the artist's dragged keypoints lack (issue 19). The 2D stays the caller's.

The .tflite file is the one shipped in the mediapipe wheel (its modules/pose_landmark folder,
found without importing mediapipe). The ROI follows mediapipe's graphs
(AlignmentPointsRectsCalculator + RectTransformation square_long, scale 1.25): centre the
mid-hip, "up" the mid-hip -> mid-shoulder direction, side from the farthest keypoint; the crop is
a 256 x 256 rotated square, [0, 1] RGB. World landmarks come back hip-centred in metres with x/y
turned with the crop; they are turned back to the camera's axes and mapped to BODY_25.
Coordinates are continuous pixels: pixel i spans [i, i + 1).
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..keypoints import CONFIDENT, mapping_matrix

LM_SIZE = 256
LM_COUNT = 39  # 33 landmarks + 6 auxiliary
ROI_SCALE = 1.25
ROI_TARGET_ANGLE = math.pi / 2  # mediapipe: rotation_vector_target_angle_degrees 90
POSE_PRESENCE_MIN = 0.5
LANDMARK_MODEL = "pose_landmark_full.tflite"
# The cue's weight in the fit (PersonTarget.points3d_weight) for keypoints from a file: lighter
# than the detector's, since exact 2D needs less of MediaPipe's poor 3D (docs/decisions.md,
# "Depth from one photo").
FILE_CUE_WEIGHT = 0.3


@dataclass
class Roi:
    """A rotated square: centre (x, y), side (pixels), angle (radians; the crop's x axis is
    (cos a, sin a) in the image, mediapipe's NormalizedRect.rotation)."""

    center: np.ndarray
    size: float
    angle: float

    def crop_to_image(self, out_size: int) -> np.ndarray:
        """2x3 affine from continuous crop coordinates (0..out_size) to image coordinates."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        lin = np.array([[c, -s], [s, c]]) * (self.size / out_size)
        t = np.asarray(self.center, float) - lin @ np.array([out_size / 2, out_size / 2])
        return np.hstack([lin, t[:, None]])


def _normalize_angle(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def _invert_affine(m: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(m[:, :2])
    return np.hstack([inv, (-inv @ m[:, 2])[:, None]])


def _to_index(m: np.ndarray) -> np.ndarray:
    """A continuous-coordinate affine as one on pixel indices (centres at +0.5), for OpenCV."""
    lin = m[:, :2]
    t = lin @ np.array([0.5, 0.5]) + m[:, 2] - 0.5
    return np.hstack([lin, t[:, None]]).astype(np.float64)


def roi_from_keypoints(points: np.ndarray, confidence: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """The landmark model's ROI around BODY_25 keypoints: centre the mid-hip, up towards the
    mid-shoulder, radius the farthest confident keypoint from the centre (at least 1.6 x the
    hip-shoulder distance), as mediapipe builds it from its detector's alignment points."""
    points, ok = np.asarray(points, float), np.asarray(confidence, float) >= CONFIDENT
    hips, shoulders = [9, 12], [2, 5]
    hip, sho = points[hips][ok[hips]], points[shoulders][ok[shoulders]]
    pts = points[ok] if ok.sum() >= 2 else points
    center = hip.mean(axis=0) if len(hip) else pts.mean(axis=0)
    up = sho.mean(axis=0) - center if len(sho) else np.array([0.0, -1.0])
    length = float(np.linalg.norm(up))
    up_dir = up / length if length > 1e-6 else np.array([0.0, -1.0])
    radius = max(float(np.max(np.linalg.norm(pts - center, axis=1))), 1.6 * length, 8.0)
    angle = _normalize_angle(ROI_TARGET_ANGLE - math.atan2(-up_dir[1], up_dir[0]))
    return Roi(center, 2.0 * radius * scale, angle)


def model_path(name: str = LANDMARK_MODEL, folder: str = "pose_landmark") -> Path:
    """A .tflite file of the mediapipe wheel (its modules/<folder>), found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("mediapipe is not installed")
    modules = Path(list(spec.submodule_search_locations)[0]) / "modules"
    for path in (modules / folder / name, modules / name):
        if path.is_file():
            return path
    raise FileNotFoundError(f"{name} not found in {modules}")


def interpreter(path: Path, threads: int = 1):
    """An ai-edge-litert interpreter for a .tflite file, its tensors allocated."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from ai_edge_litert.interpreter import Interpreter

    loaded = Interpreter(model_path=str(path), num_threads=threads)
    loaded.allocate_tensors()
    return loaded


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a after b (both 2x3 affine)."""
    return (np.vstack([a, [0, 0, 1]]) @ np.vstack([b, [0, 0, 1]]))[:2]


class Pyramid:
    """An image and its halvings, so crops far below full size are sampled without aliasing."""

    def __init__(self, image: np.ndarray):
        self.levels = [image]

    def pick(self, scale: float) -> tuple[np.ndarray, float]:
        """(level image, its size relative to the original) for a warp of `scale` (< 1: smaller)."""
        import cv2

        level = 0
        while scale * (2 ** (level + 1)) <= 1.0 and min(self.levels[level].shape[:2]) > 32:
            level += 1
            if level >= len(self.levels):
                self.levels.append(cv2.pyrDown(self.levels[-1]))
        image = self.levels[level]
        return image, image.shape[1] / self.levels[0].shape[1]


def landmark_crop(pyramid: Pyramid, roi: Roi) -> np.ndarray:
    """The landmark model's input: the rotated square `roi` of the pyramid's image, LM_SIZE
    pixels a side, in [0, 1]."""
    import cv2

    source, factor = pyramid.pick(LM_SIZE / max(roi.size, 1e-6))
    to_crop = compose(_invert_affine(roi.crop_to_image(LM_SIZE)), np.array([[1 / factor, 0, 0], [0, 1 / factor, 0]]))
    crop = cv2.warpAffine(source, _to_index(to_crop), (LM_SIZE, LM_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return (crop.astype(np.float32) / 255.0)[None]


def world_in_image_axes(world: np.ndarray, angle: float) -> np.ndarray:
    """The model's world landmarks (crop-aligned axes) turned back to the image's axes."""
    c, s = math.cos(angle), math.sin(angle)
    world = world.copy()
    world[:, :2] = world[:, :2] @ np.array([[c, -s], [s, c]]).T
    return world


@functools.lru_cache(maxsize=1)
def _landmarker():
    """The landmark model's interpreter and its input / world / flag output indices."""
    interpreter_ = interpreter(model_path())
    outputs = {}
    for detail in interpreter_.get_output_details():
        size = int(np.prod(detail["shape"]))
        if size == LM_COUNT * 3:
            outputs["world"] = detail["index"]
        elif size == 1:
            outputs["flag"] = detail["index"]
    return interpreter_, interpreter_.get_input_details()[0]["index"], outputs


def world_landmarks(rgb: np.ndarray, points: np.ndarray, confidence: np.ndarray) -> np.ndarray | None:
    """BODY_25 points3d (metres, hip-centred, camera-aligned axes, as the detector's) from the
    landmark model on the crop around the given keypoints, or None when the model sees no pose
    there (or cannot run)."""
    try:
        landmarker, input_index, outputs = _landmarker()
    except (ImportError, FileNotFoundError, ValueError, RuntimeError):
        return None
    roi = roi_from_keypoints(points, confidence)
    landmarker.set_tensor(input_index, landmark_crop(Pyramid(np.ascontiguousarray(rgb[..., :3])), roi))
    landmarker.invoke()
    if float(landmarker.get_tensor(outputs["flag"]).ravel()[0]) < POSE_PRESENCE_MIN:
        return None
    world = landmarker.get_tensor(outputs["world"]).reshape(LM_COUNT, 3)[:33].astype(np.float64)
    world = world_in_image_axes(world, roi.angle)
    return mapping_matrix("blazepose33") @ world
