"""The judo scene generator (tools/judo_scenes.py) is deterministic, and the committed scenes in
assets/scenes agree with themselves: bodies apart, hands on the other fighter, masks matching
the truth, roles and front recorded.

Only the tiny-render test needs Blender (bpy) and is slow (it poses a scene twice); the others
read the committed files and run the body model.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import judo_scenes  # noqa: E402
from bridge.geometry.penetration import interpenetration_m  # noqa: E402
from bridge.keypoints import INDEX  # noqa: E402

SCENES = judo_scenes.COMMITTED_DIR
COMMITTED = [f"{throw}_{phase}_s{seed}" for throw, phase, seed in judo_scenes.COMMITTED]


def assert_same(a, b, path="params"):
    """Nested dicts, lists, tuples and arrays equal, element for element."""
    assert type(a) is type(b), path
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for index, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{index}]")
    else:
        assert np.array_equal(a, b), path


def test_scene_parameters_are_deterministic():
    assert_same(judo_scenes.scene_parameters(5), judo_scenes.scene_parameters(5))
    assert judo_scenes.scene_parameters(5)["cameras"] != judo_scenes.scene_parameters(6)["cameras"]
    # Naming the throw changes only the throw: every other draw stays the same.
    named = judo_scenes.scene_parameters(5, "tomoe-nage", "throw")
    drawn = judo_scenes.scene_parameters(5)
    assert (named["throw"], named["phase"]) == ("tomoe-nage", "throw")
    assert_same(named["cameras"], drawn["cameras"])


@pytest.mark.parametrize("seed", range(12))
def test_scene_parameters_stay_in_sensible_ranges(seed):
    params = judo_scenes.scene_parameters(seed)
    assert all(35.0 <= c["focal_35mm"] <= 85.0 for c in params["cameras"])
    assert all(0.8 <= c["height"] <= 1.7 for c in params["cameras"])
    genders = [params["shapes"][role]["gender"] for role in judo_scenes.ROLES]
    assert (max(genders) < 0.5) or (min(genders) > 0.5)  # one category
    for shape in params["shapes"].values():
        assert 0.55 <= shape["age"] <= 0.8 and 0.2 <= shape["weight"] <= 0.9
    assert sorted(params["gi"].values()) in (["blue", "white"], ["white", "white"])


def test_template_posing_is_deterministic(body):
    params = judo_scenes.scene_parameters(3, "osoto-gari", "kuzushi")
    first, second = (judo_scenes.initial_fighters(body, params) for _ in range(2))
    for a, b in zip(first, second):
        assert np.array_equal(a["pose"], b["pose"]) and np.array_equal(a["transl"], b["transl"])


def test_tiny_render_is_deterministic(body, tmp_path):
    pytest.importorskip("bpy")
    folders = [judo_scenes.generate(body, 4, tmp_path / name, "osoto-gari", "kuzushi", 64, 85, 2)
               for name in ("a", "b")]
    for name in ("labels.png", "mask_0.png", "mask_1.png"):
        assert np.array_equal(*(np.asarray(Image.open(folder / name)) for folder in folders)), name
    truths = [np.load(folder / "truth.npz") for folder in folders]
    for key in truths[0].files:
        np.testing.assert_allclose(truths[0][key], truths[1][key], atol=1e-5, err_msg=key)
    photos = [np.asarray(Image.open(folder / "photo.jpg"), dtype=float) for folder in folders]
    assert np.abs(photos[0] - photos[1]).mean() < 1.0


@pytest.fixture(scope="module", params=COMMITTED)
def scene(request):
    folder = SCENES / request.param
    with np.load(folder / "truth.npz") as data:
        truth = {key: data[key] for key in data.files}
    info = json.loads((folder / "truth.json").read_text())
    masks = np.stack([np.asarray(Image.open(folder / f"mask_{i}.png")) > 127 for i in range(2)])
    labels = np.asarray(Image.open(folder / "labels.png"))
    return {"name": request.param, "truth": truth, "info": info, "masks": masks, "labels": labels}


def to_world(scene, points):
    world_from_camera = scene["truth"]["world_from_camera"]
    return points @ world_from_camera[:3, :3].T + world_from_camera[:3, 3]


def test_committed_scene_records_roles_front_and_throw(scene):
    info = scene["info"]
    assert info["roles"] == ["tori", "uke"]
    assert f"{info['throw']}_{info['phase']}_s{info['seed']}" == scene["name"]
    assert info["front"] == judo_scenes.front_role(scene["labels"], scene["masks"],
                                                   scene["truth"]["vertices"][:, :, 2].mean(axis=1))
    assert info["description"] and info["grips"]


def test_committed_truth_matches_the_body_model(scene, body):
    import torch

    truth = scene["truth"]
    with torch.no_grad():
        out = body.forward(torch.as_tensor(truth["shape"]), torch.as_tensor(truth["pose"]),
                           torch.as_tensor(truth["transl"]))
    np.testing.assert_allclose(out.vertices.numpy(), truth["vertices"], atol=2e-4)


def test_committed_bodies_do_not_pass_through_each_other(scene, body):
    vertices = scene["truth"]["vertices"].astype(float)
    depth = interpenetration_m(vertices[0], vertices[1], body.faces.numpy())
    assert depth <= judo_scenes.MAX_INTERPENETRATION_M
    assert depth == pytest.approx(scene["info"]["interpenetration_m"], abs=1e-4)


def test_committed_grips_hold_the_other_fighter(scene):
    """Tori's grips all hold (a hand or foot vertex within 3.5 cm of uke); uke may have let go
    with one hand, as truth.json's touch distance then says."""
    from scipy.spatial import cKDTree

    vertices = scene["truth"]["vertices"].astype(float)
    loose = []
    for grip in scene["info"]["grips"]:
        own = judo_scenes.ROLES.index(grip["role"])
        hand = vertices[own][grip["effector_vertices"]]
        touch = cKDTree(vertices[1 - own]).query(hand)[0].min()
        assert touch == pytest.approx(grip["touch_distance_m"], abs=1e-3)
        if touch > 0.035:
            loose.append((grip["role"], grip["limb"], grip["target"], round(touch, 3)))
    assert all(role == "uke" for role, *_ in loose) and len(loose) <= 1, loose


def test_committed_masks_agree_with_the_truth(scene):
    truth, masks = scene["truth"], scene["masks"]
    height, width = masks.shape[1:]
    for person in range(2):
        mask = masks[person]
        assert mask.any() and not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
        seen = truth["visibility"][person] == 1
        cols, rows = np.floor(truth["keypoints2d"][person][seen]).astype(int).T
        assert mask[rows, cols].all()
        assert (scene["labels"][rows, cols] == person + 1).all()
        assert np.count_nonzero(scene["labels"] == person + 1) > 0.2 * np.count_nonzero(mask)  # not hidden


def test_committed_standing_feet_are_on_the_mat(scene):
    for person, role in enumerate(judo_scenes.ROLES):
        lowest = to_world(scene, scene["truth"]["vertices"][person].astype(float))[:, 2].min()
        if scene["info"]["airborne"][role]:
            assert lowest > 0.0
        else:
            assert abs(lowest) < 0.005


def test_committed_upside_down_uke(scene):
    if (scene["info"]["throw"], scene["info"]["phase"]) not in {("tomoe-nage", "throw"), ("seoi-nage", "throw")}:
        pytest.skip("uke is upright in this throw")
    keypoints = to_world(scene, scene["truth"]["keypoints3d"][1].astype(float))
    assert keypoints[INDEX["nose"], 2] < keypoints[INDEX["mid_hip"], 2]
