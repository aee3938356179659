"""Depth hypotheses (bridge.fitting.hypotheses): a limb mirrored in depth is found again among
the ranked alternatives, and the alternatives reach the result folder and load back."""
import numpy as np
import torch

from bridge.fitting.hypotheses import Hypothesis, backward_knees, candidate_choices, flipped_skeleton
from bridge.geometry.camera import intrinsics, project
from bridge.jobs.assemble import fighter_arrays, kept_hypotheses
from bridge.keypoints import INDEX
from bridge.result.format import (HYPOTHESIS_BONE_POSES, HYPOTHESIS_LABEL, HYPOTHESIS_POSE, HYPOTHESIS_SCORE,
                                  HYPOTHESIS_TRANSL, fighter_file)
from bridge.geometry.camera import LEVEL_WORLD_FROM_CAMERA
from bridge.result.store import read_result, write_result


def _posed(body, knee=1.0, elbow=1.2, hip=(-0.8, 0.0, 0.0)):
    """A body facing the camera 3.5 m away, a thigh raised forward, knees and elbows bent."""
    pose = torch.zeros(1, len(body.bone_names), 3)
    pose[0, 0] = body.base_orientation()
    for hinge in body.hinges:
        pose[0, body.bone_index(hinge.bone)] = (knee if "leg" in hinge.bone else elbow) * torch.tensor(hinge.axis)
    pose[0, body.bone_index("upperleg01.L")] = torch.tensor(hip)
    transl = torch.tensor([[0.0, 0.1, 3.5]])
    return pose, transl, body.forward(body.default_shape(), pose, transl)


def test_a_mirrored_segment_keeps_its_pixels_and_length(body):
    _, _, out = _posed(body)
    K = intrinsics(384, 512)
    truth = out.keypoints[0].numpy().astype(float)
    flipped = flipped_skeleton(truth, {"left leg": (True, False), "right arm": (False, True)})
    for a, b in (("left_hip", "left_knee"), ("right_elbow", "right_wrist")):
        i, j = INDEX[a], INDEX[b]
        assert abs(np.linalg.norm(flipped[j] - flipped[i]) - np.linalg.norm(truth[j] - truth[i])) < 1e-9
    moved = np.linalg.norm(flipped - truth, axis=1).max()
    assert moved > 0.1, "the flip should move points in depth"
    assert np.abs(project(K, flipped) - project(K, truth)).max() < 0.1 * moved / truth[:, 2].mean() * K[0, 0]


def test_a_knee_mirrored_in_depth_bends_backwards_and_the_true_one_does_not(body):
    _, _, out = _posed(body)
    truth = out.keypoints[0].numpy().astype(float)
    assert backward_knees(truth) == 0.0
    assert backward_knees(flipped_skeleton(truth, {"right leg": (False, True)})) > 0.0  # the standing leg


def test_a_leg_fitted_mirrored_in_depth_is_found_in_the_top_three_with_the_3d_cue(body):
    """The fit put the raised thigh backwards; MediaPipe's world landmarks (here the truth,
    noisy) say forwards: the hypothesis that flips the leg back ranks in the top three."""
    _, _, out = _posed(body)
    truth = out.keypoints[0].numpy().astype(float)
    wrong = flipped_skeleton(truth, {"left leg": (True, True)})
    noise = np.random.default_rng(0).normal(0.0, 0.02, truth.shape)
    cue = truth - truth[INDEX["mid_hip"]] + noise
    choices = candidate_choices(wrong, cue, np.ones(25))
    assert not any(any(c) for c in choices[0].values())  # the fit itself comes first
    found = [np.abs(flipped_skeleton(wrong, c) - truth).max() for c in choices[:3]]
    assert min(found) < 0.02


