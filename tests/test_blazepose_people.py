"""MediaPipe's two BlazePose models run directly: several people in one photo, each with a mask."""
import numpy as np
import pytest

from bridge.detection.blazepose_people import detector
from bridge.imaging.photo import load_photo
from bridge.keypoints import CONFIDENT
from conftest import ROOT

SCENE = ROOT / "assets" / "scenes" / "tomoe-nage_throw_s36"


@pytest.fixture(scope="module")
def tomoe_nage():
    return load_photo(SCENE / "photo.jpg").rgb, np.load(SCENE / "truth.npz")["keypoints2d"]


def _median_error(person, true_points):
    points, confidence = person.body25()
    ok = confidence >= CONFIDENT
    return float(np.median(np.linalg.norm(points[ok] - true_points[ok], axis=1)))


def test_both_fighters_are_found_each_with_its_own_mask_and_no_ghost(tomoe_nage):
    rgb, truth = tomoe_nage
    people = detector().detect_people(rgb, max_people=3)
    assert len(people) == 2
    assert max(min(_median_error(p, t) for p in people) for t in truth) < 15
    masks = [p.mask > 0.5 for p in people]
    assert all(m.shape == rgb.shape[:2] and m.any() for m in masks)
    assert (masks[0] & masks[1]).sum() < 0.2 * min(m.sum() for m in masks)


def test_upside_down_they_are_found_all_the_same(tomoe_nage):
    rgb, truth = tomoe_nage
    height, width = rgb.shape[:2]
    turned = np.ascontiguousarray(rgb[::-1, ::-1])
    truth = np.stack([width - truth[..., 0], height - truth[..., 1]], -1)
    people = detector().detect_people(turned, max_people=2)
    assert len(people) == 2 and max(min(_median_error(p, t) for p in people) for t in truth) < 15


def test_a_blank_image_has_nobody():
    assert detector().detect_people(np.full((480, 640, 3), 128, np.uint8), max_people=2) == []
