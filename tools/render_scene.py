#!/usr/bin/env python3
"""Render posed Anny bodies with Blender Cycles (CPU) and save their ground truth.

    python tools/render_scene.py --out assets/sample

renders the bundled sample photo: one fighter in a gripping stance on a tatami floor. Other
scripts (a two-person judo scene generator) call `render_scene` with their own people and
camera. Every pose, shape and translation is in the bridge's OpenCV camera coordinates, the
world is Blender's (Z up, metres, floor at z = 0), and the camera goes through
bridge.geometry.camera's `blender_camera_matrix` / `blender_lens`, the one place that converts.

Outputs in the output folder:
    photo.jpg      the render, JPEG quality 95, EXIF FocalLengthIn35mmFilm = the focal used
    mask_<i>.png   person i's whole silhouette (as if alone), 0 / 255
    labels.png     who is seen at each pixel: 0 background, i + 1 person i (the front one where
                   people overlap)
    truth.npz      keypoints2d, keypoints3d, vertices, pose, shape, transl, K,
                   world_from_camera, visibility
    truth.json     sizes, focal, seed, render settings, a description
Needs bpy (Blender as a module); importing this file does not.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.geometry import camera  # noqa: E402
from bridge.imaging.photo import EXIF_FOCAL_35MM, EXIF_IFD  # noqa: E402

SKIN = (0.45, 0.25, 0.15)  # linear RGB base colours for bodies
BLUE = (0.08, 0.16, 0.55)

# The studio the sample was rendered in; render_scene's `environment` overrides any of these.
# Colours are sRGB (the wall) or linear (the world), angles degrees, energies Blender's units.
ENVIRONMENT = {
    "world_colour": (0.55, 0.58, 0.62), "world_strength": 0.35,
    "wall_colour": (0.72, 0.74, 0.78), "wall_texture": "plain", "wall_distance": 8.5,
    "sun_energy": 2.5, "sun_angle": 8.0, "sun_rotation": (40.0, 0.0, -35.0),
    "fill_energy": 350.0, "fill_size": 3.0, "fill_offset": (-1.2, 0.0, 1.6), "fill_target": (0.0, 0.0, 1.0),
}
WALL_TEXTURES = ("plain", "panels", "bricks", "plaster")
# Clutter (judo_scenes' harder scenes): `crowd` None or {"distance", "height", "scale", "seed"}:
# stands of spectators as a multicoloured cell pattern on a plane `distance` m ahead of the
# camera (along its horizontal view), `height` m tall from the floor; `banners` a list of
# {"distance", "lateral", "bottom", "width", "height", "colour" (sRGB)}: coloured quads facing
# the camera, `lateral` m to the right of the view line, `bottom` m above the floor.
ENVIRONMENT.update(crowd=None, banners=())

# A body wearing a gi is split into these regions, one material each (see gi_face_regions).
SKIN_REGION, GI_REGION, BELT_REGION, COLLAR_REGION = range(4)

SAMPLE_WIDTH, SAMPLE_HEIGHT, SAMPLE_FOCAL_35MM = 384, 512, 50.0
SAMPLE_SEED, SAMPLE_SAMPLES = 7, 48


# --------------------------------------------------------------------------- geometry helpers


def look_at(position, target) -> np.ndarray:
    """world_from_camera (OpenCV axes: x right, y down, z forward) of a camera at `position`
    looking at `target`, with no roll (its x axis stays horizontal)."""
    position = np.asarray(position, float)
    forward = np.asarray(target, float) - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    matrix = np.eye(4)
    matrix[:3, :3] = np.stack([right, down, forward], axis=1)
    matrix[:3, 3] = position
    return matrix


def to_world(world_from_camera: np.ndarray, points_cam: np.ndarray) -> np.ndarray:
    return points_cam @ world_from_camera[:3, :3].T + world_from_camera[:3, 3]


def root_orientation(world_from_camera: np.ndarray, yaw_degrees: float) -> np.ndarray:
    """Root rotvec (camera coordinates) of a person standing upright on the floor, turned
    `yaw_degrees` about the world's vertical from facing world -Y (positive: towards +X).

    Anny's rest frame (X the body's left, -Y forward, Z up) is then the world frame rotated by
    the yaw, and the root rotation is camera_from_world @ world_from_anny."""
    from scipy.spatial.transform import Rotation

    camera_from_world = world_from_camera[:3, :3].T
    world_from_anny = Rotation.from_euler("z", yaw_degrees, degrees=True).as_matrix()
    return Rotation.from_matrix(camera_from_world @ world_from_anny).as_rotvec()


def place_on_floor(body, shape, pose, world_from_camera, floor_xy) -> np.ndarray:
    """transl (camera coordinates) putting the root above world (x, y) = floor_xy with the
    lowest vertex on the floor z = 0."""
    # With transl = 0 the root sits at the camera centre; moving it by d (world) moves every
    # vertex by d, so the lowest vertex rises by d_z.
    world = to_world(world_from_camera, _posed(body, shape, pose)[0])
    target = np.array([floor_xy[0], floor_xy[1], 0.0])
    root_world = world_from_camera[:3, 3]
    target[2] = root_world[2] - world[:, 2].min()
    return world_from_camera[:3, :3].T @ (target - root_world)


def hinge_rotvec(body, bone: str, degrees: float) -> np.ndarray:
    hinge = next(h for h in body.hinges if h.bone == bone)
    return np.radians(degrees) * np.asarray(hinge.axis)


def euler_rotvec(sequence: str, degrees) -> np.ndarray:
    """A rotation vector in Anny's rest frame (X the body's left, -Y forward, Z up) from extrinsic
    Euler angles: e.g. ("yx", (40, -50)) rotates about Y by 40 degrees, then about X by -50."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler(sequence, degrees, degrees=True).as_rotvec()


