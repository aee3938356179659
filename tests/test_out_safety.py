"""Issue 17: `--out` never replaces anything of the user's, refusals come before any work, and
the swap of an earlier result survives a signal or an I/O error at every step."""
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SAMPLE, run_bridge
from bridge import cli
from bridge.errors import BridgeError
from bridge.result import store
from bridge.result.format import FIGHTER_KEYS, FORMAT_MARKER, SCENE_JSON


def error_lines(text: str):
    return [line for line in text.splitlines() if line.startswith("error:")]


def snapshot(folder: Path) -> dict:
    """Every file under folder (names and bytes), to prove nothing was touched."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_main(argv, capsys, events=False):
    """cli.main in-process: (exit code, stderr, events printed) plus its time."""
    began = time.perf_counter()
    code = cli.main([*map(str, argv), *(["--events"] if events else [])])
    seconds = time.perf_counter() - began
    captured = capsys.readouterr()
    printed = [json.loads(line) for line in captured.out.splitlines() if line.strip()] if events else []
    return code, captured.err, printed, seconds


@pytest.fixture
def user_folder(tmp_path):
    """A folder of the user's: the photo, a keypoint file and notes."""
    folder = tmp_path / "d"
    folder.mkdir()
    shutil.copy(SAMPLE / "photo.jpg", folder / "photo.jpg")
    shutil.copy(SAMPLE / "keypoints_openpose.json", folder / "kp.json")
    (folder / "notes.txt").write_text("my notes")
    (folder / "sub").mkdir()
    (folder / "sub" / "more.txt").write_text("more")
    return folder


def _out_cases(user_folder: Path, tmp_path: Path, monkeypatch) -> dict:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dotfile").write_text("keep")
    monkeypatch.setenv("HOME", str(home))
    others = tmp_path / "others"
    others.mkdir()
    (others / "thesis.tex").write_text("years of work")
    return {
        "input_folder": (user_folder, ("output_holds_input", "output_protected")),
        "user_files": (others, "output_not_ours"),
        "empty": ("", "output_empty"),
        "blank": ("  ", "output_empty"),
        "dot": (".", "output_protected"),
        "home": (home, "output_protected"),
        "home_tilde_expanded": (str(home) + "/", "output_protected"),
        "parent_of_input": (tmp_path, ("output_holds_input", "output_protected")),
        "root": ("/", "output_protected"),
        "a_file": (user_folder / "notes.txt", "output_not_folder"),
    }


OUT_CASES = ["input_folder", "user_files", "empty", "blank", "dot", "home", "home_tilde_expanded",
             "parent_of_input", "root", "a_file"]


@pytest.mark.parametrize("events", [False, True], ids=["line", "events"])
@pytest.mark.parametrize("case", OUT_CASES)
def test_out_that_would_replace_user_files_is_refused_before_any_work(tmp_path, user_folder, monkeypatch, capsys,
                                                                      case, events):
    out, code = _out_cases(user_folder, tmp_path, monkeypatch)[case]
    monkeypatch.chdir(user_folder)  # "." is the folder holding the photo, as a user would run it
    before = snapshot(tmp_path)
    exit_code, err, printed, seconds = run_main(
        ["reconstruct", user_folder / "photo.jpg", "--out", out, "--keypoints", user_folder / "kp.json"], capsys,
        events)
    assert exit_code != 0
    assert len(error_lines(err)) == 1, err
    assert "Traceback" not in err
    assert "--out" in err or "folder" in err
    if events:
        assert [e["type"] for e in printed] == ["error"], printed  # no progress: refused before loading
        assert printed[0]["code"] in ((code,) if isinstance(code, str) else code)
    assert seconds < 5
    assert snapshot(tmp_path) == before
    assert not [p for p in tmp_path.rglob("*") if "golden-score" in p.name]


def test_out_refusal_from_the_shell(tmp_path, user_folder):
    """As a user types it: `reconstruct d/photo.jpg --out d` (issue 17's first data loss)."""
    before = snapshot(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = run_bridge("reconstruct", user_folder / "photo.jpg", "--out", user_folder, cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert len(error_lines(proc.stderr)) == 1 and "Traceback" not in proc.stderr
    assert snapshot(tmp_path) == before
    proc = run_bridge("reconstruct", user_folder / "photo.jpg", "--out", "", cwd=tmp_path, env=env)
    assert proc.returncode == 1 and len(error_lines(proc.stderr)) == 1
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- the swap, step by step

def tiny_result(tag: str):
    """What write_result needs, in a few bytes: a triangle fighter."""
    arrays = {key: np.zeros(2) for key in FIGHTER_KEYS}
    arrays.update(vertices=np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float), faces=np.array([[0, 1, 2]]),
                  tag=np.array(tag))
    fighters = {"tori": arrays}
    scene = {"image": {"path": "/nowhere/photo.jpg", "width": 64, "height": 48},
             "camera": {"K": np.eye(3).tolist(), "world_from_camera": np.eye(4).tolist()},
             "fighters": ["tori"], "front": None, "tag": tag}
    return scene, fighters, np.zeros((48, 64, 3), np.uint8)


def write(out: Path, tag: str):
    scene, fighters, overlay = tiny_result(tag)
    return store.write_result(out, scene, fighters, overlay, {"tori": np.ones((48, 64), bool)})


def tag_of(out: Path) -> str:
    return json.loads((out / SCENE_JSON).read_text())["tag"]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if store.PARTIAL_TAG in p.name or store.BACKUP_TAG in p.name)


class Boom(Exception):
    pass


FAULTS = {"io": lambda: OSError(28, "No space left on device"), "signal": KeyboardInterrupt}


