"""Issue 17: every bad input ends with a non-zero exit and ONE clear `error:` line (or one
`error` event), no traceback, nothing of the user's touched and nothing half-written; and a
result is never made from garbage. One full reconstruct in this file (module scope)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, SAMPLE
from bridge import cli, messages
from bridge.errors import BridgeError
from bridge.result import store
from bridge.result.format import FIGHTER_KEYS, FOCAL_35MM_RANGE, SCENE_JSON, fighter_file

KEYPOINTS = json.loads((SAMPLE / "keypoints_openpose.json").read_text())


def error_lines(text: str):
    return [line for line in text.splitlines() if line.startswith("error:")]


def strict_json(line: str):
    """json.loads that refuses NaN and Infinity, as JSON itself does."""
    def refuse(constant):
        raise ValueError(f"bare {constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def bridge(*args, cwd=ROOT):
    """The CLI as a user runs it; args may hold bytes (non-UTF-8 paths)."""
    argv = [a if isinstance(a, bytes) else str(a) for a in args]
    return subprocess.run([sys.executable, "-m", "bridge", *argv], cwd=cwd, capture_output=True, env={
        **os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)


def run_main(argv, capsys):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def assert_one_error(code, err, out="", events=False, expected_code=None, exit_code=None):
    assert code != 0
    if exit_code is not None:
        assert code == exit_code
    assert len(error_lines(err)) == 1, err
    assert "Traceback" not in err
    if events:
        printed = [strict_json(line) for line in out.splitlines() if line.strip()]
        errors = [e for e in printed if e["type"] == "error"]
        assert len(errors) == 1 and printed[-1] is errors[0], printed
        if expected_code:
            assert errors[0]["code"] == expected_code
    return err


def big_png(path: Path, width: int, height: int):
    """A genuine one-colour 1-bit PNG of width x height, written cheaply (a few hundred kB)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


# ----------------------------------------------------------------------------- arguments (exit 2)

BAD_ARGUMENTS = {
    "rect_nan": (["--tori-rect", "nan,0,100,100"], "bad_argument"),
    "rect_inf": (["--tori-rect", "0,0,inf,100"], "bad_argument"),
    "rect_minus_inf": (["--uke-rect", "-inf,0,100,100"], "bad_argument"),
    "focal_nan": (["--focal-35mm", "nan"], "bad_argument"),
    "focal_inf": (["--focal-35mm", "inf"], "bad_argument"),
    "focal_zero": (["--focal-35mm", "0"], "bad_focal"),
    "focal_negative": (["--focal-35mm", "-50"], "bad_focal"),
    "focal_huge": (["--focal-35mm", "1e9"], "bad_focal"),
    "refine_negative": (["--refine", "-5"], "bad_iterations"),
    "people_three": (["--people", "3"], "bad_argument"),
}


@pytest.mark.parametrize("events", [False, True], ids=["line", "events"])
@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_bad_reconstruct_arguments_exit_2_with_one_error(tmp_path, capsys, case, events):
    extra, code = BAD_ARGUMENTS[case]
    out = tmp_path / "r"
    argv = ["reconstruct", SAMPLE / "photo.jpg", "--out", out, *extra, *(["--events"] if events else [])]
    exit_code, err, printed = run_main(argv, capsys)
    line = assert_one_error(exit_code, err, printed, events, code, exit_code=2)[0:]
    if code == "bad_focal":
        low, high = FOCAL_35MM_RANGE
        assert f"{low:g}" in line and f"{high:g}" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []


REFINE_ARGUMENTS = {
    "iterations_negative": (["--iterations", "-5"], "bad_iterations"),
    "iterations_zero": (["--iterations", "0"], "bad_iterations"),
    "iterations_huge": (["--iterations", "1000000000"], "bad_iterations"),
    "resolution_zero": (["--resolution", "0"], "bad_resolution"),
    "resolution_small": (["--resolution", "16"], "bad_resolution"),
    "prior_nan": (["--prior-weight", "nan"], "bad_argument"),
    "prior_negative": (["--prior-weight", "-1"], "bad_weight"),
    "crop_nan": (["--crop", "nan,0,10,10"], "bad_argument"),
}


@pytest.mark.parametrize("case", sorted(REFINE_ARGUMENTS))
def test_bad_refine_arguments_exit_2_before_any_work(tmp_path, capsys, case):
    folder = tmp_path / "res"
    write_tiny(folder)
    before = snapshot(tmp_path)
    extra, code = REFINE_ARGUMENTS[case]
    exit_code, err, printed = run_main(["refine", folder, *extra, "--events"], capsys)
    assert_one_error(exit_code, err, printed, True, code, exit_code=2)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("steps", ["-3", "0", "99999999"])
def test_bad_contact_steps_exit_2(tmp_path, capsys, steps):
    folder = tmp_path / "res"
    write_tiny(folder)
    before = snapshot(tmp_path)
    exit_code, err, printed = run_main(["resolve-contact", folder, "--steps", steps, "--events"], capsys)
    assert_one_error(exit_code, err, printed, True, "bad_steps", exit_code=2)
    assert snapshot(tmp_path) == before


