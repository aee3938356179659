"""The bridge's OpenCV camera and Blender's camera, converted in exactly one place.

The bridge works in OpenCV camera coordinates (x right, y down, z forward, metres) with
intrinsics K in the photo's pixels; its world is Blender's (Z up, metres). A Blender camera
looks down its local -Z with +Y up, and its lens, sensor and shift stand in for K.
"""
from __future__ import annotations

import numpy as np

from .locations import bridge_format

FILM_WIDTH_35MM = bridge_format().FILM_WIDTH_35MM  # the bridge's camera convention
_FLIP_Y_Z = np.diag([1.0, -1.0, -1.0, 1.0])


def swap_camera_convention(world_from_camera) -> np.ndarray:
    """world_from_camera of an OpenCV camera <-> matrix_world of the Blender camera.

    The two differ by a flip of the camera's y and z axes, which is its own inverse, so the
    same function converts either way."""
    return np.asarray(world_from_camera, dtype=np.float64) @ _FLIP_Y_Z


def set_intrinsics(camera_data, scene, K, width: int, height: int) -> None:
    """Make the Blender camera and the render size reproduce K for a width x height photo."""
    longer = max(width, height)
    scene.render.resolution_x, scene.render.resolution_y = int(width), int(height)
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    camera_data.type = "PERSP"
    camera_data.sensor_fit = "HORIZONTAL" if width >= height else "VERTICAL"
    camera_data.sensor_width = camera_data.sensor_height = FILM_WIDTH_35MM
    camera_data.lens = float(K[0][0]) * FILM_WIDTH_35MM / longer
    camera_data.shift_x = -(float(K[0][2]) - width / 2.0) / longer
    camera_data.shift_y = (float(K[1][2]) - height / 2.0) / longer


def intrinsics(camera_data, scene) -> np.ndarray:
    """K of a Blender camera at the scene's render size (the inverse of `set_intrinsics`)."""
    width, height = scene.render.resolution_x, scene.render.resolution_y
    longer = max(width, height)
    fit = camera_data.sensor_fit
    if fit == "AUTO":
        fit = "HORIZONTAL" if width >= height else "VERTICAL"
    sensor = camera_data.sensor_width if fit == "HORIZONTAL" else camera_data.sensor_height
    fit_pixels = width if fit == "HORIZONTAL" else height
    focal = camera_data.lens / sensor * fit_pixels
    return np.array([[focal, 0.0, width / 2.0 - camera_data.shift_x * longer],
                     [0.0, focal, height / 2.0 + camera_data.shift_y * longer],
                     [0.0, 0.0, 1.0]])


def focal_35mm(camera_data, scene) -> float:
    """The 35 mm-equivalent focal length the bridge takes (--focal-35mm)."""
    K = intrinsics(camera_data, scene)
    return float(K[0, 0]) * FILM_WIDTH_35MM / max(scene.render.resolution_x, scene.render.resolution_y)


def camera_from_world(camera_object) -> np.ndarray:
    """World -> OpenCV camera coordinates for the camera object as it is now."""
    return np.linalg.inv(swap_camera_convention(np.array(camera_object.matrix_world)))


def pixels(camera_object, scene, world_points) -> np.ndarray:
    """Photo pixel coordinates (pixel centres at +0.5, as the bridge's) of world points; NaN for
    a point at the camera's centre (a keypoint the body model does not place lands there)."""
    points = np.asarray(world_points, dtype=np.float64).reshape(-1, 3)
    T = camera_from_world(camera_object)
    cam = points @ T[:3, :3].T + T[:3, 3]
    K = intrinsics(camera_object.data, scene)
    with np.errstate(divide="ignore", invalid="ignore"):
        return cam[:, :2] / cam[:, 2:3] * K.diagonal()[:2] + K[:2, 2]


def camera_local_point(camera_object, scene, pixel, depth: float) -> np.ndarray:
    """The point in the camera object's local space that lies `depth` metres in front of the
    camera on the ray through `pixel`, for guides parented to the camera."""
    K = intrinsics(camera_object.data, scene)
    cam = np.array([(pixel[0] - K[0, 2]) / K[0, 0] * depth, (pixel[1] - K[1, 2]) / K[1, 1] * depth, depth, 1.0])
    return (swap_camera_convention(np.eye(4)) @ cam)[:3]
