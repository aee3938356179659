"""The keypoint fit on bodies posed by the model itself, where the answer is known exactly."""
import math

import numpy as np
import roma
import torch

from bridge.geometry.camera import intrinsics, project
from bridge.fitting.fit import facing_yaws, fit_fighter, initial_placement
from bridge.keypoints import INDEX
from bridge.metrics import keypoint_error_px


def posed_body(body, yaw, knee, elbow):
    pose = torch.zeros(1, len(body.bone_names), 3)
    turn = roma.rotvec_to_rotmat(torch.tensor([0.0, yaw, 0.0]))
    pose[0, 0] = roma.rotmat_to_rotvec(turn @ roma.rotvec_to_rotmat(body.base_orientation()))
    for hinge in body.hinges:
        angle = knee if "leg" in hinge.bone else elbow
        pose[0, body.bone_index(hinge.bone)] = angle * torch.tensor(hinge.axis)
    return body.forward(body.default_shape(), pose, torch.tensor([[0.0, 0.1, 3.5]]))


def test_fit_reprojects_onto_exact_keypoints_and_bends_joints_forward(body):
    K = intrinsics(384, 512)
    truth = posed_body(body, yaw=0.4, knee=0.9, elbow=1.2)
    points = project(K, truth.keypoints[0].numpy())
    conf = np.ones(25)
    result = fit_fighter(body, points, conf, K, 512)
    fitted = project(K, result.output.keypoints[0].numpy())
    assert keypoint_error_px(fitted, points) < 6.0
    for hinge in body.hinges:
        along_axis = float(result.pose[body.bone_index(hinge.bone)] @ torch.tensor(hinge.axis))
        assert along_axis >= 0.0, f"{hinge.bone} bent backwards"
        assert along_axis > 0.3, f"{hinge.bone} should be clearly bent"


def test_facing_starts_with_the_shoulder_order_and_tries_every_quarter_turn():
    points = np.zeros((25, 2))
    points[INDEX["neck"]] = (100, 100)
    points[INDEX["mid_hip"]] = (100, 250)
    points[INDEX["right_shoulder"]] = (60, 100)
    points[INDEX["left_shoulder"]] = (140, 100)
    conf = np.ones(25)
    yaws = facing_yaws(points, conf)
    assert yaws[0] == 0.0  # left shoulder on the image's right: facing us, tried first
    assert sorted(round(y / (math.pi / 2)) % 4 for y in yaws) == [0, 1, 2, 3]
    points[[INDEX["right_shoulder"], INDEX["left_shoulder"]]] = points[[INDEX["left_shoulder"], INDEX["right_shoulder"]]]
    assert facing_yaws(points, conf)[0] == math.pi


def test_keypoints_from_the_bones_alone_are_the_meshs_keypoints(body):
    """The fit's keypoint stages skip skinning the mesh; any difference would be a wrong fit."""
    generator = torch.Generator().manual_seed(3)
    shape = torch.rand(3, len(body.shape_names), generator=generator).requires_grad_()
    pose = (0.4 * torch.randn(3, len(body.bone_names), 3, generator=generator)).requires_grad_()
    # At the body's own origin, so float32's rounding of vertices metres from the camera (which
    # reached 0.14 mm at 6 m) does not count: there the noise is 0.014 mm, and a wrong bone or
    # moment would show as centimetres. The limit, half a millimetre, is 35x the noise.
    at_origin = torch.zeros(3, 3)
    from_mesh = body.forward(shape, pose, at_origin).keypoints
    from_bones = body.posed_keypoints(shape, pose, at_origin)
    assert (from_mesh - from_bones).abs().max() < 5e-4  # metres
    transl = torch.tensor([[0.0, 0.1, 3.5], [0.5, -0.2, 4.0], [-1.0, 0.3, 6.0]])
    moved = body.posed_keypoints(shape, pose, transl).detach() - from_bones.detach()
    assert torch.allclose(moved, transl[:, None, :].expand_as(moved), atol=1e-4)  # float32 at 6 m: 5e-7
    # The joint stage of two poses a few vertices alone: the same as the mesh's, same keypoints.
    index = torch.tensor([0, 17, 5000, 13000])
    sample = body.forward_sample(shape, pose, transl, index)
    whole = body.forward(shape, pose, transl)
    assert (sample.vertices - whole.vertices[:, index]).abs().max() < 1e-4
    assert (sample.keypoints - whole.keypoints).abs().max() < 5e-4
    assert (sample.bone_poses - whole.bone_poses).abs().max() < 1e-4  # the skeleton, by our chain and Anny's
    every = body.forward_sample(shape, pose, transl, None)  # the whole mesh, the joint stage's pairing
    assert (every.vertices - whole.vertices).abs().max() < 1e-4
    # A stage that turns and moves the bodies only: the keypoints from the root's rotation alone.
    root = (0.8 * torch.randn(3, 3, generator=generator)).requires_grad_()
    turned = pose.detach().clone()
    turned[:, 0] = root.detach()
    rigid = body.rigid_keypoints(shape.detach(), pose.detach())(root, transl)
    assert (rigid - body.posed_keypoints(shape.detach(), turned, transl)).abs().max() < 1e-4  # float32 at 6 m: 5e-7
    assert torch.autograd.grad(rigid.sum(), root)[0].abs().max() > 0.1  # it turns the body
    mesh_grads = torch.autograd.grad(from_mesh.square().sum(), (shape, pose))
    bone_grads = torch.autograd.grad(from_bones.square().sum(), (shape, pose))
    for a, b in zip(mesh_grads, bone_grads):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-3)


def test_a_torso_seen_end_on_does_not_push_the_start_far_behind(body):
    """A fighter bent towards the camera (seoi-nage's tori from a high camera) shows a short torso;
    the start's depth then comes from the limbs, not from that torso (it put tori 9-12 m deep on
    two fresh scenes). An upright body keeps the torso's depth."""
    K = intrinsics(384, 512)
    upright = project(K, posed_body(body, yaw=0.0, knee=0.0, elbow=0.0).keypoints[0].numpy())
    conf = np.ones(25)
    depth = initial_placement(upright, conf, K)[2]
    assert 3.0 < depth < 4.2  # the body stands at 3.5 m
    bent = upright.copy()
    neck, hip = INDEX["neck"], INDEX["mid_hip"]
    shift = (upright[hip] - upright[neck]) * 0.7  # the torso a third as long in the photo
    for name in ("neck", "nose", "right_eye", "left_eye", "right_ear", "left_ear", "right_shoulder", "left_shoulder"):
        bent[INDEX[name]] = upright[INDEX[name]] + shift
    assert 3.0 < initial_placement(bent, conf, K)[2] < 4.2
