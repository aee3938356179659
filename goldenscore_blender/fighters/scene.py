"""A bridge result built into the scene: the photo camera's lens, fighters and guides."""
from __future__ import annotations

import bpy
import numpy as np

from ..bridge_client import JobError
from ..coordinates import pixels, set_intrinsics, swap_camera_convention
from ..properties import settings
from ..results import read_result
from .build import build_fighter
from .guides import build_box, build_keypoint_guides, fighter_box, keypoint_rect


def apply_result(context, folder, roles=None, guides: bool = False) -> list[str]:
    """Build the fighters `roles` (default: all in the result) of the result folder, seen
    through the scene's photo camera as it is now; with `guides`, also their keypoint
    empties and, where the artist drew none, a box around each. Returns the roles built."""
    scene_info, fighters = read_result(folder)  # everything is read before the scene changes
    scene = context.scene
    camera = settings(context).camera
    if camera is None:
        raise JobError("The photo camera was deleted while the bridge ran; import the photo again.")
    if context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    width, height = scene_info["image"]["width"], scene_info["image"]["height"]
    set_intrinsics(camera.data, scene, scene_info["camera"]["K"], width, height)
    world_from_camera = swap_camera_convention(np.array(camera.matrix_world))
    roles = [role for role in fighters if roles is None or role in roles]
    for role in roles:
        arrays = fighters[role]
        build_fighter(context, role, arrays, world_from_camera)
        if guides:
            confidence = arrays["keypoint_confidence"]
            fitted = pixels(camera, scene, (world_from_camera[:3, :3] @ arrays["keypoints3d"].T).T
                            + world_from_camera[:3, 3])
            points = np.where(confidence[:, None] > 0, arrays["keypoints2d"], fitted)  # missed: the fit's guess
            build_keypoint_guides(scene, camera, role, points, confidence)
            if fighter_box(scene, role) is None:
                build_box(scene, camera, role, keypoint_rect(points, confidence, width, height))
    settings(context).result_dir = str(folder)
    return roles
