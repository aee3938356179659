"""The generated benchmark set (tools/scene_sets.py) is fixed by its seeds and options, each
split covers every category, a referee is never a fighter, and photo sizes span 512-4000 px.

Fast: nothing here poses a body or renders (scene parameters and the plan are pure functions).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import judo_scenes  # noqa: E402
import scene_sets  # noqa: E402

PLAN = scene_sets.plan(48)


def _params(scene):
    if scene["kind"] == "pair":
        return judo_scenes.scene_parameters(scene["seed"], scene["throw"], scene["phase"], scene["options"])
    return judo_scenes.solo_parameters(scene["seed"], scene["pose"], scene["view"], scene["options"])


def _plain(value):
    return json.loads(json.dumps(value, default=judo_scenes._json_default))


def test_plan_and_parameters_are_deterministic():
    assert scene_sets.plan(48) == PLAN
    for scene in PLAN[::5]:
        assert _plain(_params(scene)) == _plain(_params(scene)), scene["name"]
    first, second = (judo_scenes.scene_parameters(700, "seoi-nage", "throw", dict(PLAN[0]["options"], variant=v))
                     for v in (0, 1))
    assert first["cameras"] != second["cameras"]  # another variant, another look
    assert _plain(first["shapes"]) == _plain(second["shapes"])  # ... of the same bodies


def test_options_leave_the_committed_draws_alone():
    """Without options nothing changes (the committed scenes regenerate as before); the options'
    draws come from their own generators, so the throw's jitter stays that of the seed."""
    plain = judo_scenes.scene_parameters(31, "osoto-gari", "kuzushi")
    assert "options" not in plain and "referee" not in plain
    varied = judo_scenes.scene_parameters(31, "osoto-gari", "kuzushi", {"clutter": True, "camera": "high"})
    assert _plain(varied["jitter"]) == _plain(plain["jitter"])
    assert _plain(varied["shapes"]) == _plain(plain["shapes"])  # "typical" build: the seed's own


def test_variants_of_one_pose_share_the_posing():
    keys = {}
    for scene in PLAN:
        if scene["kind"] == "pair":
            keys.setdefault(scene["group"], set()).add(judo_scenes._pose_key(_params(scene)))
    assert all(len(found) == 1 for found in keys.values())
    assert len(set.union(*keys.values())) == len(keys)


def test_every_category_is_in_both_splits():
    counts = scene_sets.category_counts(PLAN)
    assert {split: sum(s["split"] == split for s in PLAN) for split in scene_sets.SPLITS} == \
        {"tune": 24, "holdout": 24}
    assert sum(s["kind"] == "pair" for s in PLAN) >= 40 and sum(s["kind"] == "solo" for s in PLAN) >= 8
    missing = {category: split_counts for category, split_counts in counts.items() if 0 in split_counts.values()}
    assert not missing
    wanted = {"size_small", "size_medium", "size_large", "gi_blue_white", "gi_both_white", "gi_both_blue", "no_gi",
              "build_heavy", "build_light", "build_mismatch", "clutter", "referee", "camera_low", "camera_high",
              "camera_roll", "uke_upside_down", "uke_sideways", "tangled", "one_fighter", "seen_from_behind",
              "solo_kick", "solo_step"}
    assert wanted <= set(counts)
    # Splits are by pose: no posed pair or lone fighter appears in both.
    groups = {}
    for scene in PLAN:
        groups.setdefault(scene["group"], set()).add(scene["split"])
    assert all(len(splits) == 1 for splits in groups.values())
    assert len({s["name"] for s in PLAN}) == len(PLAN)


def test_categories_match_the_parameters():
    for scene in PLAN:
        params = _params(scene)
        categories = set(scene["categories"])
        long_side = max(params["size"])
        assert long_side == scene["options"]["long_side"]
        assert scene_sets.size_category(long_side) in categories
        if scene["kind"] == "pair":
            assert ("referee" in categories) == (params["referee"] is not None)
            assert ("clutter" in categories) == bool(params["environment"].get("crowd"))
            assert ("camera_roll" in categories) == any(abs(c["roll"]) >= 10 for c in params["cameras"])
            low, high = judo_scenes.CAMERA_HEIGHTS[params["options"]["camera"]]
            assert all(low <= c["height"] <= high for c in params["cameras"])
            if "uke_upside_down" in categories:
                assert abs(judo_scenes.THROWS[scene["throw"]][scene["phase"]]["uke"]["tilt"][0]) > 110
            assert ("no_gi" in categories) == (set(params["gi"].values()) == {"none"})


