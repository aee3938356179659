"""Flip Limb Depth, Flip Facing and Next Hypothesis in Blender: instant, the keypoints kept on the
photo (projected through the scene's camera), one undo step each."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from blender_addon import fighter_arrays

ARM = ("upperarm01.R", "lowerarm01.R", "wrist.R")  # shoulder, elbow, wrist (and the hand's end)
TWIST = ("upperarm02.R", "lowerarm02.R")  # the second bone of the upper arm and forearm
SIDE_JOINTS = ("upperarm01", "lowerarm01", "wrist", "upperleg01", "lowerleg01", "foot")


def project(scene, points):
    """Photo pixels of world points through the scene's camera (Blender's own projection)."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    width, height = scene.render.resolution_x, scene.render.resolution_y
    seen = [world_to_camera_view(scene, scene.camera, Vector(p)) for p in points]
    return np.array([(v.x * width, (1.0 - v.y) * height) for v in seen])


def world_heads(armature, names):
    world = np.array(armature.matrix_world)
    return np.array([world[:3, :3] @ np.array(armature.pose.bones[n].head) + world[:3, 3] for n in names])


def arm_joints(armature):
    """The right arm's joints: each bone's head and the hand's end."""
    world = np.array(armature.matrix_world)
    tail = world[:3, :3] @ np.array(armature.pose.bones[ARM[-1]].tail) + world[:3, 3]
    return np.vstack([world_heads(armature, ARM), tail])


def pose_matrices(armature):
    return np.array([np.array(b.matrix) for b in armature.pose.bones])


def assert_same_pose(before, after):
    """Within 1e-4 rad and 0.1 mm for every bone."""
    relative = np.einsum("jba,jbc->jac", before[:, :3, :3].astype(np.float64), after[:, :3, :3].astype(np.float64))
    skew = relative - np.swapaxes(relative, 1, 2)
    sine = np.linalg.norm(skew[:, [2, 0, 1], [1, 2, 0]], axis=1) / 2  # atan2 stays exact near zero, arccos does not
    angles = np.arctan2(sine, (np.trace(relative, axis1=1, axis2=2) - 1) / 2)
    assert angles.max() < 1e-4
    assert np.abs(before[:, :3, 3] - after[:, :3, 3]).max() < 1e-4


def select_bone(bpy, armature, name):
    bpy.context.view_layer.objects.active = armature
    armature.data.bones.active = armature.data.bones[name]


def test_flip_limb_depth_keeps_the_arm_on_its_pixels_flips_its_depth_and_undoes_itself(detected, blender):
    bpy, scene = blender, detected
    armature = bpy.data.objects["Tori"]
    select_bone(bpy, armature, "lowerarm01.R")
    before, joints, twist = pose_matrices(armature), arm_joints(armature), world_heads(armature, TWIST)
    eye = np.array(scene.camera.matrix_world.translation)
    assert bpy.ops.golden_score.flip_limb_depth() == {"FINISHED"}
    flipped = arm_joints(armature)
    assert np.abs(project(scene, flipped) - project(scene, joints)).max() < 0.5
    # The twist bones turn with their segment: their heads, partway along it, slide a little along
    # its line in the photo (perspective spaces a segment's points differently once its depth flips).
    assert np.abs(project(scene, world_heads(armature, TWIST)) - project(scene, twist)).max() < 2.0
    np.testing.assert_allclose(np.linalg.norm(np.diff(flipped, axis=0), axis=1),
                               np.linalg.norm(np.diff(joints, axis=0), axis=1), atol=1e-4)
    distance, new_distance = np.linalg.norm(joints - eye, axis=1), np.linalg.norm(flipped - eye, axis=1)
    reach, new_reach = distance[-1] - distance[0], new_distance[-1] - new_distance[0]
    assert abs(reach) > 0.1 and np.sign(new_reach) == -np.sign(reach)  # the hand swapped near and far
    names = [b.name for b in armature.pose.bones]
    moved = np.abs(pose_matrices(armature) - before).max(axis=(1, 2)) > 1e-5
    assert moved[names.index("wrist.R")] and moved[names.index("finger2-1.R")]
    assert not moved[names.index("upperarm01.L")] and not moved[names.index("shoulder01.R")]
    assert bpy.ops.golden_score.flip_limb_depth() == {"FINISHED"}
    assert_same_pose(before, pose_matrices(armature))


