import json

import numpy as np
import pytest

from bridge.errors import BridgeError
from bridge.keypoints import BODY_25, INDEX, load_openpose_json, map_keypoints


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