def test_the_referee_is_not_a_fighter():
    with_referee = [s for s in PLAN if "referee" in s["categories"]]
    assert with_referee
    for scene in with_referee:
        notes = judo_scenes.people_notes(_params(scene))
        assert notes["person_roles"] == ["tori", "uke", "referee"]
        assert notes["fighters"] == 2 and notes["fighter_indices"] == [0, 1]
        assert notes["non_fighters"] == [{"index": 2, "role": "referee", "fighter": False,
                                          "phenotype": notes["non_fighters"][0]["phenotype"]}]
    without = next(s for s in PLAN if s["kind"] == "pair" and "referee" not in s["categories"])
    assert "non_fighters" not in judo_scenes.people_notes(_params(without))
    # Placed on the far side from the throw's usual view: 30-70 degrees off straight behind.
    for scene in with_referee:
        params = _params(scene)
        off = (params["referee"]["angle"] - judo_scenes.THROWS[scene["throw"]]["view"] - 180.0 + 180.0) % 360.0 - 180.0
        assert 30.0 <= abs(off) <= 70.0 and 1.5 <= params["referee"]["distance"] <= 2.3


def test_sizes_span_512_to_4000():
    sides = [s["options"]["long_side"] for s in PLAN]
    assert min(sides) == 512 and max(sides) == 4000
    for split in scene_sets.SPLITS:
        in_split = [s["options"]["long_side"] for s in PLAN if s["split"] == split]
        assert min(in_split) <= 800 and max(in_split) > 2000
    params = judo_scenes.scene_parameters(1, "seoi-nage", "throw", {"long_side": 4000})
    assert params["size"] == (3000, 4000)  # seoi-nage is portrait
    with pytest.raises(ValueError):
        judo_scenes.scene_parameters(1, options={"long_sides": 512})


def test_camera_roll_turns_about_the_optical_axis():
    roll = judo_scenes._roll_matrix(40.0)
    np.testing.assert_allclose(roll @ roll.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(roll[:, 2], [0.0, 0.0, 1.0])
    assert np.degrees(np.arctan2(roll[1, 0], roll[0, 0])) == pytest.approx(40.0)


def test_count_takes_both_splits():
    small = scene_sets.plan(6)
    assert [s["split"] for s in small] == ["holdout"] * 3 + ["tune"] * 3
    assert small[:3] == PLAN[:3]
    with pytest.raises(ValueError):
        scene_sets.plan(50)


@pytest.mark.parametrize("split", scene_sets.EXTRA_SPLITS)
def test_the_extra_splits_share_no_pose_or_name_with_the_others(split):
    """--split fresh and blind: scenes for checking a change after the holdout (and fresh) were looked
    at; none of their posed pairs, lone fighters, seeds or names may be another split's."""
    extra = scene_sets.fresh_plan(split)
    others = PLAN + [s for other in scene_sets.EXTRA_SPLITS if other != split for s in scene_sets.fresh_plan(other)]
    assert extra == scene_sets.fresh_plan(split) and {s["split"] for s in extra} == {split}
    assert sum(s["kind"] == "pair" for s in extra) >= 10 and any("referee" in s["categories"] for s in extra)
    assert not {s["name"] for s in extra} & {s["name"] for s in others}
    poses = lambda scenes: {judo_scenes._pose_key(_params(s)) for s in scenes if s["kind"] == "pair"}  # noqa: E731
    assert not poses(extra) & poses(others)
    assert not {s["seed"] for s in extra} & {s["seed"] for s in others}


def test_every_planned_pair_has_a_committed_pose_that_loads():
    """A fresh machine renders the same splits: each posed pair of the 48 and of fresh and blind
    is committed (or marked as one that cannot be posed), and a committed one loads as two
    fighters with shapes, poses and translations and without posing anything again."""
    scenes = PLAN + [s for split in scene_sets.EXTRA_SPLITS for s in scene_sets.fresh_plan(split)]
    keys = {judo_scenes._pose_key(_params(s)) for s in scenes if s["kind"] == "pair"}
    folder = judo_scenes.COMMITTED_POSES
    committed = {p.stem for p in folder.iterdir() if p.suffix in (".json", ".failed")}
    assert keys == committed, (sorted(keys - committed), sorted(committed - keys))
    posed = sorted(k for k in keys if (folder / f"{k}.json").is_file())
    assert len(posed) >= 0.8 * len(keys)
    by_key = {judo_scenes._pose_key(_params(s)): s for s in scenes if s["kind"] == "pair"}
    for key in posed:
        fighters, grips, depth = judo_scenes.cached_pose(None, _params(by_key[key]), "/nonexistent/cache")
        assert [f["role"] for f in fighters] == list(judo_scenes.ROLES)
        assert all(np.isfinite(f["pose"]).all() and np.isfinite(f["transl"]).all() for f in fighters)
        assert 0.0 <= depth <= 0.005  # posed within 5 mm of interpenetration
    assert not Path("/nonexistent/cache").exists()  # a committed pose writes nothing
