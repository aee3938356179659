"""What the photo cannot decide, fixed in one click: Flip Limb Depth, Flip Facing and Next
Hypothesis. Each is instant (no bridge), keeps the keypoints on the photo and is one undo step.
The geometry is in depth_flip.py (no bpy); here the armature is read and posed through it.
"""
from __future__ import annotations

import bpy
import numpy as np

from ..coordinates import swap_camera_convention
from ..properties import settings
from ..results import BODY_25
from . import depth_flip
from .build import (BONE_NAMES_PROP, HYPOTHESES_PROP, HYPOTHESIS_LABELS_PROP, HYPOTHESIS_PROP, REST_POSES_PROP,
                    ROLE_PROP, fighter_armatures, pose_armature)
from .guides import CONFIDENCE_PROP, PIXEL_PROP, keypoint_empties


def fighter_of(context):
    """The fighter armature the artist works on: the active object (or the armature of the
    active body mesh or pose bone); the only fighter when the scene has just one."""
    candidates = [getattr(context, "active_pose_bone", None), context.view_layer.objects.active]
    for item in candidates:
        obj = getattr(item, "id_data", None) if isinstance(item, bpy.types.PoseBone) else item
        for candidate in (obj, getattr(obj, "parent", None)):
            if candidate is not None and candidate.type == "ARMATURE" and ROLE_PROP in candidate:
                return candidate
    armatures = list(fighter_armatures(context.scene).values())
    return armatures[0] if len(armatures) == 1 else None


def active_bone(context, armature):
    """The active pose bone of `armature` (from the context in Pose Mode, else the armature's
    active bone)."""
    bone = getattr(context, "active_pose_bone", None)
    if bone is not None and bone.id_data == armature:
        return bone
    active = armature.data.bones.active
    return armature.pose.bones.get(active.name) if active is not None else None


def skeleton(armature) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Bone names, parent indices and rest heads and tails (armature space), in the result's order."""
    names = list(armature.data[BONE_NAMES_PROP])
    index = {name: j for j, name in enumerate(names)}
    bones = [armature.data.bones[name] for name in names]
    parents = np.array([index[b.parent.name] if b.parent is not None else -1 for b in bones])
    heads = np.array([b.head_local for b in bones], dtype=np.float64)
    tails = np.array([b.tail_local for b in bones], dtype=np.float64)
    return names, parents, heads, tails


def deform_matrices(armature, names) -> np.ndarray:
    """(J, 4, 4) each bone's deform matrix in armature space: pose matrix @ rest matrix⁻¹."""
    return np.array([np.array(armature.pose.bones[name].matrix) @ np.linalg.inv(
        np.array(armature.data.bones[name].matrix_local)) for name in names])


def camera_eye(context, armature) -> np.ndarray:
    """The photo camera's centre in the armature's space: every ray of the photo starts there."""
    camera = settings(context).camera
    return (np.linalg.inv(np.array(armature.matrix_world)) @ np.array([*camera.matrix_world.translation, 1.0]))[:3]


def _pose(context, armature, deform) -> None:
    pose_armature(armature, deform)
    context.view_layer.update()


LAST_FLIP_PROP = "golden_score_last_flip"  # on the armature: the limb's pose before and after the last flip


def flip_limb_depth(context, armature, bone_name: str) -> tuple[str, float]:
    """Mirror in depth the limb that bone `bone_name` is on. Returns the limb's name and how far
    (metres) its farthest joint had to stay off its ray, where the segment could not reach it.

    Flipping the same limb again, untouched since, restores exactly the pose before the first
    flip (remembered on the armature, so undo keeps it right), also where a joint could not
    stay on its ray and the geometry alone would not lead back."""
    names, parents, heads, tails = skeleton(armature)
    limb, chain = depth_flip.limb_of(names, parents, names.index(bone_name))
    bones = depth_flip.descendants(parents, chain[0][0])
    deform = deform_matrices(armature, names)
    last = armature.get(LAST_FLIP_PROP)
    if last is not None and last.get("limb") == limb and len(last["after"]) == len(bones) * 16 and \
            np.abs(np.array(last["after"]).reshape(-1, 4, 4) - deform[bones]).max() < 1e-4:
        flipped = deform.copy()
        flipped[bones] = np.array(last["before"]).reshape(-1, 4, 4)
        miss = float(last.get("miss", 0.0))
    else:
        eye = camera_eye(context, armature)
        old = depth_flip.chain_joints(deform, heads, tails, chain)
        new = depth_flip.flip_chain_depth(old, eye)
        flipped = depth_flip.pose_chain(deform, parents, chain, old, new)
        miss = float(depth_flip.ray_distances(new, old, eye).max())
    armature[LAST_FLIP_PROP] = {"limb": limb, "before": deform[bones].ravel().tolist(),
                                "after": flipped[bones].ravel().tolist(), "miss": miss}
    _pose(context, armature, flipped)
    return limb, miss


def _copied(value):
    return value.to_list() if hasattr(value, "to_list") else value


def swap_keypoint_guides(scene, role: str) -> None:
    """The keypoint empties of `role` with left and right swapped (each stays on its pixel under
    the other name), as a body turned to face the other way has them."""
    empties = keypoint_empties(scene, role)
    if len(empties) != len(BODY_25):
        return
    for j, name in enumerate(BODY_25):
        if not name.startswith("left_"):
            continue
        a, b = empties[j], empties[BODY_25.index("right_" + name[len("left_"):])]
        a.location, b.location = b.location.copy(), a.location.copy()
        for prop in (PIXEL_PROP, CONFIDENCE_PROP):
            a[prop], b[prop] = _copied(b[prop]), _copied(a[prop])
        a.empty_display_type, b.empty_display_type = b.empty_display_type, a.empty_display_type


