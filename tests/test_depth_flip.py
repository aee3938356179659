"""The geometry of Flip Limb Depth and Flip Facing (goldenscore_blender/fighters/depth_flip.py),
without Blender: the module has no bpy, so it is loaded from its file."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("depth_flip", ROOT / "goldenscore_blender" / "fighters" / "depth_flip.py")
df = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(df)

K = np.array([[1200.0, 0.0, 640.0], [0.0, 1200.0, 480.0], [0.0, 0.0, 1.0]])


def project(points):
    points = np.asarray(points, dtype=np.float64)
    return points[..., :2] / points[..., 2:3] * K.diagonal()[:2] + K[:2, 2]


def rotation(axis, angle):
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


# A stick figure in Anny's rest frame (x the body's left, y its back, z up) with Anny's bone
# names: upper arms, forearms, thighs and shins split in two bones.
def _bone(name, parent, head, tail):
    return name, parent, np.array(head, float), np.array(tail, float)


def stick_figure():
    bones = [_bone("root", None, (0, 0, 1.0), (0, 0, 1.05)), _bone("spine01", "root", (0, 0, 1.05), (0, 0, 1.45)),
             _bone("head", "spine01", (0, 0, 1.45), (0, -0.05, 1.7))]
    for side, sx in (("L", 1.0), ("R", -1.0)):
        bones += [_bone(f"clavicle.{side}", "spine01", (0.02 * sx, 0, 1.42), (0.18 * sx, 0, 1.42)),
                  _bone(f"upperarm01.{side}", f"clavicle.{side}", (0.18 * sx, 0, 1.42), (0.22 * sx, 0, 1.30)),
                  _bone(f"upperarm02.{side}", f"upperarm01.{side}", (0.22 * sx, 0, 1.30), (0.28 * sx, 0, 1.12)),
                  _bone(f"lowerarm01.{side}", f"upperarm02.{side}", (0.28 * sx, 0, 1.12), (0.31 * sx, -0.02, 0.99)),
                  _bone(f"lowerarm02.{side}", f"lowerarm01.{side}", (0.31 * sx, -0.02, 0.99), (0.34 * sx, -0.04, 0.86)),
                  _bone(f"wrist.{side}", f"lowerarm02.{side}", (0.34 * sx, -0.04, 0.86), (0.35 * sx, -0.05, 0.80)),
                  _bone(f"finger2-1.{side}", f"wrist.{side}", (0.35 * sx, -0.05, 0.80), (0.355 * sx, -0.06, 0.76)),
                  _bone(f"pelvis.{side}", "root", (0, 0, 1.0), (0.1 * sx, 0, 0.98)),
                  _bone(f"upperleg01.{side}", f"pelvis.{side}", (0.1 * sx, 0, 0.98), (0.1 * sx, 0, 0.88)),
                  _bone(f"upperleg02.{side}", f"upperleg01.{side}", (0.1 * sx, 0, 0.88), (0.11 * sx, 0, 0.55)),
                  _bone(f"lowerleg01.{side}", f"upperleg02.{side}", (0.11 * sx, 0, 0.55), (0.11 * sx, 0, 0.32)),
                  _bone(f"lowerleg02.{side}", f"lowerleg01.{side}", (0.11 * sx, 0, 0.32), (0.11 * sx, 0.01, 0.08)),
                  _bone(f"foot.{side}", f"lowerleg02.{side}", (0.11 * sx, 0.01, 0.08), (0.12 * sx, -0.13, 0.02))]
    names = [b[0] for b in bones]
    parents = np.array([names.index(b[1]) if b[1] else -1 for b in bones])
    return names, parents, np.array([b[2] for b in bones]), np.array([b[3] for b in bones])


def forward_kinematics(parents, heads, local_rotations, placement):
    """Deform matrices: each bone turned about its rest head, after its parent; `placement`
    carries the rest frame into the camera's."""
    deform = np.zeros((len(parents), 4, 4))
    for j, parent in enumerate(parents):
        turn = np.eye(4)
        turn[:3, :3] = local_rotations[j]
        turn[:3, 3] = heads[j] - local_rotations[j] @ heads[j]
        deform[j] = (placement if parent < 0 else deform[parent]) @ turn
    return deform


def posed_figure(seed=3, facing=0.4):
    """The stick figure in a judo-like stance 3.5 m in front of the camera, facing it, turned by `facing` rad."""
    names, parents, heads, tails = stick_figure()
    rng = np.random.default_rng(seed)
    local = [rotation(rng.normal(size=3), rng.uniform(0.1, 0.6)) for _ in names]
    for torso in ("root", "spine01", "head"):
        local[names.index(torso)] = rotation(rng.normal(size=3), 0.15)
    local[names.index("lowerarm01.R")] = rotation((1, 0, 0), -1.2)  # the right forearm reaches toward the camera
    placement = np.eye(4)
    # Rest (x left, y back, z up) -> camera (x right, y down, z forward), facing the camera.
    placement[:3, :3] = rotation((0, 1, 0), facing) @ np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    placement[:3, 3] = (0.2, 0.3, 3.5) - placement[:3, :3] @ heads[0]
    return names, parents, heads, tails, forward_kinematics(parents, heads, local, placement)


