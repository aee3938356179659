"""MediaPipe on the sample photo, upright and turned (the detector runs offline)."""
import numpy as np

from bridge.detect import detect_body25
from bridge.image_io import load_photo
from conftest import SAMPLE


def test_detector_finds_the_sample_person_near_the_truth(sample_truth):
    photo = load_photo(SAMPLE / "photo.jpg")
    found = detect_body25(photo.rgb)
    assert found is not None
    confident = found.confidence > 0.5
    assert confident.sum() >= 15
    errors = np.linalg.norm(found.points - sample_truth["keypoints2d"][0], axis=1)
    assert np.median(errors[confident]) < 8.0
    assert found.points3d.shape == (25, 3)


def test_upside_down_photo_detected_when_turned_back(sample_truth):
    upside_down = np.ascontiguousarray(load_photo(SAMPLE / "photo.jpg").rgb[::-1, ::-1])
    found = detect_body25(upside_down, quarter_turns=2)
    assert found is not None
    truth = np.array([384, 512]) - sample_truth["keypoints2d"][0]  # the truth in the turned photo
    confident = found.confidence > 0.5
    assert np.median(np.linalg.norm(found.points - truth, axis=1)[confident]) < 8.0


def test_large_photo_is_detected_small_but_answered_in_its_own_pixels(tmp_path, sample_truth):
    from PIL import Image

    from bridge.progress import Reporter
    from bridge.reconstruct import _person_keypoints

    Image.open(SAMPLE / "photo.jpg").resize((1536, 2048)).save(tmp_path / "big.jpg")
    points, conf, _ = _person_keypoints(load_photo(tmp_path / "big.jpg"), None, Reporter(stream=open("/dev/null", "w")))
    confident = conf > 0.5
    errors = np.linalg.norm(points / 4 - sample_truth["keypoints2d"][0], axis=1)
    assert np.median(errors[confident]) < 8.0
