import json

import numpy as np
import pytest

from bridge.errors import BridgeError
from bridge.detection.keypoint_file import assign_people, load_coco_json, load_keypoint_file, load_openpose_json, prominence
from bridge.keypoints import INDEX, map_keypoints
from bridge.result.format import BODY_25


def test_blazepose_maps_to_body25_with_neck_and_mid_hip_averaged():
    points = np.arange(66, dtype=float).reshape(33, 2)
    conf = np.linspace(0.1, 1.0, 33)
    body, body_conf = map_keypoints(points, conf, "blazepose33")
    assert body.shape == (25, 2)
    np.testing.assert_allclose(body[INDEX["neck"]], (points[11] + points[12]) / 2)
    np.testing.assert_allclose(body[INDEX["right_wrist"]], points[16])
    np.testing.assert_allclose(body[INDEX["left_heel"]], points[29])
    assert body_conf[INDEX["neck"]] == pytest.approx(min(conf[11], conf[12]))
    assert body_conf[INDEX["left_small_toe"]] == 0.0  # BlazePose has no small toes


def test_coco17_maps_every_body_point_but_the_feet():
    points = np.random.default_rng(0).uniform(0, 100, (17, 2))
    body, conf = map_keypoints(points, np.ones(17), "coco17")
    assert (conf[:19] == 1).all() and (conf[19:] == 0).all()
    np.testing.assert_allclose(body[INDEX["mid_hip"]], (points[11] + points[12]) / 2)


def test_openpose_json_round_trip(tmp_path):
    flat = np.arange(75, dtype=float)
    path = tmp_path / "kp.json"
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": flat.tolist()}]}))
    (points, conf), = load_openpose_json(path)
    assert points.shape == (25, 2) and conf.shape == (25,)
    np.testing.assert_allclose(points[1], [3, 4])
    assert len(BODY_25) == 25


@pytest.mark.parametrize("text", ["not json", '{"people": [{"pose_keypoints_2d": [1, 2, 3]}]}', '{"nobody": []}'])
def test_malformed_openpose_json_is_a_clear_error(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(BridgeError) as err:
        load_openpose_json(path)
    assert err.value.code == "keypoints_malformed"
    assert str(path) in err.value.message


def _coco_triples(rng, visible=2):
    points = rng.uniform(0, 100, (17, 2))
    return points, np.column_stack([points, np.full(17, visible)]).ravel().tolist()


def test_coco_results_list_maps_to_body25_with_scores_as_confidence(tmp_path):
    points, flat = _coco_triples(np.random.default_rng(1))
    flat[3 * 9 + 2] = 0.4  # left wrist scored 0.4 by a detector
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"image_id": 7, "category_id": 1, "keypoints": flat, "score": 0.9}]))
    (body, conf), = load_coco_json(path)
    np.testing.assert_allclose(body[INDEX["left_wrist"]], points[9])
    np.testing.assert_allclose(body[INDEX["neck"]], (points[5] + points[6]) / 2)
    assert conf[INDEX["left_wrist"]] == pytest.approx(0.4)
    assert conf[INDEX["nose"]] == 1.0 and conf[INDEX["left_heel"]] == 0.0


def test_coco_dataset_unlabelled_points_get_no_confidence_and_crowds_are_dropped(tmp_path):
    _, flat = _coco_triples(np.random.default_rng(2))
    flat[3 * 0 + 2] = 0  # nose not labelled
    crowd = [0] * 51
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"images": [{"id": 1}], "annotations": [
        {"image_id": 1, "keypoints": flat}, {"image_id": 1, "keypoints": crowd, "iscrowd": 1}]}))
    (body, conf), = load_coco_json(path)
    assert conf[INDEX["nose"]] == 0.0 and conf[INDEX["right_eye"]] == 1.0


def test_keypoint_file_format_is_recognised(tmp_path):
    _, coco = _coco_triples(np.random.default_rng(3))
    (tmp_path / "coco.json").write_text(json.dumps([{"keypoints": coco}, {"keypoints": coco}]))
    (tmp_path / "openpose.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 75}]}))
    assert len(load_keypoint_file(tmp_path / "coco.json")) == 2
    assert len(load_keypoint_file(tmp_path / "openpose.json")) == 1


@pytest.mark.parametrize("text, code", [
    ("[1, 2]", "keypoints_malformed"),
    ('[{"keypoints": [1, 2, 3]}]', "keypoints_malformed"),
    ('{"annotations": {}}', "keypoints_malformed"),
    ('[{"image_id": 1, "keypoints": []}, {"image_id": 2, "keypoints": []}]', "keypoints_malformed"),
    ("[]", "no_person"),
    ('{"people": []}', "no_person"),
])
def test_bad_keypoint_files_are_clear_errors(tmp_path, text, code):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(BridgeError) as err:
        load_keypoint_file(path)
    assert err.value.code == code
    assert str(path) in err.value.message


def test_missing_keypoint_file():
    with pytest.raises(BridgeError) as err:
        load_keypoint_file("/nonexistent/kp.json")
    assert err.value.code == "keypoints_missing"


def _person_at(x0, y0, size, conf=1.0):
    """A person whose 25 points fill the square (x0, y0, x0 + size, y0 + size)."""
    grid = np.random.default_rng(int(x0 + y0)).uniform(0, size, (25, 2))
    return grid + [x0, y0], np.full(25, conf)


def test_people_are_assigned_to_the_fighter_whose_region_holds_them():
    tori, uke, referee = _person_at(10, 10, 40), _person_at(60, 10, 40), _person_at(150, 0, 20)
    uke_mask = np.zeros((100, 200), bool)
    uke_mask[:, 55:105] = True
    assert assign_people([referee, uke, tori], [(0, 0, 52, 100), uke_mask]) == [2, 1]


def test_overlapping_regions_still_give_each_fighter_its_own_person():
    left, right = _person_at(0, 0, 60), _person_at(40, 0, 60)
    wide = (0, 0, 100, 60)  # holds both people
    assert assign_people([left, right], [wide, (0, 0, 45, 60)]) == [1, 0]


def test_fighter_without_a_person_in_its_region_gets_none():
    person = _person_at(0, 0, 50)
    faint = _person_at(100, 0, 50, conf=0.1)  # nothing confident
    assert assign_people([person, faint], [(0, 0, 50, 50), (100, 0, 150, 50)]) == [0, None]
    assert assign_people([], [(0, 0, 50, 50)]) == [None]


def test_large_central_people_are_the_most_prominent():
    fighters = [_person_at(200, 150, 150), _person_at(330, 170, 140)]
    referee, spectator = _person_at(20, 20, 120), _person_at(600, 400, 40)
    people = [referee, fighters[0], spectator, fighters[1]]
    ranked = sorted(range(4), key=lambda i: -prominence(*people[i], 640, 480))
    assert sorted(ranked[:2]) == [1, 3]