def bone_points(deform, heads, tails):
    return df.transform_points(deform, heads), df.transform_points(deform, tails)


def test_a_chain_flipped_in_depth_keeps_its_pixels_and_lengths_and_reverses_its_end():
    # Shoulder, elbow, wrist, hand: the forearm reaching toward the camera.
    joints = np.array([[0.3, -0.2, 3.6], [0.45, 0.05, 3.62], [0.55, 0.1, 3.35], [0.6, 0.12, 3.28]])
    flipped = df.flip_chain_depth(joints)
    assert np.abs(project(flipped) - project(joints)).max() < 0.5
    np.testing.assert_allclose(np.linalg.norm(np.diff(flipped, axis=0), axis=1),
                               np.linalg.norm(np.diff(joints, axis=0), axis=1), atol=1e-9)
    distance, new_distance = np.linalg.norm(joints, axis=1), np.linalg.norm(flipped, axis=1)
    assert distance[-1] < distance[0] - 0.2 and new_distance[-1] > new_distance[0] + 0.2  # near -> far
    np.testing.assert_allclose(df.flip_chain_depth(flipped), joints, atol=1e-9)
    eye = np.array([1.0, -2.0, 0.5])  # any frame works: the rays start at the camera's centre
    moved = df.flip_chain_depth(joints + eye, eye)
    np.testing.assert_allclose(moved - eye, flipped, atol=1e-9)


def test_swing_is_the_smallest_rotation():
    a, b = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0]) / np.sqrt(2)
    R = df.swing(a, b)
    np.testing.assert_allclose(R @ a, b, atol=1e-12)
    np.testing.assert_allclose(R @ [0, 1.0, 0], [0, 1.0, 0], atol=1e-12)  # nothing about the axis across both
    np.testing.assert_allclose(df.swing(a, -a) @ a, -a, atol=1e-12)
    np.testing.assert_allclose(df.swing(a, a), np.eye(3))


def test_limbs_are_found_from_anny_and_smplx_bone_names():
    names, parents, _, _ = stick_figure()
    chains = df.limb_chains(names)
    assert sorted(chains) == ["left arm", "left leg", "right arm", "right leg"]
    assert [[names[j] for j in s] for s in chains["left leg"]] == [
        ["upperleg01.L", "upperleg02.L"], ["lowerleg01.L", "lowerleg02.L"], ["foot.L"]]
    assert df.limb_of(names, parents, names.index("finger2-1.R"))[0] == "right arm"
    assert df.limb_of(names, parents, names.index("upperleg02.L"))[0] == "left leg"
    assert df.limb_of(names, parents, names.index("clavicle.L")) is None
    assert df.limb_of(names, parents, names.index("spine01")) is None
    smplx = ["pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
             "left_foot", "right_foot", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
             "left_wrist", "right_wrist"]
    assert sorted(df.limb_chains(smplx)) == ["left arm", "left leg", "right arm", "right leg"]
    assert list(df.mirror_partner(smplx))[:3] == [0, 2, 1]


@pytest.mark.parametrize("seed", [4, 7])
@pytest.mark.parametrize("limb", ["right arm", "left arm", "right leg", "left leg"])
def test_flip_limb_moves_joints_along_their_rays_and_turns_the_bones_rigidly(limb, seed):
    names, parents, heads, tails, deform = posed_figure(seed)
    chain = df.limb_chains(names)[limb]
    flipped = df.flip_limb(deform, parents, heads, tails, chain)
    old, new = df.chain_joints(deform, heads, tails, chain), df.chain_joints(flipped, heads, tails, chain)
    assert np.abs(project(new) - project(old)).max() < 0.5
    np.testing.assert_allclose(np.linalg.norm(np.diff(new, axis=0), axis=1),
                               np.linalg.norm(np.diff(old, axis=0), axis=1), atol=1e-9)
    assert np.abs(new[1:] - old[1:]).max() > 0.02  # it did move in depth
    rotations = flipped[:, :3, :3]
    np.testing.assert_allclose(np.einsum("jab,jac->jbc", rotations, rotations), np.broadcast_to(np.eye(3), rotations.shape),
                               atol=1e-9)
    # The skeleton stays connected (each head where its parent's tail went), and outside the limb nothing moved.
    new_heads, new_tails = bone_points(flipped, heads, tails)
    for j, parent in enumerate(parents):
        if parent >= 0 and np.allclose(heads[j], tails[parent]):
            np.testing.assert_allclose(new_heads[j], new_tails[parent], atol=1e-9)
    limb_bones = set(df.descendants(parents, chain[0][0]))
    untouched = [j for j in range(len(names)) if j not in limb_bones]
    np.testing.assert_allclose(flipped[untouched], deform[untouched])
    # Twist kept: the second bone of each segment keeps its turn relative to the first;
    # the hand (finger) or toes follow the last bone rigidly.
    for segment in chain:
        for j in segment[1:]:
            np.testing.assert_allclose(np.linalg.inv(flipped[segment[0]]) @ flipped[j],
                                       np.linalg.inv(deform[segment[0]]) @ deform[j], atol=1e-9)
    # Twice: the pose it started from.
    np.testing.assert_allclose(df.flip_limb(flipped, parents, heads, tails, chain), deform, atol=1e-9)