def test_library_callers_get_the_same_checks(tmp_path):
    import dataclasses

    from bridge.jobs.contact_job import resolve_contact_scene
    from bridge.jobs.reconstruct import reconstruct
    from bridge.jobs.refine_job import refine_scene
    from bridge.refinement.refine import RefineSettings

    folder = tmp_path / "res"
    write_tiny(folder)
    for call, code in [
        (lambda: reconstruct(SAMPLE / "photo.jpg", tmp_path / "a", focal_35mm=0), "bad_focal"),
        (lambda: reconstruct(SAMPLE / "photo.jpg", tmp_path / "a", focal_35mm=float("nan")), "bad_focal"),
        (lambda: reconstruct(SAMPLE / "photo.jpg", tmp_path / "a", people=3), "bad_people"),
        (lambda: reconstruct(SAMPLE / "photo.jpg", tmp_path / "a", refine_iterations=-5), "bad_iterations"),
        (lambda: refine_scene(folder, settings=dataclasses.replace(RefineSettings(), iterations=-5)),
         "bad_iterations"),
        (lambda: refine_scene(folder, settings=dataclasses.replace(RefineSettings(), resolution=0)),
         "bad_resolution"),
        (lambda: refine_scene(folder, window=(0, 0, float("inf"), 5)), "bad_rect"),
        (lambda: resolve_contact_scene(folder, steps=-3), "bad_steps"),
    ]:
        with pytest.raises(BridgeError) as err:
            call()
        assert err.value.code == code
    assert not (tmp_path / "a").exists()


def test_events_never_carry_bare_nan():
    line = messages.encode(messages.progress("refine", "fit", 1, 2, float("nan")))
    assert strict_json(line)["loss"] is None
    line = messages.encode(messages.result("x", {}, error=[float("inf"), 1.0]))
    assert strict_json(line)["error"] == [None, 1.0]


# ----------------------------------------------------------------------------- images

def test_decompression_bomb_photo_is_refused_with_the_limit(tmp_path, capsys):
    photo = big_png(tmp_path / "huge.png", 20000, 20000)
    exit_code, err, printed = run_main(["reconstruct", photo, "--out", tmp_path / "r", "--events"], capsys)
    line = assert_one_error(exit_code, err, printed, True, "photo_too_large", exit_code=1)
    assert "20000x20000" in line and "megapixels" in line and "Scale it down" in line
    assert not (tmp_path / "r").exists()


def test_decompression_bomb_stroke_file_is_refused_with_the_limit(tmp_path):
    from bridge.detection.hints import load_strokes

    strokes = big_png(tmp_path / "strokes.png", 20000, 20000)
    with pytest.raises(BridgeError) as err:
        load_strokes(strokes, 640, 480)
    assert err.value.code == "strokes_too_large" and "megapixels" in err.value.line()


def test_tiny_photo_asks_for_the_real_limit(tmp_path, capsys):
    from bridge.imaging.photo import MIN_PHOTO_SIDE

    photo = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(photo)
    exit_code, err, _ = run_main(["reconstruct", photo, "--out", tmp_path / "r"], capsys)
    line = assert_one_error(exit_code, err)
    assert f"at least {MIN_PHOTO_SIDE} pixels" in line and "256" not in line


def test_preview_is_written_through_python_io_on_a_non_utf8_path(tmp_path):
    from bridge.refinement.refine import _preview

    folder = Path(os.fsdecode(bytes(tmp_path) + b"/pre\xffview"))
    folder.mkdir()
    written = _preview(folder / "p.png", np.zeros((8, 8, 3)), np.ones((8, 8, 3)))
    assert Path(written).read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------------------- result folders

def write_tiny(out: Path, roles=("tori",)):
    arrays = {key: np.zeros(2) for key in FIGHTER_KEYS}
    arrays.update(vertices=np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float), faces=np.array([[0, 1, 2]]))
    scene = {"image": {"path": str(SAMPLE / "photo.jpg"), "width": 64, "height": 48},
             "camera": {"K": np.eye(3).tolist(), "world_from_camera": np.eye(4).tolist()},
             "fighters": list(roles), "front": None, "body_model": {"name": "anny"}}
    store.write_result(out, scene, {r: arrays for r in roles}, np.zeros((48, 64, 3), np.uint8))
    return out


