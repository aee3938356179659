"""Fighters as Blender data: an armature with the body model's bone names, a mesh skinned to
it through vertex groups, and a material per role.

The armature's rest pose is the body model's rest skeleton; each bone is posed so that its
deform matrix (pose_bone.matrix @ bone.matrix_local⁻¹) equals the bridge's linear-blend-skinning
transform for that bone. The skinned mesh then lands exactly on the bridge's vertices, whatever
axis convention the body model uses for its bones.
"""
from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

from ..results import FORMAT

ROLE_PROP = "golden_score_role"
BONE_NAMES_PROP = "golden_score_bone_names"
REST_POSES_PROP = "golden_score_rest_poses"  # the body model's rest bone frames, for the artist's pose
HYPOTHESES_PROP = "golden_score_hypotheses"  # the result's ranked alternative bone poses, (H, J, 4, 4) flat
HYPOTHESIS_LABELS_PROP = "golden_score_hypothesis_labels"
HYPOTHESIS_PROP = "golden_score_hypothesis"  # on the armature object: which one it shows (undo restores it)
ROLE_COLOURS = {"tori": (0.05, 0.12, 0.75, 1.0), "uke": (0.85, 0.85, 0.85, 1.0)}
COLLECTION = "Golden Score"


def scene_collection(scene, name: str = COLLECTION):
    """The collection our objects live in, made and linked to the scene when missing."""
    collection = bpy.data.collections.get(name)
    if collection is None:
        collection = bpy.data.collections.new(name)
    if collection.name not in scene.collection.children:
        scene.collection.children.link(collection)
    return collection


def fighter_armature(scene, role: str):
    for obj in scene.objects:
        if obj.type == "ARMATURE" and obj.get(ROLE_PROP) == role:
            return obj
    return None


def fighter_armatures(scene) -> dict:
    return {obj[ROLE_PROP]: obj for obj in scene.objects if obj.type == "ARMATURE" and ROLE_PROP in obj}


def fighter_meshes(scene) -> list:
    """Every fighter's skinned mesh (the armatures' mesh children): what exports and renders take."""
    return [child for armature in fighter_armatures(scene).values() for child in armature.children
            if child.type == "MESH"]


def remove_fighter(scene, role: str) -> None:
    armature = fighter_armature(scene, role)
    if armature is None:
        return
    for child in list(armature.children):
        mesh = child.data if child.type == "MESH" else None
        bpy.data.objects.remove(child)
        if mesh is not None and mesh.users == 0:
            bpy.data.meshes.remove(mesh)
    data = armature.data
    bpy.data.objects.remove(armature)
    if data.users == 0:
        bpy.data.armatures.remove(data)


def rest_vertices(vertices, skin_weights, bone_transforms) -> np.ndarray:
    """Undo linear blend skinning: the rest-pose vertices that the transforms carry to `vertices`."""
    blended = np.einsum("vj,jab->vab", skin_weights.astype(np.float64), bone_transforms.astype(np.float64))
    offset = vertices.astype(np.float64) - blended[:, :3, 3]
    return np.linalg.solve(blended[:, :3, :3], offset[..., None])[..., 0]


def _material(role: str):
    name = f"Golden Score {role}"
    material = bpy.data.materials.get(name)
    if material is None:
        material = bpy.data.materials.new(name)
        material.use_nodes = True
        colour = ROLE_COLOURS.get(role, (0.6, 0.6, 0.6, 1.0))
        material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = colour
        material.node_tree.nodes["Principled BSDF"].inputs["Roughness"].default_value = 0.7
        material.diffuse_color = colour  # the solid viewport's colour
    return material


def _armature(context, role: str, arrays: dict, collection, location) -> bpy.types.Object:
    data = bpy.data.armatures.new(role.capitalize())
    armature = bpy.data.objects.new(role.capitalize(), data)
    collection.objects.link(armature)
    armature.location = location
    armature.show_in_front = True
    names = [str(n) for n in arrays["bone_names"]]
    previous_active = context.view_layer.objects.active
    context.view_layer.objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    edit_bones = []
    for name, head, tail in zip(names, arrays["rest_heads"], arrays["rest_tails"]):
        bone = data.edit_bones.new(name)
        bone.head, bone.tail = head.tolist(), tail.tolist()
        edit_bones.append(bone)
    for bone, parent in zip(edit_bones, arrays["bone_parents"]):
        if parent >= 0:
            bone.parent = edit_bones[parent]
            bone.use_connect = False  # the body model may move a child's head
    bpy.ops.object.mode_set(mode="OBJECT")
    context.view_layer.objects.active = previous_active
    armature[ROLE_PROP] = role
    data[BONE_NAMES_PROP] = names
    return armature


