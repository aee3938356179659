"""A Fit from the artist's edits on two fighters in contact (issue 20): a nudged keypoint refits
that fighter where it stands, beside the other, without passing into it or taking its place."""
import json
from pathlib import Path

import numpy as np
import pytest

from bridge import cli
from bridge.geometry.penetration import interpenetration_m
from bridge.keypoints import INDEX
from bridge.progress import Reporter
from bridge.result.store import read_result
from bridge.serve import run_job

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "scenes" / "uchi-mata_throw_s34" / "photo.jpg"


class _Quiet(Reporter):
    def __init__(self):
        self.warnings = []

    def progress(self, *args, **kwargs):
        pass

    def result(self, paths, **extra):
        self.warnings += extra.get("warnings") or []

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@pytest.fixture(scope="module")
def nudged(tmp_path_factory):
    """Uchi-mata detected, then tori's right wrist moved 5 px up and tori alone refitted, the way
    the add-on asks: the fighters' keypoints in a file, tori first, and the last result as start."""
    folder = tmp_path_factory.mktemp("warm")
    run_job(cli, {"argv": ["reconstruct", str(PHOTO), "--out", str(folder / "detected"), "--people", "2"]},
            _Quiet(), lambda: False)
    detected = read_result(folder / "detected")
    people = []
    for role in ("tori", "uke"):
        fighter = detected.fighters[role]
        points = np.array(fighter["keypoints2d"], float)
        if role == "tori":
            points[4, 1] -= 5.0  # BODY_25 4: the right wrist
        people.append({"pose_keypoints_2d": np.column_stack([points, fighter["keypoint_confidence"]]).ravel().tolist()})
    (folder / "keypoints.json").write_text(json.dumps({"people": people}))
    reporter = _Quiet()
    run_job(cli, {"argv": ["reconstruct", str(PHOTO), "--out", str(folder / "refit"), "--people", "2",
                           "--keypoints", str(folder / "keypoints.json")],
                  "start": {"result": str(folder / "detected"), "roles": ["tori"]}}, reporter, lambda: False)
    return detected, read_result(folder / "refit"), reporter.warnings


def test_the_fighter_not_refitted_stays_exactly_where_it_was(nudged):
    detected, refit, _ = nudged
    moved = np.abs(refit.fighters["uke"]["vertices"] - detected.fighters["uke"]["vertices"]).max()
    assert moved < 1e-4, f"uke moved {1000 * moved:.2f} mm"  # float32 noise at 3 m is about 1e-6 m


def test_the_refitted_fighter_keeps_its_role_build_and_depth(nudged):
    detected, refit, _ = nudged
    before, after = detected.fighters["tori"], refit.fighters["tori"]
    # Still on tori's own keypoints, not on uke's.
    own = np.median(np.linalg.norm(after["keypoints2d"] - before["keypoints2d"], axis=1))
    assert own < 1.0, f"tori's keypoints moved {own:.1f} px: not tori's any more"
    assert np.allclose(after["shape"], before["shape"]), "a nudged keypoint changed tori's build"
    # A 5 px nudge is no reason to stand elsewhere along the camera's ray (the contact with uke may
    # move it a little).
    pelvis = INDEX["mid_hip"]
    assert abs(after["keypoints3d"][pelvis, 2] - before["keypoints3d"][pelvis, 2]) < 0.10


def test_the_refitted_fighter_does_not_pass_into_the_other(nudged):
    _, refit, warnings = nudged
    tori, uke = refit.fighters["tori"], refit.fighters["uke"]
    depth = interpenetration_m(tori["vertices"].astype(float), uke["vertices"].astype(float), tori["faces"])
    assert depth <= 0.010, f"{1000 * depth:.0f} mm inside each other"
    assert not [w for w in warnings if "pass" in w], warnings