def _break(folder: Path, how: str):
    scene = json.loads((folder / SCENE_JSON).read_text())
    if how == "truncated_npz":
        data = (folder / fighter_file("tori")).read_bytes()
        (folder / fighter_file("tori")).write_bytes(data[: len(data) // 2])
    elif how == "no_image":
        del scene["image"]
    elif how == "fighters_5":
        scene["fighters"] = 5
    elif how == "camera_nan":
        scene["camera"]["K"][0][0] = float("nan")
    elif how == "scene_not_json":
        (folder / SCENE_JSON).write_text("{not json")
        return
    (folder / SCENE_JSON).write_text(json.dumps(scene))


@pytest.mark.parametrize("how", ["truncated_npz", "no_image", "fighters_5", "camera_nan", "scene_not_json"])
@pytest.mark.parametrize("job", ["refine", "resolve-contact"])
def test_jobs_on_a_broken_result_say_so_and_touch_nothing(tmp_path, capsys, how, job):
    folder = write_tiny(tmp_path / "res")
    _break(folder, how)
    before = snapshot(tmp_path)
    exit_code, err, printed = run_main([job, folder, "--events"], capsys)
    assert_one_error(exit_code, err, printed, True, "result_unreadable", exit_code=1)
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- keypoint files

def keypoint_file(tmp_path: Path, name: str, change) -> Path:
    data = json.loads(json.dumps(KEYPOINTS))
    flat = data["people"][0]["pose_keypoints_2d"]
    change(flat)
    path = tmp_path / name
    path.write_text(json.dumps(data))  # json writes NaN, Infinity as the bare literals users' tools write
    return path


def _nan_everywhere(flat):
    for i in range(25):
        flat[3 * i] = float("nan")


def _far_outside(flat):
    for i in range(25):
        flat[3 * i] *= 1e6
        flat[3 * i + 1] *= 1e6


@pytest.mark.parametrize("case,code", [("all_nan", "keypoints_too_few"), ("far_outside", "keypoints_outside")])
def test_unusable_keypoint_files_are_refused_and_blamed_on_the_file(tmp_path, capsys, case, code):
    change = {"all_nan": _nan_everywhere, "far_outside": _far_outside}[case]
    path = keypoint_file(tmp_path, "kp.json", change)
    exit_code, err, printed = run_main(["reconstruct", SAMPLE / "photo.jpg", "--out", tmp_path / "r",
                                        "--keypoints", path, "--events"], capsys)
    line = assert_one_error(exit_code, err, printed, True, code, exit_code=1)
    assert "kp.json" in line
    if case == "all_nan":
        assert "give keypoints with --keypoints" not in line
    assert not (tmp_path / "r").exists()


def test_keypoint_coordinates_out_of_range_are_checked_on_the_photo():
    from bridge.detection.keypoint_file import check_near_photo

    points = np.array([[10.0, 10.0]] * 10)
    check_near_photo("kp.json", points, np.ones(10), 100, 100)  # on the photo
    check_near_photo("kp.json", points - 40, np.ones(10), 100, 100)  # a little outside: a fighter at the edge
    with pytest.raises(BridgeError):
        check_near_photo("kp.json", points * 1e6, np.ones(10), 100, 100)


@pytest.fixture(scope="module")
def nan_keypoints_on_a_non_utf8_out(tmp_path_factory):
    """One full reconstruct: a keypoint file with NaN and 1e999 (infinite) coordinates for a few
    points, into an output path holding a non-UTF-8 byte, with --events."""
    tmp_path = tmp_path_factory.mktemp("nan_kp")

    def change(flat):
        flat[3 * 4] = float("nan")  # right wrist
        flat[3 * 7 + 1] = float("inf")  # left wrist
    path = keypoint_file(tmp_path, "kp.json", change)
    path.write_text(path.read_text().replace("Infinity", "1e999"))
    out = bytes(tmp_path) + b"/r\xffsult"
    proc = bridge("reconstruct", SAMPLE / "photo.jpg", "--out", out, "--keypoints", path, "--events")
    return proc, Path(os.fsdecode(out)), tmp_path


def test_nan_and_infinite_keypoints_count_as_missing_and_events_stay_json(nan_keypoints_on_a_non_utf8_out):
    proc, out, _ = nan_keypoints_on_a_non_utf8_out
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    events = [strict_json(line) for line in proc.stdout.decode().splitlines()]
    assert events[-1]["type"] == "result"
    scene = json.loads((out / SCENE_JSON).read_text())
    assert all(np.isfinite(v) for v in scene["fit"]["keypoint_error_px"].values())


def test_a_non_utf8_byte_in_the_output_path_writes_the_result(nan_keypoints_on_a_non_utf8_out):
    _, out, parent = nan_keypoints_on_a_non_utf8_out
    assert (out / "overlay.png").read_bytes()[:4] == b"\x89PNG"
    assert store.read_result(out).fighters["tori"]["vertices"].shape[1] == 3
    assert not [p for p in parent.iterdir() if store.PARTIAL_TAG in p.name or store.BACKUP_TAG in p.name]


# ----------------------------------------------------------------------------- garbage photos

def test_noise_gives_no_made_up_person(tmp_path, capsys):
    """The one noise image of 24 measured where MediaPipe invented a person (docs/decisions.md)."""
    rng = np.random.default_rng(0)
    rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    photo = tmp_path / "noise.png"
    Image.fromarray(noise).save(photo)
    exit_code, err, printed = run_main(["reconstruct", photo, "--out", tmp_path / "r", "--events"], capsys)
    assert_one_error(exit_code, err, printed, True, exit_code=1)
    assert strict_json(printed.splitlines()[-1])["code"] in ("no_confident_person", "no_person")
    assert not (tmp_path / "r").exists()