def test_hypotheses_are_written_to_the_result_and_load_back(body, tmp_path):
    pose, transl, _ = _posed(body)
    other = pose.clone()
    other[0, body.bone_index("upperleg01.L")] = torch.tensor([0.8, 0.0, 0.0])
    ranked = [Hypothesis(pose[0], transl[0], 0.1, "as fitted"),
              Hypothesis(other[0], transl[0], 0.3, "left leg flipped")]
    arrays = fighter_arrays(body, body.default_shape()[0], pose[0], transl[0], np.zeros((25, 2)), np.ones(25),
                            hypotheses=ranked)
    K = intrinsics(384, 512)
    scene = {"image": {"path": "photo.jpg", "width": 384, "height": 512},
             "camera": {"K": K.tolist(), "world_from_camera": LEVEL_WORLD_FROM_CAMERA.tolist(), "focal_35mm": 50.0},
             "fighters": ["tori"], "front": "tori", "body_model": body.describe()}
    out = tmp_path / "result"
    write_result(out, scene, {"tori": arrays}, np.zeros((512, 384, 3), np.uint8))
    assert (out / fighter_file("tori")).is_file()
    loaded = read_result(out).fighters["tori"]
    assert loaded[HYPOTHESIS_POSE].shape == (2, len(body.bone_names), 3)
    assert loaded[HYPOTHESIS_BONE_POSES].shape == (2, len(body.bone_names), 4, 4)
    assert loaded[HYPOTHESIS_TRANSL].shape == (2, 3)
    assert list(loaded[HYPOTHESIS_LABEL]) == ["as fitted", "left leg flipped"]
    assert np.allclose(loaded[HYPOTHESIS_SCORE], [0.1, 0.3])
    np.testing.assert_allclose(loaded[HYPOTHESIS_BONE_POSES][0], loaded["bone_poses"], atol=1e-5)
    # The second is the other pose, bone for bone.
    thigh = body.bone_index("upperleg01.L")
    assert np.abs(loaded[HYPOTHESIS_BONE_POSES][1][thigh] - loaded["bone_poses"][thigh]).max() > 0.1
    # A refined body keeps the others and replaces the first.
    moved = fighter_arrays(body, body.default_shape()[0], other[0], transl[0] + torch.tensor([0.0, 0.0, 0.2]),
                           np.zeros((25, 2)), np.ones(25))
    kept = kept_hypotheses(loaded, moved)
    np.testing.assert_allclose(kept[HYPOTHESIS_TRANSL][0], moved["transl"])
    np.testing.assert_allclose(kept[HYPOTHESIS_POSE][1], loaded[HYPOTHESIS_POSE][1])


def test_one_floor_under_two_standing_fighters_and_not_under_one_in_the_air(body):
    """Both standing bodies' feet are found on one floor (the camera's height); a thrown body in
    the air touches nothing; the floor term is zero for feet on it and grows for a body sunk."""
    from bridge.fitting.floor import FloorTerm, estimate_floor

    pose = torch.zeros(1, len(body.bone_names), 3)
    pose[0, 0] = body.base_orientation()
    shape = body.default_shape()
    feet_low = body.forward(shape, pose, torch.zeros(1, 3)).keypoints[0, [11, 14, 19, 22], 1].max()
    camera_height = 1.3
    near = body.forward(shape, pose, torch.tensor([[0.3, camera_height - float(feet_low), 3.5]])).keypoints[0]
    far = body.forward(shape, pose, torch.tensor([[-0.4, camera_height - float(feet_low), 5.0]])).keypoints[0]
    floor = estimate_floor(np.stack([near.numpy(), far.numpy()]))
    assert abs(floor.height - camera_height) < 0.05
    assert [len(feet) for feet in floor.touching] == [2, 2]
    term = FloorTerm(floor)
    standing = float(term.loss(torch.stack([near, far])).detach())
    assert standing < 1e-3
    sunk = far + torch.tensor([0.0, 0.1, 0.0])  # 10 cm into the mat
    assert float(term.loss(torch.stack([near, sunk])).detach()) > 10 * standing + 0.1
    thrown = far - torch.tensor([0.0, 0.6, 0.0])
    assert [len(feet) for feet in estimate_floor(np.stack([near.numpy(), thrown.numpy()])).touching] == [2, 0]


def test_a_keypoint_file_still_gets_mediapipes_3d_cue():
    """The 2D comes from the file; MediaPipe's landmark model on a crop around it gives the
    world landmarks (metres, hips at the origin) that rank the depth hypotheses."""
    from pathlib import Path

    from bridge.detection.fighters import find_fighters
    from bridge.imaging.photo import load_photo

    sample = Path(__file__).resolve().parents[1] / "assets" / "sample"
    fighters, _ = find_fighters(load_photo(sample / "photo.jpg"), 1, sample / "keypoints_openpose.json")
    cue = fighters[0].target.points3d
    assert cue is not None and cue.shape == (25, 3)
    assert np.linalg.norm(cue[INDEX["mid_hip"]]) < 0.05
    assert 0.35 < np.linalg.norm(cue[INDEX["neck"]] - cue[INDEX["mid_hip"]]) < 0.7