def flip_facing(context, armature) -> None:
    """Turn the fighter to face the other way, its keypoints where they were with left and right
    swapped (see depth_flip.py); its keypoint guides swap too, so Fit keeps the new facing."""
    names, parents, heads, tails = skeleton(armature)
    deform = depth_flip.flip_facing(deform_matrices(armature, names), names, parents, heads, tails,
                                    camera_eye(context, armature))
    _pose(context, armature, deform)
    swap_keypoint_guides(context.scene, armature[ROLE_PROP])


def hypotheses(armature) -> tuple[np.ndarray, list[str]] | None:
    """The result's ranked alternatives kept on the armature: (H, J, 4, 4) bone poses in the
    photo camera's OpenCV coordinates and their labels; None when it has none."""
    if HYPOTHESES_PROP not in armature.data:
        return None
    joints = len(armature.data[BONE_NAMES_PROP])
    poses = np.array(armature.data[HYPOTHESES_PROP], dtype=np.float64).reshape(-1, joints, 4, 4)
    return poses, [str(label) for label in armature.data[HYPOTHESIS_LABELS_PROP]]


def hypothesis_text(armature) -> str | None:
    """"hypothesis k of H: label" for what the armature shows, or None without alternatives."""
    found = hypotheses(armature)
    if found is None:
        return None
    k = int(armature.get(HYPOTHESIS_PROP, 0))
    return f"hypothesis {k + 1} of {len(found[0])}: {found[1][k]}"


def show_hypothesis(context, armature, k: int) -> None:
    """Pose the armature as hypothesis k (bone frames = deform @ rest frame, as in the result)."""
    poses, _ = hypotheses(armature)
    joints = len(poses[0])
    rest_poses = np.array(armature.data[REST_POSES_PROP], dtype=np.float64).reshape(joints, 4, 4)
    world_from_camera = swap_camera_convention(np.array(settings(context).camera.matrix_world))
    armature_from_camera = np.linalg.inv(np.array(armature.matrix_world)) @ world_from_camera
    _pose(context, armature, armature_from_camera @ poses[k] @ np.linalg.inv(rest_poses))
    armature[HYPOTHESIS_PROP] = int(k)


class _FighterOperator:
    @classmethod
    def poll(cls, context):
        if settings(context).camera is None:
            cls.poll_message_set("Import the photo first: its camera decides what keeps the keypoints on the photo.")
            return False
        if context.mode not in {"OBJECT", "POSE"}:
            cls.poll_message_set("Leave Edit Mode first.")
            return False
        if fighter_of(context) is None:
            cls.poll_message_set("Select a fighter (its armature or its body).")
            return False
        return True


class GS_OT_flip_limb_depth(_FighterOperator, bpy.types.Operator):
    """Mirror the selected bone's arm or leg in depth as the photo camera sees it: every joint
    stays on its pixel of the photo, and the limb swaps near and far"""

    bl_idname = "golden_score.flip_limb_depth"
    bl_label = "Flip Limb Depth"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not super().poll(context):
            return False
        armature = fighter_of(context)
        bone = active_bone(context, armature)
        names, parents = skeleton(armature)[:2]
        if bone is None or bone.name not in names:
            cls.poll_message_set("Select a bone of an arm or a leg in Pose Mode.")
            return False
        if depth_flip.limb_of(names, parents, names.index(bone.name)) is None:
            cls.poll_message_set(f"{bone.name} is not on an arm or a leg: select a bone of the limb to flip.")
            return False
        return True

    def execute(self, context):
        armature = fighter_of(context)
        limb, miss = flip_limb_depth(context, armature, active_bone(context, armature).name)
        if miss > 0.002:
            self.report({"WARNING"}, f"Flipped the depth of {armature[ROLE_PROP]}'s {limb}; one joint is "
                                     f"{miss * 1000:.0f} mm off its keypoint's ray (its bone is too short to reach "
                                     "it at the new depth)")
        else:
            self.report({"INFO"}, f"Flipped the depth of {armature[ROLE_PROP]}'s {limb}")
        return {"FINISHED"}


class GS_OT_flip_facing(_FighterOperator, bpy.types.Operator):
    """Turn the fighter to face the other way (towards the camera or away from it): the keypoints
    stay on the photo, with left and right swapped, as they are for a body seen from the other side"""

    bl_idname = "golden_score.flip_facing"
    bl_label = "Flip Facing"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        armature = fighter_of(context)
        flip_facing(context, armature)
        self.report({"INFO"}, f"{armature[ROLE_PROP].capitalize()} turned to face the other way "
                              "(left and right swapped)")
        return {"FINISHED"}


class GS_OT_next_hypothesis(_FighterOperator, bpy.types.Operator):
    """Show the fighter's next ranked alternative (another limb depth or facing the photo allows),
    after the last one the first again"""

    bl_idname = "golden_score.next_hypothesis"
    bl_label = "Next Hypothesis"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        armature = fighter_of(context)
        found = hypotheses(armature)
        if found is None:
            self.report({"ERROR"}, f"{armature[ROLE_PROP].capitalize()}'s result holds no alternatives; "
                                   "fit it again with a bridge that ranks them.")
            return {"CANCELLED"}
        k = (int(armature.get(HYPOTHESIS_PROP, 0)) + 1) % len(found[0])
        show_hypothesis(context, armature, k)
        self.report({"INFO"}, f"{armature[ROLE_PROP].capitalize()}: {hypothesis_text(armature)}")
        return {"FINISHED"}


classes = (GS_OT_flip_limb_depth, GS_OT_flip_facing, GS_OT_next_hypothesis)
register, unregister = bpy.utils.register_classes_factory(classes)
