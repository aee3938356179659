"""Refine starts from the artist's pose, shows its live preview, and frames what the camera sees."""
import numpy as np
import pytest
from blender_addon import MODULE, fighter_arrays


def _angle(a, b):
    """Rotation angle (radians) between two 3x3 rotations."""
    return np.arccos(np.clip((np.trace(a.T @ b) - 1) / 2, -1, 1))


def test_refine_starts_from_the_artists_pose(detected, blender, addon):
    bpy = blender
    before = fighter_arrays(detected)
    names = before["bone_names"].tolist()
    armature = bpy.data.objects["Tori"]
    forearm = armature.pose.bones["lowerarm01.R"]
    forearm.rotation_quaternion = (0.966, 0.0, 0.0, 0.259)  # 30 degrees: a pose the fit would not find
    bpy.context.view_layer.update()
    artist = addon.fighters.pose.artist_bone_poses(armature, detected.camera)
    state = detected.golden_score
    state.iterations, state.prior_weight = 3, 10.0
    old_result = state.result_dir
    assert bpy.ops.golden_score.refine() == {"FINISHED"}
    assert state.result_dir != old_result  # a new folder: undo can go back to the old one
    after = fighter_arrays(detected)
    j = names.index("lowerarm01.R")
    to_artist = _angle(after["bone_poses"][j, :3, :3], artist[j, :3, :3])
    to_fit = _angle(after["bone_poses"][j, :3, :3], before["bone_poses"][j, :3, :3])
    assert to_artist < to_fit / 2
    assert "Golden Score preview" in bpy.data.images  # the live comparison, for an image editor


def test_refine_needs_selected_bones_when_asked_for_them(detected, blender):
    detected.golden_score.refine_target = "BONES"
    with pytest.raises(RuntimeError, match="Select the bones"):
        blender.ops.golden_score.refine()


def test_what_the_photo_camera_sees_is_its_render_border(detected, blender, addon):
    scene = detected
    scene.render.use_border = True
    scene.render.border_min_x, scene.render.border_max_x = 0.25, 0.75
    scene.render.border_min_y, scene.render.border_max_y = 0.0, 0.5  # the lower half of the image
    crop = addon.fitting.operators.refine_crop(blender.context)
    np.testing.assert_allclose(crop, (96, 256, 288, 512))


def test_what_another_camera_sees_is_its_frame_on_the_photo(detected, blender, addon):
    bpy = blender
    scene = detected
    zoom = bpy.data.objects.new("Zoom", scene.camera.data.copy())
    scene.collection.objects.link(zoom)
    zoom.matrix_world = scene.camera.matrix_world
    zoom.data.lens *= 2  # the same view, twice the focal length: the middle half of the photo
    scene.camera = zoom
    bpy.context.view_layer.update()
    crop = addon.fitting.operators.refine_crop(bpy.context)
    np.testing.assert_allclose(crop, (96, 128, 288, 384), atol=0.5)


def test_test_the_bridge_reports_versions(empty_scene, blender):
    assert blender.ops.golden_score.test_bridge() == {"FINISHED"}
    versions = blender.context.preferences.addons[MODULE].preferences.bridge_versions
    assert "bridge 0.1.0" in versions and "torch" in versions
