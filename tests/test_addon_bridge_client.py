"""The bridge client: a crashed, missing or cancelled bridge changes nothing in the scene and
says what happened; a working one is driven by the operators."""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from blender_addon import MODULE, SAMPLE_PHOTO, fighter_arrays, import_photo


def _snapshot(bpy):
    scene = bpy.context.scene
    tori = bpy.data.objects["Tori"]
    return (sorted(o.name for o in scene.objects), scene.golden_score.result_dir,
            [tuple(b.matrix_basis.col[3]) + tuple(b.rotation_quaternion) for b in tori.pose.bones])


def _log_files(bpy):
    folder = Path(bpy.utils.extension_path_user(MODULE, path="logs"))
    return set(folder.glob("*.log"))


@pytest.fixture
def dying_bridge(tmp_path):
    """An 'interpreter' that reports progress, then is killed (as by the OOM killer)."""
    script = tmp_path / "dying_python"
    script.write_text(f"#!{sys.executable}\nimport os, signal\n"
                      "print('{\"schema\":1,\"type\":\"progress\",\"id\":\"reconstruct\",\"stage\":\"fit\","
                      "\"step\":1,\"total\":9}', flush=True)\n"
                      "os.kill(os.getpid(), signal.SIGKILL)\n")
    script.chmod(0o755)
    return script


def test_killed_bridge_leaves_the_scene_unchanged_and_reports_an_error(detected, blender, dying_bridge):
    bpy = blender
    before, logs = _snapshot(bpy), _log_files(bpy)
    results = set(Path(detected.golden_score.result_dir).parent.iterdir())
    bpy.context.preferences.addons[MODULE].preferences.interpreter = str(dying_bridge)
    with pytest.raises(RuntimeError, match="stopped unexpectedly \\(SIGKILL\\)"):
        bpy.ops.golden_score.fit_fighters()
    assert _snapshot(bpy) == before
    assert set(Path(detected.golden_score.result_dir).parent.iterdir()) == results  # no stray result
    new_logs = _log_files(bpy) - logs
    assert len(new_logs) == 1 and '"stage":"fit"' in new_logs.pop().read_text()


def test_missing_interpreter_is_a_short_error(detected, blender):
    bpy = blender
    before = _snapshot(bpy)
    bpy.context.preferences.addons[MODULE].preferences.interpreter = "/nowhere/python3"
    with pytest.raises(RuntimeError, match="Cannot start /nowhere/python3"):
        bpy.ops.golden_score.refine()
    assert _snapshot(bpy) == before


def test_the_interpreter_in_use_is_named(empty_scene, addon):
    path, source = addon.preferences.interpreter()
    assert Path(path) == Path(sys.executable) and "build.py" in source  # from build_defaults.json


def test_the_bridge_starts_with_the_photo_and_detect_finds_it(empty_scene, blender, addon):
    client = addon.bridge_client
    client.stop_worker()
    import_photo(blender)  # the preference off (as the tests' files have it): nothing starts
    assert client.running_worker() is None
    blender.context.preferences.addons[MODULE].preferences.start_with_photo = True
    try:
        import_photo(blender)
        worker = client.running_worker()
        assert worker is not None and worker.jobs == 0  # loading while the artist looks at the photo
        # what Detect would be given: that worker, not a new one
        again, started = client.session_worker(addon.preferences.bridge_interpreter(blender.context),
                                               addon.locations.bridge_home(), client.bridge_environment())
        assert again is worker and not started
    finally:
        client.stop_worker()
    assert client.running_worker() is None


def test_cancel_stops_the_bridge_and_nothing_is_written(empty_scene, addon, tmp_path):
    client = addon.bridge_client
    out = tmp_path / "result"
    job = client.Job("Cancel test", [("reconstruct", client.bridge_command(
        sys.executable, "reconstruct", str(SAMPLE_PHOTO), "--out", str(out), "--events"))],
        cwd=addon.locations.bridge_home(), env=client.bridge_environment())
    job.start()
    deadline = time.monotonic() + 60
    while not any(m["type"] == "progress" for m in job.poll(timeout=0.5)):
        assert time.monotonic() < deadline and not job.done
    job.cancel()
    assert job.done and job.failure().startswith("Cancelled")
    assert job._process.wait(10) in (130, -15)  # SIGTERM: the bridge stops cleanly
    assert not out.exists()


def test_fit_follows_a_dragged_keypoint(detected, blender, addon):
    bpy = blender
    from bridge.geometry.camera import project

    before = fighter_arrays(detected)
    K = np.array(json.loads((Path(detected.golden_score.result_dir) / "scene.json").read_text())["camera"]["K"])
    wrist = addon.fighters.guides.keypoint_empties(detected, "tori")[4]
    wrist.location.y += 0.03  # about 20 px up in the photo
    bpy.context.view_layer.update()
    target = addon.fighters.guides.guide_keypoints(detected, detected.camera, "tori")[0][4]
    assert bpy.ops.golden_score.fit_fighters() == {"FINISHED"}
    after = fighter_arrays(detected)
    old_miss = np.linalg.norm(project(K, before["keypoints3d"][4].astype(float)) - target)
    new_miss = np.linalg.norm(project(K, after["keypoints3d"][4].astype(float)) - target)
    assert old_miss > 15 and new_miss < old_miss - 8
    assert os.path.isdir(detected.golden_score.result_dir)


def test_a_fit_of_the_pose_alone_reposes_the_same_mesh_onto_the_bridges_vertices(detected, blender, addon):
    """A warm Fit keeps the build, so the fighter's mesh (and what the artist set on it) stays
    and only the bones move; the skinned mesh still lands on the bridge's new vertices."""
    from test_addon_fighters import _evaluated_vertices
    from blender_addon import world_points

    bpy = blender
    body = bpy.data.objects["Tori body"]
    body["artist_note"] = "kept"
    before = fighter_arrays(detected)
    addon.fighters.guides.keypoint_empties(detected, "tori")[7].location.x += 0.02
    bpy.context.view_layer.update()
    assert bpy.ops.golden_score.fit_fighters() == {"FINISHED"}
    after = fighter_arrays(detected)
    assert np.abs(after["vertices"] - before["vertices"]).max() > 0.005  # the pose did change
    assert bpy.data.objects["Tori body"].get("artist_note") == "kept"
    posed = _evaluated_vertices(bpy, bpy.data.objects["Tori body"])
    assert np.abs(posed - world_points(detected, after["vertices"].astype(np.float64))).max() < 1e-3


def test_operators_that_change_the_scene_support_undo(addon, blender):
    for name in ("import_photo", "detect_fighters", "fit_fighters", "refine", "resolve_contact", "add_box",
                 "paint_strokes", "add_turntable"):
        assert {"REGISTER", "UNDO"} <= set(getattr(blender.types, f"GOLDEN_SCORE_OT_{name}").bl_options), name