# --------------------------------------------------------------------------- the sample scene

# Rotations in Anny's rest frame. About +X: a downward bone swings backwards and the torso leans
# forward; about +Z: the body's front turns towards its left.
SAMPLE_POSE_DEGREES = {
    "yaw": 30.0,  # the whole body, about the world vertical (its right side comes nearer the camera)
    "knee.L": 40.0, "knee.R": 38.0,  # hinge flexion
    # Arms: upper arm and forearm directions in Anny's frame (the body's), elbow bend measured
    # between the BODY_25 shoulder-elbow and elbow-wrist lines. Anny's rest arm is already bent
    # about 36 degrees there, so the hinge flexion is the bend less that.
    "arm.L": {"bend": 60.0, "upper": (0.25, -0.6, -0.75), "forearm": (-0.25, -0.9, 0.3)},  # lapel grip
    "arm.R": {"bend": 90.0, "upper": (-0.95, -0.25, -0.1), "forearm": (0.0, -0.5, 0.85)},  # sleeve, raised
    "spine05": ("xz", (10.0, 6.0)),  # lean forward, twist a little to the left
    "spine03": ("xz", (10.0, 6.0)),
    "spine01": ("xy", (5.0, -3.0)),
    "neck01": ("x", (-12.0,)),        # lift the chin against the lean
    "head": ("zx", (-22.0, -4.0)),   # turn the face to the right (towards the camera)
    "upperleg01.L": ("yx", (-8.0, -30.0)),  # front leg: a little wide, hip flexed 30 degrees
    # upperleg01.R (back leg): abducted SAMPLE_BACK_HIP_ABDUCTION, flexion solved so both feet
    # stand flat on the floor; foot.L / foot.R: solved so the soles are level.
}
SAMPLE_BACK_HIP_ABDUCTION = 8.0
SAMPLE_SHAPE = {"gender": 0.1, "age": 0.5, "muscle": 0.7, "weight": 0.6, "height": 0.55,
                "proportions": 0.5}
SAMPLE_DESCRIPTION = (
    "One judoka in a gripping stance on tatami, turned 30 degrees from the camera (right side "
    "nearer), left foot about 30 cm ahead of the right, knees bent (hinge flexion left 40, right "
    "38 degrees), torso leaning forward about 25 degrees and twisted a little, left arm reaching "
    "forward for the lapel (elbow bent 60 degrees), right arm raised out to the side for the "
    "sleeve (elbow bent 90 degrees, forearm up and forward), head turned towards the camera. "
    "Muscular, heavier male: gender 0.1 (Anny: 0 male, 1 female), age 0.5, muscle 0.7, "
    "weight 0.6, height 0.55, proportions 0.5."
)


def _posed(body, shape, pose):
    """Vertices and BODY_25 keypoints (numpy, camera coordinates) with transl = 0."""
    import torch

    with torch.no_grad():
        out = body.forward(torch.as_tensor(shape, dtype=body.dtype)[None],
                           torch.as_tensor(pose, dtype=body.dtype)[None],
                           torch.zeros(1, 3, dtype=body.dtype))
    return out.vertices[0].double().numpy(), out.keypoints[0].double().numpy()


def rest_body(body, shape):
    """Rest-pose vertices and bone heads (numpy) of a shape in the frame of `_posed` (Anny's,
    Z up, the root at the origin): Anny's own rest_bone_heads sit elsewhere for other shapes."""
    import torch

    with torch.no_grad():
        out = body.forward(torch.as_tensor(np.asarray(shape)[None], dtype=body.dtype),
                           torch.zeros(1, len(body.bone_names), 3, dtype=body.dtype),
                           torch.zeros(1, 3, dtype=body.dtype))
    return out.vertices[0].double().numpy(), out.bone_poses[0, :, :3, 3].double().numpy()


def _level_foot(body, shape, pose, side, anny_from_camera, rounds=3):
    """Rotate foot.<side> about Anny's X until its heel and big toe are equally high in the
    body's upright frame (the root only yaws, so that frame's vertical is the world's)."""
    from scipy.spatial.transform import Rotation

    from bridge.keypoints import INDEX

    name = "left" if side == "L" else "right"
    index = body.bone_index(f"foot.{side}")
    for _ in range(rounds):
        keypoints = _posed(body, shape, pose)[1] @ anny_from_camera.T
        along = keypoints[INDEX[f"{name}_big_toe"]] - keypoints[INDEX[f"{name}_heel"]]
        pitch = math.atan2(along[2], math.hypot(along[0], along[1]))  # toe above heel: > 0
        # About +X a forward (-Y) vector tips down, so +pitch brings the toe down.
        pose[index] = (Rotation.from_rotvec([pitch, 0.0, 0.0]) * Rotation.from_rotvec(pose[index])).as_rotvec()
    return pose


def _global_rotation(body, pose, bone: str) -> np.ndarray:
    """Rotation of `bone` from rest in Anny's frame, the root left out: local-ref deltas compose
    down the chain, G_child = G_parent @ D_child."""
    from scipy.spatial.transform import Rotation

    chain, index = [], body.bone_index(bone)
    while index > 0:
        chain.append(index)
        index = body.bone_parents[index]
    rotation = np.eye(3)
    for index in reversed(chain):
        rotation = rotation @ Rotation.from_rotvec(pose[index]).as_matrix()
    return rotation


def _bend(keypoints, name, first, middle, last):
    """Degrees between the BODY_25 lines first-middle and middle-last (0: straight)."""
    from bridge.keypoints import INDEX

    a, b, c = (keypoints[INDEX[f"{name}_{joint}"]] for joint in (first, middle, last))
    upper, lower = b - a, c - b
    return math.degrees(math.acos(np.dot(upper, lower) / np.linalg.norm(upper) / np.linalg.norm(lower)))


