"""The bundled sample photo, end to end: detector, Anny fit, result contract, accuracy."""
import json

import numpy as np
import pytest
import trimesh

from bridge.geometry.camera import project
from bridge.metrics import keypoint_error_px, pa_mpjpe
from bridge.jobs.reconstruct import reconstruct
from conftest import SAMPLE


@pytest.fixture(scope="module")
def sample_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "result"
    report = reconstruct(SAMPLE / "photo.jpg", out)
    return out, report


def test_fit_matches_the_true_keypoints_and_pose(sample_result, sample_truth):
    out, _ = sample_result
    fighter = np.load(out / "fighter_tori.npz")
    K = np.array(json.loads((out / "scene.json").read_text())["camera"]["K"])
    fitted_2d = project(K, fighter["keypoints3d"])
    error_2d = keypoint_error_px(fitted_2d, sample_truth["keypoints2d"][0])
    error_3d = pa_mpjpe(fighter["keypoints3d"], sample_truth["keypoints3d"][0])
    print(f"sample: 2D {error_2d:.2f} px, PA-MPJPE {1000 * error_3d:.1f} mm")
    assert error_2d <= 8.0
    assert error_3d <= 0.060


def test_result_follows_the_data_contract(sample_result):
    out, report = sample_result
    scene = json.loads((out / "scene.json").read_text())
    assert scene["format_version"] == 1
    assert (scene["image"]["width"], scene["image"]["height"]) == (384, 512)
    assert np.array(scene["camera"]["K"]).shape == (3, 3)
    assert np.array(scene["camera"]["world_from_camera"]).shape == (4, 4)
    assert scene["fighters"] == ["tori"] and scene["front"] == "tori"
    assert scene["body_model"]["id"] == "anny"
    fighter = np.load(out / "fighter_tori.npz")
    vertices, faces = fighter["vertices"], fighter["faces"]
    assert vertices.shape[1] == 3 and faces.shape[1] == 3 and faces.max() < len(vertices)
    assert fighter["keypoints3d"].shape == (25, 3) and fighter["keypoints2d"].shape == (25, 2)
    assert fighter["keypoint_confidence"].shape == (25,)
    bones = len(fighter["bone_names"])
    assert fighter["rest_heads"].shape == fighter["rest_tails"].shape == (bones, 3)
    assert fighter["skin_weights"].shape == (len(vertices), bones)
    np.testing.assert_allclose(fighter["skin_weights"].sum(axis=1), 1.0, atol=1e-3)
    assert (vertices[:, 2] > 0).all()  # in front of the camera
    glb = trimesh.load(out / "scene.glb")
    assert sum(len(g.vertices) for g in glb.geometry.values()) == len(vertices)
    assert (out / "scene.obj").stat().st_size > 0
    assert (out / "overlay.png").stat().st_size > 0
    assert not list(out.parent.glob("*.partial"))


def test_true_keypoints_from_openpose_json_fit_the_sample(tmp_path, sample_truth):
    """A keypoint file replaces the detector; with exact keypoints the fit reprojects onto them."""
    report = reconstruct(SAMPLE / "photo.jpg", tmp_path / "r", keypoints_file=SAMPLE / "keypoints_openpose.json")
    fighter = np.load(tmp_path / "r" / "fighter_tori.npz")
    np.testing.assert_allclose(fighter["keypoints2d"], sample_truth["keypoints2d"][0], atol=0.01)
    assert report.keypoint_error_px <= 5.0