def test_flip_limb_depth_works_from_a_finger_and_explains_a_bone_off_the_limbs(detected, blender):
    bpy = blender
    armature = bpy.data.objects["Tori"]
    select_bone(bpy, armature, "spine02")
    assert not bpy.ops.golden_score.flip_limb_depth.poll()
    with pytest.raises(RuntimeError, match="not on an arm or a leg"):
        bpy.ops.golden_score.flip_limb_depth()
    select_bone(bpy, armature, "toe1-1.L")  # a toe flips its leg: the knee or the ankle swaps depth
    leg, other = ["lowerleg01.L", "foot.L"], ["lowerleg01.R", "foot.R"]  # (a thigh in the photo's plane keeps its knee)
    before, other_before = world_heads(armature, leg), world_heads(armature, other)
    assert bpy.ops.golden_score.flip_limb_depth() == {"FINISHED"}
    assert np.abs(world_heads(armature, leg) - before).max() > 0.01
    assert np.abs(world_heads(armature, other) - other_before).max() < 1e-5


def test_flip_facing_keeps_the_keypoints_turns_the_torso_and_swaps_the_guides(detected, blender, addon):
    bpy, scene = blender, detected
    armature = bpy.data.objects["Tori"]
    bpy.context.view_layer.objects.active = armature
    sides = [f"{joint}.{side}" for joint in SIDE_JOINTS for side in "LR"]
    partners = [f"{joint}.{side}" for joint in SIDE_JOINTS for side in "RL"]
    before = project(scene, world_heads(armature, sides + ["neck01", "head"]))
    rest_front = np.array([0.0, -1.0, 0.0])  # Anny faces -y at rest
    spine = armature.pose.bones["spine02"]
    eye = np.array(scene.camera.matrix_world.translation)
    to_body = world_heads(armature, ["spine02"])[0] - eye

    def facing():
        world = np.array(armature.matrix_world)[:3, :3] @ np.array(spine.matrix)[:3, :3] @ np.linalg.inv(
            np.array(spine.bone.matrix_local)[:3, :3])
        return (world @ rest_front) @ to_body / np.linalg.norm(to_body)

    guides = addon.fighters.guides
    points, _ = guides.guide_keypoints(scene, scene.camera, "tori")
    was_facing = facing()
    assert bpy.ops.golden_score.flip_facing() == {"FINISHED"}
    after = project(scene, world_heads(armature, partners + ["neck01", "head"]))
    # Each joint sits where its left-right partner was: the arm on the photo's left stays there.
    assert np.abs(after - before).max() < 4.0
    assert np.sign(facing()) == -np.sign(was_facing) and abs(facing()) > 0.5
    swapped, _ = guides.guide_keypoints(scene, scene.camera, "tori")
    body_25 = addon.results.BODY_25
    right, left = body_25.index("right_wrist"), body_25.index("left_wrist")
    np.testing.assert_allclose(swapped[right], points[left], atol=0.01)
    np.testing.assert_allclose(swapped[body_25.index("nose")], points[body_25.index("nose")], atol=0.01)


def test_flip_facing_is_one_undo_step(detected, blender):
    # Background Blender keeps no undo history by itself: the test pushes the steps that the UI
    # pushes after every operator with UNDO in bl_options.
    bpy = blender
    bpy.context.view_layer.objects.active = bpy.data.objects["Tori"]
    before = pose_matrices(bpy.data.objects["Tori"])
    bpy.ops.ed.undo_push(message="before the flip")
    assert bpy.ops.golden_score.flip_facing() == {"FINISHED"}
    bpy.ops.ed.undo_push(message="Flip Facing")
    assert np.abs(pose_matrices(bpy.data.objects["Tori"]) - before).max() > 0.05
    bpy.ops.ed.undo()
    assert_same_pose(before, pose_matrices(bpy.data.objects["Tori"]))


