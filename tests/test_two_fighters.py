"""Two fighters in contact, from a photo alone, against the ground truth of committed judo scenes:
both found (uke upside down too, without rotating anything), each body right, the two not
passing through each other, and the right one in front."""
import json

import numpy as np
import pytest

from bridge.camera import project
from bridge.contact import interpenetration_m
from bridge.metrics import match_people, pa_mpjpe
from bridge.progress import Reporter
from bridge.reconstruct import reconstruct
from conftest import ROOT

SCENES = ROOT / "assets" / "scenes"
CHECKED = ["osoto-gari_kuzushi_s11", "tomoe-nage_throw_s16"]  # standing grips; uke upside down


class _Quiet(Reporter):
    def progress(self, *args, **kwargs):
        pass


@pytest.fixture(scope="module", params=CHECKED)
def scene(request, tmp_path_factory):
    folder = SCENES / request.param
    out = tmp_path_factory.mktemp(request.param) / "result"
    report = reconstruct(folder / "photo.jpg", out, people=2, reporter=_Quiet())
    result = json.loads((out / "scene.json").read_text())
    fighters = {role: dict(np.load(out / f"fighter_{role}.npz")) for role in result["fighters"]}
    truth = np.load(folder / "truth.npz")
    info = json.loads((folder / "truth.json").read_text())
    K = np.array(result["camera"]["K"])
    roles = list(fighters)
    matched = match_people([project(K, fighters[r]["keypoints3d"]) for r in roles], truth["keypoints2d"])
    return {"report": report, "result": result, "fighters": fighters, "truth": truth, "info": info,
            "roles": roles, "matched": matched}


def test_both_fighters_are_found_and_written(scene):
    assert scene["result"]["fighters"] == ["tori", "uke"], scene["report"].warnings
    assert scene["report"].seconds["fit"] > 0


def test_each_body_is_within_60_mm_of_the_truth(scene):
    for role, index in zip(scene["roles"], scene["matched"]):
        error = pa_mpjpe(scene["fighters"][role]["keypoints3d"], scene["truth"]["keypoints3d"][index])
        assert error <= 0.060, f"{role}: PA-MPJPE {1000 * error:.0f} mm"


def test_bodies_interpenetrate_by_at_most_a_centimetre(scene):
    a, b = (scene["fighters"][r] for r in scene["roles"])
    depth = interpenetration_m(a["vertices"].astype(float), b["vertices"].astype(float), a["faces"])
    assert depth <= 0.010, f"{1000 * depth:.1f} mm"


def test_the_front_fighter_is_the_one_in_front_in_the_photo(scene):
    front_person = scene["matched"][scene["roles"].index(scene["result"]["front"])]
    assert scene["info"]["roles"][front_person] == scene["info"]["front"]