def _elbow_bend(keypoints, side):
    return _bend(keypoints, "left" if side == "L" else "right", "shoulder", "elbow", "wrist")


def _aim_arm(body, shape, pose, side, bend, upper, forearm, hinge=None):
    """Set the elbow hinge for a `bend`-degree elbow and rotate upperarm01.<side> so the upper
    arm points along `upper` and the forearm as near `forearm` as the bend allows (Anny frame)."""
    import torch
    from scipy.spatial.transform import Rotation

    hinge_bone = f"lowerarm01.{side}"
    if hinge is None:
        hinge = bend - _elbow_bend(_posed(body, shape, np.zeros_like(pose))[1], side)
    pose[body.bone_index(hinge_bone)] = hinge_rotvec(body, hinge_bone, hinge)
    heads = body.model(phenotype_kwargs=torch.as_tensor(shape[None], dtype=body.dtype))[
        "rest_bone_heads"][0].double().numpy()
    head = lambda name: heads[body.bone_index(name)]  # noqa: E731
    upper_rest = head(f"lowerarm01.{side}") - head(f"upperarm01.{side}")
    # With upperarm01 at rest (and upperarm02 too) the forearm's direction relative to the
    # shoulder's frame is the hinge's rotation of its rest direction.
    hinge_matrix = Rotation.from_rotvec(pose[body.bone_index(hinge_bone)]).as_matrix()
    fore_rest = hinge_matrix @ (head(f"wrist.{side}") - head(f"lowerarm01.{side}"))
    parent = _global_rotation(body, pose, body.bone_names[body.bone_parents[body.bone_index(f"upperarm01.{side}")]])
    target, _ = Rotation.align_vectors(np.array([upper, forearm], float), np.stack([upper_rest, fore_rest]),
                                       weights=[np.inf, 1.0])
    pose[body.bone_index(f"upperarm01.{side}")] = Rotation.from_matrix(parent.T @ target.as_matrix()).as_rotvec()
    return pose, hinge


def plant_foot(body, shape, pose, side, hip_y, anny_from_camera, max_flexion):
    """Flex hip `side` (turned `hip_y` degrees about Anny's Y, which spreads or closes the leg)
    until its levelled foot stands as low as the other one, so both soles rest on the floor.

    Between a straight hip and `max_flexion` (about half the knee's bend) more flexion lowers a
    foot that the bent knee lifted behind the body, so bisect there. `anny_from_camera` as for
    _level_foot. Returns the pose, the flexion (degrees) and how much higher (m) this sole ends
    than the other."""
    # The sole vertices of each foot: the lowest few centimetres of the rest body, by side.
    rest = _posed(body, shape, np.zeros_like(pose))[0]  # all zeros: Anny's own frame, Z up
    sole = rest[:, 2] < rest[:, 2].min() + 0.06
    soles = {"L": sole & (rest[:, 0] > 0), "R": sole & (rest[:, 0] < 0)}
    other = "L" if side == "R" else "R"

    def trial_pose(flexion):
        """Pose with the hip flexed by `flexion` degrees, that foot levelled, and how much
        higher its sole is than the other one's."""
        trial = pose.copy()
        trial[body.bone_index(f"upperleg01.{side}")] = euler_rotvec("yx", (hip_y, -flexion))
        trial = _level_foot(body, shape, trial, side, anny_from_camera)
        up = (_posed(body, shape, trial)[0] @ anny_from_camera.T)[:, 2]
        return up[soles[side]].min() - up[soles[other]].min(), trial

    low, high = 0.0, max_flexion
    for _ in range(16):
        middle = 0.5 * (low + high)
        if trial_pose(middle)[0] > 0:
            low = middle
        else:
            high = middle
    flexion = 0.5 * (low + high)
    gap, pose = trial_pose(flexion)
    return pose, flexion, gap


def sample_person(body, world_from_camera, floor_xy=(0.0, 0.0)) -> dict:
    """The sample fighter: shape, pose and transl in camera coordinates, with both feet level
    and planted on the floor."""
    from scipy.spatial.transform import Rotation

    shape = np.array([SAMPLE_SHAPE[name] for name in body.shape_names])
    pose = np.zeros((len(body.bone_names), 3))
    spec = SAMPLE_POSE_DEGREES
    pose[0] = root_orientation(world_from_camera, spec["yaw"])
    for side in "LR":
        pose[body.bone_index(f"lowerleg01.{side}")] = hinge_rotvec(body, f"lowerleg01.{side}", spec[f"knee.{side}"])
    for bone, value in spec.items():
        if bone in body.bone_names:
            pose[body.bone_index(bone)] = euler_rotvec(*value)
    hinges = {}
    for side in "LR":
        # The keypoints follow the skin, so correct the hinge by the bend actually measured.
        arm = spec[f"arm.{side}"]
        pose, hinges[side] = _aim_arm(body, shape, pose, side, **arm)
        for _ in range(3):
            error = arm["bend"] - _elbow_bend(_posed(body, shape, pose)[1], side)
            pose, hinges[side] = _aim_arm(body, shape, pose, side, **arm, hinge=hinges[side] + error)
    anny_from_camera = Rotation.from_rotvec(pose[0]).as_matrix().T
    pose = _level_foot(body, shape, pose, "L", anny_from_camera)
    pose, flexion, gap = plant_foot(body, shape, pose, "R", SAMPLE_BACK_HIP_ABDUCTION, anny_from_camera,
                                    0.5 * spec["knee.R"])
    transl = place_on_floor(body, shape, pose, world_from_camera, floor_xy)
    return {"shape": shape, "pose": pose, "transl": transl, "colour": SKIN,
            "back_hip_flexion": flexion, "foot_gap": gap, "elbow_hinges": hinges}


