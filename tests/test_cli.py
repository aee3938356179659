"""The headless main job as a user runs it: exit codes, one clear line, nothing half-written."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, SAMPLE


def run_bridge(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "bridge", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


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