def _with_hypotheses(addon, scene, folder: Path) -> tuple[Path, np.ndarray]:
    """A copy of the scene's result whose fighter holds three ranked hypotheses: as fitted, the
    left arm flipped, the right leg flipped (what the bridge will write)."""
    depth_flip = addon.fighters.depth_flip
    shutil.copytree(scene.golden_score.result_dir, folder)
    arrays = fighter_arrays(scene)
    names, parents = arrays["bone_names"].tolist(), arrays["bone_parents"]
    transforms = arrays["bone_transforms"].astype(np.float64)
    rest = np.linalg.inv(transforms) @ arrays["bone_poses"].astype(np.float64)
    chains = depth_flip.limb_chains(names)
    heads, tails = arrays["rest_heads"].astype(np.float64), arrays["rest_tails"].astype(np.float64)
    poses = [transforms]
    for limb in ("left arm", "right leg"):
        poses.append(depth_flip.flip_limb(transforms, parents, heads, tails, chains[limb]))
    hypotheses = np.array([p @ rest for p in poses])
    arrays.update(hypothesis_bone_poses=hypotheses.astype(np.float32),
                  hypothesis_label=np.array(["as fitted", "left arm flipped", "right leg flipped"]),
                  hypothesis_score=np.array([1.0, 2.0, 3.0], dtype=np.float32))
    np.savez(folder / "fighter_tori.npz", **arrays)
    return folder, hypotheses


def test_next_hypothesis_steps_through_the_ranked_poses_and_undo_restores(detected, blender, addon, tmp_path):
    bpy, scene = blender, detected
    folder, hypotheses = _with_hypotheses(addon, scene, tmp_path / "result")
    addon.fighters.scene.apply_result(bpy.context, folder)
    bpy.ops.ed.undo_push(message="the result with hypotheses")  # the UI's undo steps (see above)
    armature = bpy.data.objects["Tori"]
    bpy.context.view_layer.objects.active = armature
    text = addon.fighters.hypotheses.hypothesis_text
    artist_pose = addon.fighters.pose.artist_bone_poses
    assert text(armature) == "hypothesis 1 of 3: as fitted"
    for k, label in ((1, "left arm flipped"), (2, "right leg flipped"), (0, "as fitted")):
        assert bpy.ops.golden_score.next_hypothesis() == {"FINISHED"}
        bpy.ops.ed.undo_push(message="Next Hypothesis")
        armature = bpy.data.objects["Tori"]
        assert armature["golden_score_hypothesis"] == k and text(armature) == f"hypothesis {k + 1} of 3: {label}"
        np.testing.assert_allclose(artist_pose(armature, scene.camera), hypotheses[k], atol=1e-4)
    for _ in range(2):
        assert bpy.ops.golden_score.next_hypothesis() == {"FINISHED"}
        bpy.ops.ed.undo_push(message="Next Hypothesis")
    assert bpy.data.objects["Tori"]["golden_score_hypothesis"] == 2
    bpy.ops.ed.undo()
    armature = bpy.data.objects["Tori"]
    assert armature["golden_score_hypothesis"] == 1
    np.testing.assert_allclose(artist_pose(armature, scene.camera), hypotheses[1], atol=1e-4)


def test_next_hypothesis_says_when_the_result_has_none(detected, blender):
    bpy = blender
    armature = bpy.data.objects["Tori"]
    bpy.context.view_layer.objects.active = armature
    for key in ("golden_score_hypotheses", "golden_score_hypothesis_labels"):
        if key in armature.data:
            del armature.data[key]
    with pytest.raises(RuntimeError, match="no alternatives"):
        bpy.ops.golden_score.next_hypothesis()


def test_the_fixes_are_undoable_operators_in_the_panel(addon, blender):
    import inspect

    for name in ("flip_limb_depth", "flip_facing", "next_hypothesis"):
        assert {"REGISTER", "UNDO"} <= set(getattr(blender.types, f"GOLDEN_SCORE_OT_{name}").bl_options), name
        assert f"golden_score.{name}" in inspect.getsource(addon.panels)
