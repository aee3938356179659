"""The camera convention, in one place.

The bridge works in OpenCV camera coordinates (x right, y down, z forward, metres). Its world
is Blender's (right-handed, Z up, metres); a Blender camera looks down its local -Z with +Y up.
"""
from __future__ import annotations

import numpy as np

from ..result.format import DEFAULT_FOCAL_35MM, FILM_WIDTH_35MM

# OpenCV camera axes -> Blender camera axes (y and z flip).
BLENDER_FROM_OPENCV_CAMERA = np.diag([1.0, -1.0, -1.0, 1.0])

# A level camera at the world origin looking along world +Y: camera x -> X, y (down) -> -Z,
# z (forward) -> +Y. The default when a single photo says nothing about the camera's pose.
LEVEL_WORLD_FROM_CAMERA = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


def intrinsics(width: int, height: int, focal_35mm: float = DEFAULT_FOCAL_35MM) -> np.ndarray:
    """K for a photo whose longer side spans a 36 mm film at the given 35 mm-equivalent focal."""
    focal_px = focal_35mm / FILM_WIDTH_35MM * max(width, height)
    return np.array([[focal_px, 0.0, width / 2.0], [0.0, focal_px, height / 2.0], [0.0, 0.0, 1.0]])


def project(K: np.ndarray, points_cam: np.ndarray) -> np.ndarray:
    """Pixel coordinates (pixel centres at +0.5) of camera-space points; works on numpy or torch."""
    z = points_cam[..., 2:3]
    xy = points_cam[..., :2] / z
    return xy * K.diagonal()[:2] + K[:2, 2]


def focal_35mm(K: np.ndarray, width: int, height: int) -> float:
    """The 35 mm-equivalent focal length of K: the inverse of `intrinsics`."""
    return float(K[0, 0]) * FILM_WIDTH_35MM / max(width, height)


def blender_camera_matrix(world_from_camera_cv: np.ndarray) -> np.ndarray:
    """The Blender camera object's matrix_world for an OpenCV world_from_camera."""
    return np.asarray(world_from_camera_cv) @ BLENDER_FROM_OPENCV_CAMERA


def blender_lens(K: np.ndarray, width: int, height: int) -> dict:
    """Blender camera data settings reproducing K (sensor fit on the longer side)."""
    longer = max(width, height)
    return {
        "sensor_fit": "HORIZONTAL" if width >= height else "VERTICAL",
        "sensor_width": FILM_WIDTH_35MM,
        "sensor_height": FILM_WIDTH_35MM,
        "lens": focal_35mm(K, width, height),
        "shift_x": -(float(K[0, 2]) - width / 2.0) / longer,
        "shift_y": (float(K[1, 2]) - height / 2.0) / longer,
    }
