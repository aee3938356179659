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
