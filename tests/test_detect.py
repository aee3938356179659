"""MediaPipe on the sample photo, upright and turned (the detector runs offline)."""
import numpy as np
import pytest
from PIL import Image

from bridge.detection.mediapipe_pose import Detection, detect_body25, detect_fighter, fused
from bridge.imaging.photo import load_photo
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


def _turned(array, quarter_turns):
    return np.ascontiguousarray(np.rot90(array, k=-quarter_turns))


def _turned_points(points, quarter_turns, width, height):
    """Points in an image turned clockwise by quarter_turns."""
    for _ in range(quarter_turns):
        points = np.column_stack([height - points[:, 1], points[:, 0]])
        width, height = height, width
    return points


def _median_error(found, truth):
    confident = found.confidence > 0.5
    assert confident.sum() >= 15
    return np.median(np.linalg.norm(found.points - truth, axis=1)[confident])


@pytest.mark.parametrize("quarter_turns", [1, 2])
def test_fighter_found_whichever_way_up_without_being_told(sample_truth, quarter_turns):
    photo = load_photo(SAMPLE / "photo.jpg")
    mask = np.asarray(Image.open(SAMPLE / "mask_0.png")) > 127
    found = detect_fighter(_turned(photo.rgb, quarter_turns), _turned(mask, quarter_turns))
    truth = _turned_points(sample_truth["keypoints2d"][0], quarter_turns, photo.width, photo.height)
    assert _median_error(found, truth) < 8.0


def test_fighter_in_the_mask_is_found_in_a_large_photo_and_not_the_other_one(sample_truth):
    """Two copies side by side: the right one's mask gets the right one, in a photo large enough
    to be detected downsized."""
    photo = load_photo(SAMPLE / "photo.jpg")
    mask = np.asarray(Image.open(SAMPLE / "mask_0.png")) > 127
    pair = np.concatenate([photo.rgb, photo.rgb], axis=1)
    right = np.concatenate([np.zeros_like(mask), mask], axis=1)
    left = np.concatenate([mask, np.zeros_like(mask)], axis=1)
    big, big_right, big_left = (np.kron(a, np.ones((3, 3, 1)[: a.ndim], a.dtype)) for a in (pair, right, left))
    found = detect_fighter(big, big_right, other_mask=big_left)
    truth = sample_truth["keypoints2d"][0] + [photo.width, 0]
    assert _median_error(found, truth * 3) < 3 * 8.0


def test_no_fighter_in_an_empty_photo():
    assert detect_fighter(np.full((300, 200, 3), 128, np.uint8), np.ones((300, 200), bool)) is None


def test_views_that_agree_average_out_their_error_and_a_stray_one_is_ignored(sample_truth):
    truth = sample_truth["keypoints2d"][0]
    rng = np.random.default_rng(0)
    views = [Detection(truth + rng.normal(0, 3, truth.shape), np.full(25, 0.9), np.zeros((25, 3))) for _ in range(4)]
    views[3].points[4] += 80  # one view puts the right wrist on the other fighter
    merged = fused(views[0], views[1:])
    error = lambda d: np.linalg.norm(d.points - truth, axis=1)  # noqa: E731
    assert error(merged).mean() < 0.75 * error(views[0]).mean()
    assert error(merged)[4] < 8  # the stray wrist did not join the mean


def test_views_side_by_side_find_what_one_at_a_time_finds_and_stderr_comes_back():
    """The crop vote's views run on two MediaPipe graphs at once: the same people as one after
    the other, and the terminal's stderr (silenced while the graphs talk) restored after."""
    import os

    from bridge.detection.mediapipe_pose import detect_views

    rgb = load_photo(SAMPLE / "photo.jpg").rgb
    views = [(rgb, turns) for turns in range(4)] * 2
    before = os.fstat(2)
    together = detect_views(views)
    alone = [detect_body25(image, turns) for image, turns in views]
    after = os.fstat(2)
    assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
    assert sum(d is not None for d in together) >= 4
    for a, b in zip(together, alone):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a.points, b.points, atol=1e-3)
            np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-5)