def test_a_joint_the_flipped_segment_cannot_reach_stays_as_near_its_ray_as_the_bone_allows():
    # Below a joint that went far back, a segment almost across the view spans fewer pixels than
    # it did: no depth keeps both its length and its pixel, so its end comes as near as it can.
    names, parents, heads, tails, deform = posed_figure(2)
    chain = df.limb_chains(names)["right leg"]
    old = df.chain_joints(deform, heads, tails, chain)
    new = df.flip_chain_depth(old)
    miss = df.ray_distances(new, old)
    assert miss[:2].max() < 1e-9 and miss.max() > 0.005
    np.testing.assert_allclose(np.linalg.norm(np.diff(new, axis=0), axis=1),
                               np.linalg.norm(np.diff(old, axis=0), axis=1), atol=1e-9)
    k = int(np.argmax(miss))
    for t in np.linspace(0, 8, 4001):  # no point of the missed ray lies nearer the segment's reach
        point = t * old[k] / np.linalg.norm(old[k])
        assert abs(np.linalg.norm(point - new[k - 1]) - np.linalg.norm(old[k] - old[k - 1])) > miss[k] - 1e-3 or \
            np.linalg.norm(point - new[k]) < 0.05


def test_flip_limb_reverses_the_forearm_reaching_toward_the_camera():
    names, parents, heads, tails, deform = posed_figure()
    chain = df.limb_chains(names)["right arm"]
    old = df.chain_joints(deform, heads, tails, chain)
    new = df.chain_joints(df.flip_limb(deform, parents, heads, tails, chain), heads, tails, chain)
    before = np.linalg.norm(old[-1]) - np.linalg.norm(old[0])
    after = np.linalg.norm(new[-1]) - np.linalg.norm(new[0])
    assert abs(before) > 0.1 and np.sign(after) == -np.sign(before)


@pytest.mark.parametrize("seed, facing", [(3, 0.0), (3, 0.3), (3, -0.3), (6, -0.3)])
def test_flip_facing_keeps_the_keypoints_swaps_left_and_right_and_turns_the_torso(seed, facing):
    names, parents, heads, tails, deform = posed_figure(seed=seed, facing=facing)
    flipped = df.flip_facing(deform, names, parents, heads, tails)
    partner = df.mirror_partner(names)
    assert names[partner[names.index("wrist.L")]] == "wrist.R" and partner[names.index("spine01")] == names.index(
        "spine01")
    old_heads, old_tails = bone_points(deform, heads, tails)
    new_heads, new_tails = bone_points(flipped, heads, tails)
    # Every joint lands on the pixel its partner had: the arm on the photo's left stays there, now
    # the body's other arm (a body seen from behind has its right on the photo's right).
    assert np.abs(project(new_tails) - project(old_tails[partner])).max() < 3.0
    assert np.abs(project(new_heads) - project(old_heads[partner])).max() < 3.0
    unsettled = df.flip_facing(deform, names, parents, heads, tails, settle=False)
    assert np.abs(project(bone_points(unsettled, heads, tails)[1]) - project(old_tails[partner])).max() > 3.0
    np.testing.assert_allclose(np.linalg.norm(new_tails - new_heads, axis=1),
                               np.linalg.norm(tails - heads, axis=1), atol=1e-9)
    assert np.all(np.linalg.det(flipped[:, :3, :3]) > 0.999)
    # The torso's front (rest -y) pointed at the camera, now away from it.
    spine = names.index("spine01")
    to_body = old_heads[spine] / np.linalg.norm(old_heads[spine])
    assert (deform[spine, :3, :3] @ [0, -1.0, 0]) @ to_body < -0.5
    assert (flipped[spine, :3, :3] @ [0, -1.0, 0]) @ to_body > 0.5
    # The pelvis stays where it was.
    np.testing.assert_allclose(new_heads[0], old_heads[0], atol=1e-9)