def pose_armature(armature, deform: np.ndarray) -> None:
    """Pose each bone so that its deform matrix in armature space is deform[j].

    A pose bone's matrix is parent.matrix @ parent.matrix_local⁻¹ @ matrix_local @ matrix_basis,
    so matrix_basis = matrix_local⁻¹ @ D_parent⁻¹ @ D @ matrix_local."""
    names = list(armature.data[BONE_NAMES_PROP])
    index = {name: j for j, name in enumerate(names)}
    for j, name in enumerate(names):
        bone = armature.data.bones[name]
        local = np.array(bone.matrix_local)
        relative = deform[j] if bone.parent is None else np.linalg.inv(deform[index[bone.parent.name]]) @ deform[j]
        armature.pose.bones[name].matrix_basis = Matrix((np.linalg.inv(local) @ relative @ local).tolist())


def _skinned_mesh(role: str, arrays: dict, rest: np.ndarray, armature, collection) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(f"{role.capitalize()} body")
    mesh.from_pydata(rest, [], arrays["faces"].astype(np.int64))
    mesh.shade_smooth()
    mesh.materials.append(_material(role))
    body = bpy.data.objects.new(f"{role.capitalize()} body", mesh)
    collection.objects.link(body)
    body.parent = armature
    weights = arrays["skin_weights"]
    for j, name in enumerate(armature.data[BONE_NAMES_PROP]):
        vertices = np.flatnonzero(weights[:, j] > 0)
        if len(vertices) == 0:
            continue
        group = body.vertex_groups.new(name=name)
        for v in vertices:
            group.add((int(v),), float(weights[v, j]), "REPLACE")
    body.modifiers.new("Armature", "ARMATURE").object = armature
    return body


def _keep_hypotheses(armature, arrays: dict) -> None:
    """The result's ranked alternatives (optional keys), kept on the armature for Next Hypothesis,
    so stepping through them needs neither the result folder nor the bridge."""
    poses = arrays.get(FORMAT.HYPOTHESIS_BONE_POSES)
    joints = len(arrays["bone_names"])
    if poses is None or poses.ndim != 4 or poses.shape[1:] != (joints, 4, 4) or len(poses) < 2:
        return
    labels = arrays.get(FORMAT.HYPOTHESIS_LABEL)
    labels = [str(label) for label in labels] if labels is not None and len(labels) == len(poses) else \
        ["as fitted"] + [f"alternative {k}" for k in range(1, len(poses))]
    armature.data[HYPOTHESES_PROP] = poses.astype(np.float64).ravel().tolist()
    armature.data[HYPOTHESIS_LABELS_PROP] = labels
    armature[HYPOTHESIS_PROP] = 0


def _same_body(armature, arrays: dict) -> bool:
    """Whether `armature` (a built fighter) has the rest skeleton and mesh that `arrays` would
    build: the same bones where they stand at rest, and a body mesh of as many vertices. A Fit
    that moved only the pose (the warm bridge keeps the build) then only poses the bones."""
    names = [str(n) for n in arrays["bone_names"]]
    if list(armature.data.get(BONE_NAMES_PROP, [])) != names:
        return False
    meshes = [c for c in armature.children if c.type == "MESH"]
    if len(meshes) != 1 or len(meshes[0].data.vertices) != len(arrays["vertices"]):
        return False
    heads = np.empty(3 * len(names))
    armature.data.bones.foreach_get("head_local", heads)
    order = [armature.data.bones.find(name) for name in names]
    return bool(np.allclose(heads.reshape(-1, 3)[order], arrays["rest_heads"], atol=1e-5))


def build_fighter(context, role: str, arrays: dict, world_from_camera: np.ndarray) -> bpy.types.Object:
    """Pose the fighter `role` by `arrays` (a fighter_<role>.npz); `world_from_camera` places the
    bridge's camera in the world. A new armature and skinned mesh replace the fighter unless it
    already has this body (_same_body): then its bones are posed anew, in a fraction of the time."""
    scene = context.scene
    transforms = arrays["bone_transforms"].astype(np.float64)
    world_transforms = world_from_camera @ transforms
    root_position = (world_from_camera @ arrays["bone_poses"][0].astype(np.float64))[:3, 3]
    armature = fighter_armature(scene, role)
    if armature is not None and _same_body(armature, arrays):
        armature.matrix_basis = Matrix.Translation(root_position.tolist())  # as _armature places it
        for prop in (HYPOTHESES_PROP, HYPOTHESIS_LABELS_PROP):
            armature.data.pop(prop, None)
        armature.pop(HYPOTHESIS_PROP, None)
    else:
        remove_fighter(scene, role)
        armature = _armature(context, role, arrays, scene_collection(scene), root_position.tolist())
        rest = rest_vertices(arrays["vertices"], arrays["skin_weights"], transforms)
        _skinned_mesh(role, arrays, rest, armature, scene_collection(scene))
    rest_poses = np.linalg.inv(transforms) @ arrays["bone_poses"].astype(np.float64)
    armature.data[REST_POSES_PROP] = rest_poses.ravel().tolist()
    _keep_hypotheses(armature, arrays)
    armature_from_world = np.eye(4)
    armature_from_world[:3, 3] = -root_position
    pose_armature(armature, armature_from_world @ world_transforms)
    return armature
