"""The headless main job as a user runs it: exit codes, one clear line, nothing half-written."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, SAMPLE, run_bridge


def error_lines(stderr: str):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def blank_photo(tmp_path):
    path = tmp_path / "nobody.png"
    Image.fromarray(np.full((320, 240, 3), 128, np.uint8)).save(path)
    return path


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "not_image", "nobody"])
def test_bad_photos_exit_nonzero_with_one_line_and_no_files(tmp_path, blank_photo, case):
    photo = {
        "missing": tmp_path / "nope.jpg",
        "empty": tmp_path / "empty.jpg",
        "corrupt": tmp_path / "corrupt.jpg",
        "not_image": tmp_path / "notes.jpg",
        "nobody": blank_photo,
    }[case]
    if case == "empty":
        photo.write_bytes(b"")
    if case == "corrupt":
        photo.write_bytes((SAMPLE / "photo.jpg").read_bytes()[:2000])
    if case == "not_image":
        photo.write_text("shopping list")
    out = tmp_path / "result"
    proc = run_bridge("reconstruct", photo, "--out", out)
    assert proc.returncode != 0
    lines = error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert str(photo.name) in lines[0]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if "result" in p.name] == []


def test_malformed_keypoint_file_is_refused(tmp_path):
    keypoints = tmp_path / "kp.json"
    keypoints.write_text('{"people": [{"pose_keypoints_2d": [1, 2]}]}')
    proc = run_bridge("reconstruct", SAMPLE / "photo.jpg", "--out", tmp_path / "r", "--keypoints", keypoints)
    assert proc.returncode != 0
    assert "kp.json" in error_lines(proc.stderr)[0]
    assert not (tmp_path / "r").exists()


def test_unwritable_output_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_bridge("reconstruct", SAMPLE / "photo.jpg", "--out", blocker / "result",
                      "--keypoints", SAMPLE / "keypoints_openpose.json")
    assert proc.returncode != 0
    assert len(error_lines(proc.stderr)) == 1
    assert blocker.read_text() == "x"


def test_events_are_json_lines_ending_in_an_error(tmp_path, blank_photo):
    proc = run_bridge("reconstruct", blank_photo, "--out", tmp_path / "r", "--events")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events and all("type" in e and e["id"] == "reconstruct" for e in events)
    assert events[-1]["type"] == "error" and events[-1]["code"] == "no_person"


@pytest.mark.parametrize("case", ["rect_outside", "strokes_wrong_size", "strokes_missing"])
def test_bad_rectangles_and_stroke_files_are_refused_before_anything_is_written(tmp_path, case):
    args = {"rect_outside": ["--uke-rect", "900,900,1200,1300"],
            "strokes_wrong_size": ["--tori-strokes", tmp_path / "strokes.png"],
            "strokes_missing": ["--tori-strokes", tmp_path / "nope.png"]}[case]
    Image.fromarray(np.zeros((10, 10, 4), np.uint8)).save(tmp_path / "strokes.png")
    out = tmp_path / "r"
    proc = run_bridge("reconstruct", SAMPLE / "photo.jpg", "--people", "2", "--out", out, "--events", *args)
    assert proc.returncode == 1
    assert json.loads(proc.stdout.splitlines()[-1])["code"] == case
    assert len(error_lines(proc.stderr)) == 1
    assert not out.exists()


def test_two_people_asked_but_one_found_fits_one_and_says_which(tmp_path):
    out = tmp_path / "r"
    proc = run_bridge("reconstruct", SAMPLE / "photo.jpg", "--people", "2", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "Only one person was found" in proc.stderr and "pixels (" in proc.stderr
    scene = json.loads((out / "scene.json").read_text())
    assert scene["fighters"] == ["tori"] and scene["warnings"]


def test_three_people_in_a_keypoint_file_keep_the_two_largest_and_most_central(tmp_path):
    person = json.loads((SAMPLE / "keypoints_openpose.json").read_text())["people"][0]["pose_keypoints_2d"]
    flat = np.array(person, float).reshape(25, 3)
    small = flat.copy()
    small[:, :2] = small[:, :2] * 0.4 + [10, 10]  # a small referee in the corner
    beside = flat.copy()
    beside[:, 0] += 60
    people = [{"pose_keypoints_2d": p.ravel().tolist()} for p in (small, flat, beside)]
    keypoints = tmp_path / "three.json"
    keypoints.write_text(json.dumps({"people": people}))
    out = tmp_path / "r"
    proc = run_bridge("reconstruct", SAMPLE / "photo.jpg", "--people", "2", "--keypoints", keypoints, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "holds 3 people" in proc.stderr
    scene = json.loads((out / "scene.json").read_text())
    assert scene["fighters"] == ["tori", "uke"]
    kept = [np.load(out / f"fighter_{role}.npz")["keypoints2d"] for role in scene["fighters"]]
    assert all(points[:, 0].max() > 100 for points in kept)  # not the small one in the corner