def _counting(real, fail_at: int, fault, calls: list, every_after: bool = False):
    def wrapper(*args, **kwargs):
        calls.append(args)
        if len(calls) - 1 == fail_at or (every_after and len(calls) - 1 > fail_at):
            raise fault()
        return real(*args, **kwargs)
    return wrapper


# The steps of write_result, each patched to fail once: (what is patched, which call fails)
SWAP_STEPS = [("os.replace", 0), ("os.replace", 1), ("shutil.rmtree", 0), ("mkdtemp", 0), ("savez", 0),
              ("write_bytes", 0), ("write_bytes", 1), ("write_text", 0), ("write_text", 1)]


def _patch(monkeypatch, what: str, fail_at: int, fault, every_after=False) -> list:
    calls: list = []
    if what == "os.replace":
        monkeypatch.setattr(store.os, "replace", _counting(os.replace, fail_at, fault, calls, every_after))
    elif what == "shutil.rmtree":
        monkeypatch.setattr(store.shutil, "rmtree", _counting(shutil.rmtree, fail_at, fault, calls, every_after))
    elif what == "mkdtemp":
        monkeypatch.setattr(store.tempfile, "mkdtemp", _counting(store.tempfile.mkdtemp, fail_at, fault, calls))
    elif what == "savez":
        monkeypatch.setattr(store, "_write_npz", _counting(store._write_npz, fail_at, fault, calls))
    elif what == "write_bytes":
        monkeypatch.setattr(Path, "write_bytes", _counting(Path.write_bytes, fail_at, fault, calls))
    elif what == "write_text":
        monkeypatch.setattr(Path, "write_text", _counting(Path.write_text, fail_at, fault, calls))
    return calls


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("what,fail_at", SWAP_STEPS)
def test_a_fault_at_any_step_of_the_swap_keeps_the_earlier_result(tmp_path, monkeypatch, what, fail_at, fault):
    out = tmp_path / "res"
    write(out, "old")
    (tmp_path / "res.old").mkdir()  # the user's own folder named like a backup
    (tmp_path / "res.old" / "mine.txt").write_text("mine")
    calls = _patch(monkeypatch, what, fail_at, FAULTS[fault])
    try:
        write(out, "new")
        finished = True
    except (BridgeError, KeyboardInterrupt) as exc:
        finished = False
        if fault == "io":
            assert isinstance(exc, BridgeError) and exc.code == "output_unwritable"
    monkeypatch.undo()
    assert calls, "the step was never reached"
    assert finished == (what == "shutil.rmtree")  # once the new result is in, the job has finished
    assert tag_of(out) == ("new" if finished else "old")
    assert store.read_result(out).fighters["tori"]["tag"] == tag_of(out)
    assert leftovers(tmp_path) == [] or (what == "shutil.rmtree" and finished)
    assert (tmp_path / "res.old" / "mine.txt").read_text() == "mine"
    write(out, "next")  # and the next run works
    assert tag_of(out) == "next"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_swap_interrupted_hard_is_recovered_by_the_next_run(tmp_path, monkeypatch, fault):
    """The old result is moved aside, then every later move fails (the process as good as killed):
    no `res` for now; the next run (write, refine or read) puts the old result back first."""
    out = tmp_path / "res"
    write(out, "old")
    _patch(monkeypatch, "os.replace", 1, FAULTS[fault], every_after=True)
    with pytest.raises((BridgeError, KeyboardInterrupt)):
        write(out, "new")
    monkeypatch.undo()
    assert not out.exists()
    assert len([n for n in leftovers(tmp_path) if store.BACKUP_TAG in n]) == 1
    restored = store.read_result(out)  # a job reading the folder recovers it
    assert restored.scene["tag"] == "old"
    assert leftovers(tmp_path) == [] or all(store.PARTIAL_TAG in n for n in leftovers(tmp_path))
    write(out, "next")
    assert tag_of(out) == "next"
    assert leftovers(tmp_path) == []


def test_a_kill_after_the_backup_is_recovered_by_write(tmp_path):
    out = tmp_path / "res"
    write(out, "old")
    os.replace(out, tmp_path / f".res{store.BACKUP_TAG}deadbeef0000")  # what a SIGKILL between the moves leaves
    (tmp_path / f".res{store.PARTIAL_TAG}999999999-x1").mkdir()  # of a process that is gone
    write(out, "new")
    assert tag_of(out) == "new"
    assert leftovers(tmp_path) == []


def test_existing_dot_old_folder_of_the_user_survives(tmp_path):
    out = tmp_path / "res"
    write(out, "first")
    (tmp_path / "res.old").mkdir()
    (tmp_path / "res.old" / "precious.txt").write_text("precious")
    write(out, "second")
    write(out, "third")
    assert tag_of(out) == "third"
    assert (tmp_path / "res.old" / "precious.txt").read_text() == "precious"
    assert leftovers(tmp_path) == []


def test_only_the_bridges_own_results_are_replaced(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / SCENE_JSON).write_text(json.dumps({"format": "something-else", "fighters": ["tori"]}))
    with pytest.raises(BridgeError) as err:
        write(out, "new")
    assert err.value.code == "output_not_ours"
    (out / SCENE_JSON).write_text(json.dumps({"format": FORMAT_MARKER}))
    write(out, "new")  # an (even damaged) result of ours may be replaced
    assert tag_of(out) == "new"


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_result_folders_follow_the_users_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write(tmp_path / "res", "x")
    finally:
        os.umask(old)
    mode = (tmp_path / "res").stat().st_mode & 0o777
    assert mode == 0o777 & ~umask