def sample_camera(width=SAMPLE_WIDTH, height=SAMPLE_HEIGHT, focal_35mm=SAMPLE_FOCAL_35MM):
    K = camera.intrinsics(width, height, focal_35mm)
    # 1.35 m up (above the hips), 3.6 m away, a little to the side, looking slightly down.
    world_from_camera = look_at(position=(0.35, -3.6, 1.35), target=(0.0, 0.0, 0.78))
    return K, world_from_camera


# --------------------------------------------------------------------------- Blender


def _srgb_to_linear(c):
    c = np.asarray(c, float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _principled(bpy, name, colour, roughness=0.6):
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    bsdf = material.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    return material


def _emission(bpy, name, value):
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    nodes = material.node_tree.nodes
    nodes.clear()
    emit = nodes.new("ShaderNodeEmission")
    emit.inputs["Color"].default_value = (value, value, value, 1.0)
    emit.inputs["Strength"].default_value = 1.0
    out = nodes.new("ShaderNodeOutputMaterial")
    material.node_tree.links.new(emit.outputs["Emission"], out.inputs["Surface"])
    return material


def _tatami(bpy):
    """Green and yellow-green tatami: 2 x 1 m mats (a brick texture) with thin dark seams."""
    material = _principled(bpy, "tatami", (0.5, 0.5, 0.5), 0.75)  # its colour comes from the texture below
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = nodes["Principled BSDF"]
    coords = nodes.new("ShaderNodeTexCoord")
    brick = nodes.new("ShaderNodeTexBrick")
    brick.inputs["Color1"].default_value = (*_srgb_to_linear((0.42, 0.62, 0.22)), 1.0)
    brick.inputs["Color2"].default_value = (*_srgb_to_linear((0.50, 0.66, 0.24)), 1.0)
    brick.inputs["Mortar"].default_value = (*_srgb_to_linear((0.22, 0.30, 0.12)), 1.0)
    brick.inputs["Scale"].default_value = 1.0
    brick.inputs["Mortar Size"].default_value = 0.006
    brick.inputs["Brick Width"].default_value = 2.0
    brick.inputs["Row Height"].default_value = 1.0
    brick.offset = 0.5
    noise = nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = 40.0
    bump = nodes.new("ShaderNodeBump")
    bump.inputs["Strength"].default_value = 0.05
    links.new(coords.outputs["Object"], brick.inputs["Vector"])
    links.new(brick.outputs["Color"], bsdf.inputs["Base Color"])
    links.new(coords.outputs["Object"], noise.inputs["Vector"])
    links.new(noise.outputs["Fac"], bump.inputs["Height"])
    links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    return material


def _wall(bpy, colour, texture):
    """The backdrop's material: a plain painted wall, or one with a procedural pattern (wooden
    panels, bricks, rough plaster) in shades of `colour` (sRGB), so backgrounds vary."""
    material = _principled(bpy, "wall", tuple(_srgb_to_linear(colour)), 0.9)
    if texture == "plain":
        return material
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = nodes["Principled BSDF"]
    coords = nodes.new("ShaderNodeTexCoord")
    dark = tuple(_srgb_to_linear(np.asarray(colour) * 0.7))
    if texture == "plaster":
        pattern = nodes.new("ShaderNodeTexNoise")
        pattern.inputs["Scale"].default_value = 3.0
        pattern.inputs["Detail"].default_value = 8.0
        ramp = nodes.new("ShaderNodeMixRGB")
        ramp.inputs["Color1"].default_value = (*dark, 1.0)
        ramp.inputs["Color2"].default_value = (*_srgb_to_linear(colour), 1.0)
        links.new(pattern.outputs["Fac"], ramp.inputs["Fac"])
        links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    else:
        pattern = nodes.new("ShaderNodeTexBrick")
        pattern.inputs["Color1"].default_value = (*_srgb_to_linear(colour), 1.0)
        pattern.inputs["Color2"].default_value = (*_srgb_to_linear(np.asarray(colour) * 0.9), 1.0)
        pattern.inputs["Mortar"].default_value = (*dark, 1.0)
        panels = texture == "panels"  # tall boards with thin seams, or small bricks
        pattern.inputs["Scale"].default_value = 1.0 if panels else 4.0
        pattern.inputs["Mortar Size"].default_value = 0.004 if panels else 0.015
        pattern.inputs["Brick Width"].default_value = 0.3 if panels else 0.5
        pattern.inputs["Row Height"].default_value = 3.0 if panels else 0.25
        links.new(pattern.outputs["Color"], bsdf.inputs["Base Color"])
    links.new(coords.outputs["Object"], pattern.inputs["Vector"])
    return material


@functools.lru_cache(maxsize=2)
def dominant_bones(body) -> tuple[str, ...]:
    """Name of the bone that moves each vertex most (from Anny's skin weights): what a vertex
    belongs to when colouring a gi or choosing where a hand grips."""
    bones = body.model.vertex_bone_indices.numpy()
    strongest = body.model.vertex_bone_weights.numpy().argmax(axis=1)
    return tuple(body.bone_names[i] for i in bones[np.arange(len(bones)), strongest])


def gi_face_regions(body, shape) -> np.ndarray:
    """Which region (SKIN_REGION, GI_REGION, BELT_REGION, COLLAR_REGION) each face of a body in a
    judo gi belongs to, from the rest pose of this shape: skin where the gi leaves the body bare
    (head and neck, hands and the last 5 cm of the forearms, feet and ankles), the belt as a
    5 cm band at the hips, the V of the open lapels on the chest (skin, or an undershirt), the
    jacket and trousers everywhere else. Bones come from the skin weights, so a region follows
    its limb in any pose."""
    vertices, heads = rest_body(body, shape)
    head = lambda name: heads[body.bone_index(name)]  # noqa: E731
    names = np.array(dominant_bones(body))
    bare_bones = ("neck", "head", "eye", "wrist", "finger", "metacarpal", "foot", "toe")
    skin = np.array([name.startswith(bare_bones) for name in names])
    limb = np.array([name.startswith(("upperarm", "lowerarm", "upperleg", "lowerleg", "wrist",
                                      "finger", "metacarpal", "shoulder", "foot", "toe")) for name in names])
    for side in "LR":
        wrist = head(f"wrist.{side}")
        along = wrist - head(f"lowerarm01.{side}")
        along /= np.linalg.norm(along)
        skin |= np.char.startswith(names, "lowerarm") & ((vertices - wrist) @ along > -0.05) & \
            (np.sign(vertices[:, 0]) == (1 if side == "L" else -1))
    skin |= vertices[:, 2] < head("foot.L")[2] + 0.03  # the trousers end above the ankles
    regions = np.where(skin, SKIN_REGION, GI_REGION)
    neck = head("neck01")
    chest = ~limb & (vertices[:, 1] < neck[1] - 0.02) & (vertices[:, 2] < neck[2] + 0.02)
    regions[chest & (vertices[:, 2] > neck[2] - 0.2 + 2.2 * np.abs(vertices[:, 0]))] = COLLAR_REGION
    faces = np.asarray(body.faces)
    corners = regions[faces]
    face_regions = np.where(corners[:, 1] == corners[:, 2], corners[:, 1], corners[:, 0])
    # The belt by face centres, which gives straighter edges than vertices on this coarse mesh.
    belt_z = head("upperleg01.L")[2] + 0.07
    trunk = ~(limb | skin)[faces].any(axis=1)
    face_regions[trunk & (np.abs(vertices[faces, 2].mean(axis=1) - belt_z) < 0.025)] = BELT_REGION
    return face_regions


def clothes_face_regions(body, shape, sleeves: str = "short", legs: str = "short") -> np.ndarray:
    """Regions of a body in plain clothes, in gi_face_regions' material slots: GI_REGION the
    shirt or jacket (trunk above the belt line, sleeves "short" to mid upper arm or "long" to
    5 cm above the wrist), BELT_REGION the shorts (to 12 cm above the knee) or "long" trousers
    (to the ankle), COLLAR_REGION the V of an open jacket (only with long sleeves: a shirt under
    a referee's jacket), SKIN_REGION the rest."""
    vertices, heads = rest_body(body, shape)
    head = lambda name: heads[body.bone_index(name)]  # noqa: E731
    names = dominant_bones(body)
    on = lambda *prefixes: np.array([name.startswith(prefixes) for name in names])  # noqa: E731
    arm = on("upperarm", "lowerarm", "wrist", "finger", "metacarpal", "shoulder")
    leg = on("upperleg", "lowerleg", "foot", "toe")
    bare = on("neck", "head", "eye", "wrist", "finger", "metacarpal", "foot", "toe")
    trunk = ~(arm | leg | bare)
    belt_z = head("upperleg01.L")[2] + 0.07
    z = vertices[:, 2]
    shirt = trunk & (z >= belt_z)
    for side in "LR":
        mine = np.sign(vertices[:, 0]) == (1 if side == "L" else -1)
        shoulder, wrist = head(f"upperarm01.{side}"), head(f"wrist.{side}")
        elbow = head(f"lowerarm01.{side}")
        if sleeves == "long":
            along = wrist - elbow
            along /= np.linalg.norm(along)
            shirt |= arm & ~bare & mine & ((vertices - wrist) @ along < -0.05)
        else:
            along = elbow - shoulder
            length = np.linalg.norm(along)
            shirt |= arm & ~bare & mine & ((vertices - shoulder) @ (along / length) < 0.55 * length)
    bottoms = (trunk & (z < belt_z)) | (leg & ~bare & (z > (head("lowerleg01.L")[2] + 0.12 if legs == "short"
                                                          else head("foot.L")[2] + 0.03)))
    regions = np.full(len(vertices), SKIN_REGION)
    regions[shirt] = GI_REGION
    regions[bottoms & ~shirt] = BELT_REGION
    if sleeves == "long":
        neck = head("neck01")
        chest = trunk & (vertices[:, 1] < neck[1] - 0.02) & (z < neck[2] + 0.02)
        regions[chest & (z > neck[2] - 0.16 + 2.5 * np.abs(vertices[:, 0]))] = COLLAR_REGION
    corners = regions[np.asarray(body.faces)]
    return np.where(corners[:, 1] == corners[:, 2], corners[:, 1], corners[:, 0])


def _mesh_object(bpy, name, vertices, faces, materials, face_materials=None):
    """A smooth-shaded mesh; `face_materials` (per face) index into `materials`."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(v) for v in vertices], [], [tuple(f) for f in faces])
    mesh.update()
    mesh.shade_smooth()
    for material in materials:
        mesh.materials.append(material)
    if face_materials is not None:
        mesh.polygons.foreach_set("material_index", np.asarray(face_materials, np.int32))
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _build_scene(bpy, people_world, faces, K, world_from_camera, width, height, seed, samples,
                 environment):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.seed = seed
    scene.cycles.use_adaptive_sampling = False  # same noise pattern on every machine
    scene.cycles.max_bounces = 4
    scene.cycles.diffuse_bounces = 3
    scene.cycles.glossy_bounces = 2
    scene.cycles.transmission_bounces = 0
    scene.cycles.transparent_max_bounces = 0
    scene.render.resolution_x = width
    scene.render.resolution_y = height
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    scene.render.image_settings.file_format = "PNG"
    scene.render.threads_mode = "AUTO"

    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (*environment["world_colour"], 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = environment["world_strength"]
    scene.world = world

    # Camera: the one conversion, from bridge.geometry.camera.
    cam_data = bpy.data.cameras.new("camera")
    for key, value in camera.blender_lens(K, width, height).items():
        setattr(cam_data, key, value)
    cam_data.clip_start, cam_data.clip_end = 0.05, 100.0
    cam = bpy.data.objects.new("camera", cam_data)
    scene.collection.objects.link(cam)
    from mathutils import Matrix

    cam.matrix_world = Matrix(camera.blender_camera_matrix(world_from_camera).tolist())
    scene.camera = cam

    # Floor (tatami) and a backdrop wall behind the fighters, facing the camera.
    bpy.ops.mesh.primitive_plane_add(size=24.0, location=(0.0, 0.0, 0.0))
    floor = bpy.context.active_object
    floor.name = "floor"
    floor.data.materials.append(_tatami(bpy))
    look = world_from_camera[:3, 2].copy()
    look[2] = 0.0
    look /= max(np.linalg.norm(look), 1e-9)
    wall_at = world_from_camera[:3, 3] + environment["wall_distance"] * look
    bpy.ops.mesh.primitive_plane_add(size=30.0, location=(wall_at[0], wall_at[1], 6.0))
    wall = bpy.context.active_object
    wall.name = "wall"
    wall.rotation_euler = (math.pi / 2, 0.0, math.atan2(look[1], look[0]) - math.pi / 2)
    wall.data.materials.append(_wall(bpy, environment["wall_colour"], environment["wall_texture"]))
    background = [floor, wall] + _clutter(bpy, environment, world_from_camera[:3, 3], look)

    # Sun from above-left-front and a large soft area light near the camera.
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = environment["sun_energy"]
    sun.data.angle = math.radians(environment["sun_angle"])
    sun.rotation_euler = tuple(math.radians(a) for a in environment["sun_rotation"])
    scene.collection.objects.link(sun)
    area = bpy.data.objects.new("fill", bpy.data.lights.new("fill", "AREA"))
    area.data.energy = environment["fill_energy"]
    area.data.size = environment["fill_size"]
    fill_at = world_from_camera[:3, 3] + np.asarray(environment["fill_offset"]) - 0.5 * look
    area.location = tuple(fill_at)
    area.rotation_euler = look_rotation(fill_at, environment["fill_target"])
    scene.collection.objects.link(area)

    bodies = []
    for index, person in enumerate(people_world):
        skin = _principled(bpy, f"body_{index}", tuple(float(c) for c in person["colour"]), 0.55)
        if "gi" not in person:
            bodies.append(_mesh_object(bpy, f"person_{index}", person["vertices"], faces, [skin]))
            continue
        gi = person["gi"]
        cloth = [_principled(bpy, f"{part}_{index}", tuple(float(c) for c in gi[part]), roughness)
                 for part, roughness in (("cloth", 0.85), ("belt", 0.7), ("collar", 0.85))]
        bodies.append(_mesh_object(bpy, f"person_{index}", person["vertices"], faces,
                                   [skin, *cloth], person["regions"]))
    return scene, bodies, background


def _quad(bpy, name, centre, right, width, height, material):
    """A vertical rectangle `width` x `height` m centred at `centre`, spanning `right` (a
    horizontal unit vector) and the world's vertical."""
    right = np.asarray(right, float)
    up = np.array([0.0, 0.0, 1.0])
    corners = [np.asarray(centre) + sx * 0.5 * width * right + sz * 0.5 * height * up
               for sx, sz in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    return _mesh_object(bpy, name, corners, [(0, 1, 2, 3)], [material])


def _crowd(bpy, scale, seed):
    """Spectators seen from afar: random-coloured cells (shirts, faces, hair) darkened in
    places, a Voronoi texture whose per-cell colour is random."""
    material = _principled(bpy, "crowd", (0.5, 0.5, 0.5), 0.9)  # its colour comes from the texture below
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = nodes["Principled BSDF"]
    coords = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    mapping.inputs["Location"].default_value = (seed % 97 * 1.7, seed % 89 * 2.3, 0.0)
    mapping.inputs["Scale"].default_value = (scale, scale, scale * 0.7)
    cells = nodes.new("ShaderNodeTexVoronoi")
    shade = nodes.new("ShaderNodeTexNoise")
    shade.inputs["Scale"].default_value = 3.0 * scale
    mix = nodes.new("ShaderNodeMixRGB")
    mix.blend_type = "MULTIPLY"
    links.new(coords.outputs["Object"], mapping.inputs["Vector"])
    links.new(mapping.outputs["Vector"], cells.inputs["Vector"])
    links.new(mapping.outputs["Vector"], shade.inputs["Vector"])
    links.new(cells.outputs["Color"], mix.inputs["Color1"])
    links.new(shade.outputs["Color"], mix.inputs["Color2"])
    mix.inputs["Fac"].default_value = 0.8
    links.new(mix.outputs["Color"], bsdf.inputs["Base Color"])
    return material


def _clutter(bpy, environment, camera_at, look) -> list:
    """The environment's crowd plane and banners (see ENVIRONMENT), placed along the camera's
    horizontal view `look` from `camera_at`; returns the objects (background for the masks)."""
    right = np.cross(look, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    ground = np.array([camera_at[0], camera_at[1], 0.0])
    objects = []
    crowd = environment.get("crowd")
    if crowd:
        centre = ground + crowd["distance"] * look + [0.0, 0.0, 0.5 * crowd["height"]]
        objects.append(_quad(bpy, "crowd", centre, right, 30.0, crowd["height"],
                             _crowd(bpy, crowd["scale"], int(crowd.get("seed", 0)))))
    for index, banner in enumerate(environment.get("banners") or ()):
        centre = ground + banner["distance"] * look + banner["lateral"] * right + \
            [0.0, 0.0, banner["bottom"] + 0.5 * banner["height"]]
        material = _principled(bpy, f"banner_{index}", tuple(_srgb_to_linear(banner["colour"])), 0.6)
        objects.append(_quad(bpy, f"banner_{index}", centre, right, banner["width"], banner["height"], material))
    return objects


def look_rotation(origin, target):
    """Euler angles pointing an object's -Z (lights, cameras) from origin to target."""
    from mathutils import Vector

    direction = Vector(tuple(target)) - Vector(tuple(origin))
    return direction.to_track_quat("-Z", "Y").to_euler()


def _render_to(bpy, scene, path: Path):
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    from PIL import Image

    return np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0


def _coverage_passes(bpy, scene, bodies, background, work: Path, samples: int = 32):
    """Per-person whole silhouettes and visible coverage, from flat-emission Cycles renders with
    the same camera and pixel filter as the photo (coverage > 0.5 counts as inside)."""
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 0
    scene.render.dither_intensity = 0.0
    scene.view_settings.view_transform = "Raw"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    scene.render.image_settings.color_mode = "BW"
    scene.world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.0
    for light in [o for o in scene.objects if o.type == "LIGHT"]:
        light.hide_render = True
    white, black = _emission(bpy, "white", 1.0), _emission(bpy, "black", 0.0)

    def paint(obj, material):
        for slot in range(len(obj.data.materials)):  # every slot, so a gi's regions go flat too
            obj.data.materials[slot] = material

    whole, visible = [], []
    for obj in background:
        paint(obj, black)
    for index, body in enumerate(bodies):
        for other in bodies:
            paint(other, white if other is body else black)
            other.hide_render = other is not body
        for obj in background:
            obj.hide_render = True
        whole.append(_render_to(bpy, scene, work / f"whole_{index}.png"))
        for obj in bodies + background:
            obj.hide_render = False
        visible.append(_render_to(bpy, scene, work / f"visible_{index}.png") if len(bodies) > 1
                       else None)
    if len(bodies) == 1:  # nothing can stand in front of a lone fighter (the wall is behind)
        visible = [whole[0]]
    if min(float(w.max()) for w in whole) < 0.98:  # a colour transform crept into the coverage
        raise RuntimeError("mask pass: a fully covered pixel did not come out white")
    return np.stack(whole), np.stack(visible)


def _save_photo(png: Path, out: Path, focal_35mm: float):
    from PIL import Image

    image = Image.open(png).convert("RGB")
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[EXIF_FOCAL_35MM] = int(round(focal_35mm))
    image.save(out, "JPEG", quality=95, exif=exif.tobytes())


def render_scene(people, K, world_from_camera, width, height, out_dir, seed=0, samples=48,
                 description="", notes=None, environment=None, mask_samples=32) -> dict:
    """Render `people` with Cycles and write photo, masks and ground truth into `out_dir`.

    people: dicts with `shape` (6,), `pose` (104, 3) and `transl` (3,) for AnnyBody.forward
    (camera coordinates) and `colour`, the body material's linear RGB base colour (the skin);
    optionally `gi`, a dict of linear RGB colours `cloth`, `belt` and `collar` (what shows in
    the lapels' V) for a fighter in a judo gi (regions from gi_face_regions), or with `clothes`
    = {"sleeves", "legs"} the shirt, trousers and V colours of plain clothes (regions from
    clothes_face_regions). `mask_samples`: Cycles samples of each mask pass (a big photo
    needs fewer: the masks are thresholded at half coverage).
    `environment` overrides entries of ENVIRONMENT (lights, wall).
    K (3, 3) and world_from_camera (4, 4, OpenCV axes) define the camera; the world is
    Blender's with the floor at z = 0. `description` and `notes` (a JSON-able dict) go into
    truth.json. Returns the truth dictionary (also saved).
    """
    import bpy
    import torch
    from PIL import Image

    from bridge.body.anny_body import AnnyBody

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    K = np.asarray(K, float)
    world_from_camera = np.asarray(world_from_camera, float)
    body = AnnyBody.shared()
    shape = np.stack([np.asarray(p["shape"], float) for p in people])
    pose = np.stack([np.asarray(p["pose"], float) for p in people])
    transl = np.stack([np.asarray(p["transl"], float) for p in people])
    with torch.no_grad():
        posed = body.forward(torch.as_tensor(shape, dtype=body.dtype),
                             torch.as_tensor(pose, dtype=body.dtype),
                             torch.as_tensor(transl, dtype=body.dtype))
    vertices = posed.vertices.double().numpy()
    keypoints3d = posed.keypoints.double().numpy()
    faces = body.faces.numpy()
    people_world = [{"vertices": to_world(world_from_camera, v), "colour": p["colour"]}
                    for v, p in zip(vertices, people)]
    for person, world in zip(people, people_world):
        if "gi" in person:
            regions = clothes_face_regions(body, person["shape"], **person["clothes"]) if "clothes" in person \
                else gi_face_regions(body, person["shape"])
            world.update(gi=person["gi"], regions=regions)
    environment = {**ENVIRONMENT, **(environment or {})}
    focal_35mm = camera.focal_35mm(K, width, height)

    started = time.perf_counter()
    scene, bodies, background = _build_scene(bpy, people_world, faces, K, world_from_camera,
                                             width, height, seed, samples, environment)
    denoise = True
    scene.cycles.use_denoising = True
    scene.cycles.denoiser = "OPENIMAGEDENOISE"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            scene.render.filepath = str(work / "photo.png")
            bpy.ops.render.render(write_still=True)
        except RuntimeError:  # no denoiser in this build: render plain
            denoise = False
            scene.cycles.use_denoising = False
            bpy.ops.render.render(write_still=True)
        photo_seconds = time.perf_counter() - started
        view_transform = scene.view_settings.view_transform
        _save_photo(work / "photo.png", out_dir / "photo.jpg", focal_35mm)
        whole, visible = _coverage_passes(bpy, scene, bodies, background, work, mask_samples)
    total_seconds = time.perf_counter() - started

    masks = whole > 0.5
    labels = np.zeros((height, width), np.uint8)
    front = visible.argmax(axis=0)
    seen = visible.max(axis=0) > 0.5
    labels[seen] = front[seen] + 1
    for index, mask in enumerate(masks):
        Image.fromarray(mask.astype(np.uint8) * 255).save(out_dir / f"mask_{index}.png", optimize=True)
    Image.fromarray(labels).save(out_dir / "labels.png", optimize=True)

    keypoints2d = camera.project(K, keypoints3d)
    visibility = np.zeros(keypoints2d.shape[:2], np.uint8)
    for index, points in enumerate(keypoints2d):
        for k, (x, y) in enumerate(points):
            col, row = int(math.floor(x)), int(math.floor(y))
            if keypoints3d[index, k, 2] > 0 and 0 <= col < width and 0 <= row < height:
                visibility[index, k] = labels[row, col] == index + 1
    truth = {
        "keypoints2d": keypoints2d.astype(np.float32),
        "keypoints3d": keypoints3d.astype(np.float32),
        "vertices": vertices.astype(np.float32),
        "pose": pose.astype(np.float32),
        "shape": shape.astype(np.float32),
        "transl": transl.astype(np.float32),
        "K": K,
        "world_from_camera": world_from_camera,
        "visibility": visibility,
    }
    np.savez_compressed(out_dir / "truth.npz", **truth)
    info = {
        "width": width, "height": height, "focal_35mm": focal_35mm, "seed": seed,
        "people": len(people),
        "description": description,
        "body_model": f"anny {body.version}",
        "shape_names": body.shape_names,
        "colours": [list(map(float, p["colour"])) for p in people],
        "render": {"engine": "CYCLES", "device": "CPU", "samples": samples, "mask_samples": mask_samples,
                   "denoiser": "OPENIMAGEDENOISE" if denoise else None,
                   "adaptive_sampling": False, "max_bounces": 4,
                   "pixel_filter": f"{scene.cycles.pixel_filter_type} {scene.cycles.filter_width} px",
                   "view_transform": view_transform, "blender": bpy.app.version_string},
        "masks": "mask_<i>.png: person i's whole silhouette (255 inside); labels.png: 0 background, "
                 "i + 1 where person i is the front surface; both from flat-emission Cycles "
                 "renders with the photo's camera and pixel filter, coverage > 0.5",
        "visibility": "1 where the keypoint projects inside the image onto its own person's "
                      "visible region (labels.png); self-occlusion is not checked",
        "conventions": "pose/shape/transl for AnnyBody.forward in OpenCV camera coordinates; "
                       "world_from_camera maps OpenCV camera to Blender world (Z up, floor z = 0); "
                       "keypoints BODY_25; pixel i spans [i, i + 1)",
    }
    info.update(notes or {})
    (out_dir / "truth.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"render_scene: photo {photo_seconds:.1f} s, with masks {total_seconds:.1f} s -> {out_dir}")
    return truth


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "assets" / "sample"), help="output folder")
    parser.add_argument("--samples", type=int, default=SAMPLE_SAMPLES)
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    args = parser.parse_args(argv)

    from bridge.body.anny_body import AnnyBody

    body = AnnyBody.shared()
    K, world_from_camera = sample_camera()
    person = sample_person(body, world_from_camera)
    keypoints = _posed(body, person["shape"], person["pose"])[1]
    joints = {"hinge_flexion_degrees": {
        "knee.L": SAMPLE_POSE_DEGREES["knee.L"], "knee.R": SAMPLE_POSE_DEGREES["knee.R"],
        "elbow.L": round(person["elbow_hinges"]["L"], 2), "elbow.R": round(person["elbow_hinges"]["R"], 2)},
        "keypoint_bend_degrees": {  # between BODY_25 limb lines; Anny's rest pose bends some already
            "knee.L": round(_bend(keypoints, "left", "hip", "knee", "ankle"), 1),
            "knee.R": round(_bend(keypoints, "right", "hip", "knee", "ankle"), 1),
            "elbow.L": round(_elbow_bend(keypoints, "L"), 1), "elbow.R": round(_elbow_bend(keypoints, "R"), 1)},
        "back_hip_flexion_degrees": round(person["back_hip_flexion"], 2),
        "yaw_degrees": SAMPLE_POSE_DEGREES["yaw"]}
    started = time.perf_counter()
    render_scene([person], K, world_from_camera, SAMPLE_WIDTH, SAMPLE_HEIGHT, args.out,
                 seed=args.seed, samples=args.samples, description=SAMPLE_DESCRIPTION,
                 notes={"joints": joints, "generator": "tools/render_scene.py (sample_person, sample_camera)"})
    print(f"rendered {args.out} in {time.perf_counter() - started:.1f} s "
          f"(back hip flexion {person['back_hip_flexion']:.1f} degrees, "
          f"feet height difference {1000 * person['foot_gap']:.1f} mm)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
