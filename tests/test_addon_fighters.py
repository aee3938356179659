"""Fighters built from the bridge's result: armature, skinned mesh, guides, and the coordinate
conventions agreeing between the bridge and Blender's camera."""
import json
from pathlib import Path

import numpy as np
from blender_addon import fighter_arrays, world_points


def _evaluated_vertices(bpy, body):
    evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    world = np.array(evaluated.matrix_world)
    evaluated.to_mesh_clear()
    return co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]


def test_fighter_is_an_armature_with_a_skinned_mesh_matching_the_bridge(detected, blender):
    bpy = blender
    arrays = fighter_arrays(detected)
    armature = bpy.data.objects["Tori"]
    assert armature.type == "ARMATURE"
    assert [b.name for b in armature.data.bones if b.parent is None] == ["root"]
    assert set(armature.data.bones.keys()) == set(arrays["bone_names"].tolist())
    body = bpy.data.objects["Tori body"]
    assert body.parent == armature and body.modifiers["Armature"].object == armature
    assert len(body.vertex_groups) > 50 and body.active_material.name == "Golden Score tori"
    posed = _evaluated_vertices(bpy, body)
    expected = world_points(detected, arrays["vertices"].astype(np.float64))
    assert np.abs(posed - expected).max() < 1e-3  # within a millimetre


def test_keypoints_project_through_the_blender_camera_where_the_bridge_projects_them(detected, blender):
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    from bridge.geometry.camera import project

    scene = detected
    arrays = fighter_arrays(scene)
    K = np.array(json.loads((Path(scene.golden_score.result_dir) / "scene.json").read_text())["camera"]["K"])
    bridge_pixels = project(K, arrays["keypoints3d"].astype(np.float64))
    width, height = scene.render.resolution_x, scene.render.resolution_y
    blender_pixels = []
    for point in world_points(scene, arrays["keypoints3d"].astype(np.float64)):
        ndc = world_to_camera_view(scene, scene.camera, Vector(point))
        blender_pixels.append((ndc.x * width, (1.0 - ndc.y) * height))
    assert np.abs(np.array(blender_pixels) - bridge_pixels).max() < 2.0


def test_keypoint_empties_sit_on_the_detected_keypoints_and_follow_the_artist(detected, blender, addon):
    bpy = blender
    arrays = fighter_arrays(detected)
    guides = addon.fighters.guides
    empties = guides.keypoint_empties(detected, "tori")
    assert len(empties) == 25 and all(e.parent == detected.golden_score.camera for e in empties)
    points, confidence = guides.guide_keypoints(detected, detected.camera, "tori")
    sure = arrays["keypoint_confidence"] > 0
    assert np.abs(points[sure] - arrays["keypoints2d"][sure]).max() < 0.01
    np.testing.assert_allclose(confidence, arrays["keypoint_confidence"], atol=1e-6)
    wrist = empties[4]  # right wrist
    wrist.location.x += 0.02  # dragged to the right in the camera view
    bpy.context.view_layer.update()
    moved, confidence = guides.guide_keypoints(detected, detected.camera, "tori")
    assert moved[4, 0] > points[4, 0] + 5 and confidence[4] == 1.0
    assert np.abs(np.delete(moved - points, 4, axis=0)).max() < 0.01
    box = guides.box_rect(detected, detected.camera, "tori")
    assert box[0] <= points[sure, 0].min() and box[2] >= points[sure, 0].max()


def test_artist_pose_round_trips_to_the_bridges_bone_poses(detected, blender, addon):
    bpy = blender
    arrays = fighter_arrays(detected)
    armature = bpy.data.objects["Tori"]
    pose = addon.fighters.pose.artist_bone_poses(armature, detected.camera)
    np.testing.assert_allclose(pose, arrays["bone_poses"], atol=1e-4)
    names = arrays["bone_names"].tolist()
    armature.pose.bones["lowerarm01.R"].rotation_quaternion = (0.9, 0.0, 0.0, 0.44)
    bpy.context.view_layer.update()
    changed = np.abs(addon.fighters.pose.artist_bone_poses(armature, detected.camera) - arrays["bone_poses"]).max(
        axis=(1, 2)) > 1e-3
    assert changed[names.index("lowerarm01.R")] and not changed[names.index("lowerarm01.L")]
    assert not changed[names.index("root")]
