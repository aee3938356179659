"""Issue 17's fuzz test: the CLI's argument parsing and checking, and the result reader, over a
few hundred generated bad values (NaN, inf, negative, huge, wrong types, truncated files).
Rules: no uncaught exception, a non-zero exit for a bad value, exactly one `error:` line (and
one `error` event with --events), nothing written. The jobs are replaced by recorders, so a
valid argument set costs nothing; each case runs in-process (the whole file takes seconds)."""
import json
import math
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import SAMPLE
from bridge import cli
from bridge.errors import BridgeError
from bridge.jobs import arguments
from bridge.result import store
from bridge.result.format import ARTIST_POSE_KEY, FIGHTER_KEYS, FOCAL_35MM_RANGE, SCENE_JSON, artist_pose_file, \
    fighter_file

SEED = 17
VALUES = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999", "-5", "-1", "0", "1", "2", "3", "7",
          "8", "16", "31", "32", "50", "60", "1200", "1201", "4096", "4097", "10000", "10001", "1e9", "1e300",
          "-50", "0.5", "1.5", "2.0", "abc", "", " ", "None", "[]", "{}", "0x10", "1_000", "--", "9" * 400,
          "1,2,3,4", "\u00e9", "3e-400"]
RECTS = ["0,0,100,100", "nan,0,10,10", "0,0,inf,10", "-inf,0,1,1", "1,2,3", "1,2,3,4,5", "a,b,c,d", "", ",,,",
         "1e999,0,1,1", "0,0,1e7,10", "-1e6,-1e6,1e6,1e6", "10,10,10,10", "1;2;3;4", "0x1,2,3,4"]


def _int_in(low, high, zero=False):
    def ok(text):
        try:
            value = int(text)
        except ValueError:
            return False
        return low <= value <= high or (zero and value == 0)
    return ok


def _float_in(low, high):
    def ok(text):
        try:
            value = float(text)
        except ValueError:
            return False
        return math.isfinite(value) and low <= value <= high
    return ok


def _rect_ok(text):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        return False
    return len(values) == 4 and all(math.isfinite(v) and abs(v) <= arguments_rect_limit() for v in values)


def arguments_rect_limit():
    from bridge.detection.hints import RECT_LIMIT

    return RECT_LIMIT


# command -> flag -> whether a value is valid (what the ranges in bridge.jobs.arguments promise)
FLAGS = {
    "reconstruct": {
        "--focal-35mm": _float_in(*FOCAL_35MM_RANGE),
        "--people": lambda t: t.strip() in ("1", "2") and t == t.strip(),
        "--refine": _int_in(*arguments.ITERATIONS_RANGE, zero=True),
        "--tori-rect": _rect_ok,
        "--uke-rect": _rect_ok,
    },
    "refine": {
        "--iterations": _int_in(*arguments.ITERATIONS_RANGE),
        "--resolution": _int_in(*arguments.RESOLUTION_RANGE),
        "--prior-weight": _float_in(*arguments.WEIGHT_RANGE),
        "--rgb-weight": _float_in(*arguments.WEIGHT_RANGE),
        "--crop": _rect_ok,
        "--device": lambda t: t in ("auto", "cpu", "cuda"),
    },
    "resolve-contact": {"--steps": _int_in(*arguments.STEPS_RANGE)},
}


@pytest.fixture
def recorded_jobs(monkeypatch):
    """The three jobs replaced by recorders: what a valid command line would have started."""
    started = []

    def reconstruct(photo, out, **kwargs):
        started.append(("reconstruct", kwargs))
        return SimpleNamespace(keypoint_error_px=1.0, warnings=[])

    def refine_scene(folder, out=None, **kwargs):
        started.append(("refine", kwargs))
        return SimpleNamespace(stats={}, warnings=[])

    def resolve_contact_scene(folder, out=None, **kwargs):
        started.append(("resolve-contact", kwargs))
        return SimpleNamespace(warnings=[])

    import bridge.jobs.contact_job as contact_job
    import bridge.jobs.reconstruct as reconstruct_job
    import bridge.jobs.refine_job as refine_job

    monkeypatch.setattr(reconstruct_job, "reconstruct", reconstruct)
    monkeypatch.setattr(refine_job, "refine_scene", refine_scene)
    monkeypatch.setattr(contact_job, "resolve_contact_scene", resolve_contact_scene)
    return started


def _cases(tmp_path: Path):
    rng = random.Random(SEED)
    folder = tmp_path / "res"
    positional = {"reconstruct": [str(SAMPLE / "photo.jpg"), "--out", str(tmp_path / "new")],
                  "refine": [str(folder)], "resolve-contact": [str(folder)]}
    for command, flags in FLAGS.items():
        for flag, valid in flags.items():
            values = RECTS + rng.sample(VALUES, 8) if flag.endswith(("rect", "crop")) else VALUES
            for value in values:
                events = rng.random() < 0.5
                # argparse takes "-1e6,..." for an option; users write --flag=value then (the hint says so)
                given = [f"{flag}={value}"] if value.startswith("-") or rng.random() < 0.2 else [flag, value]
                yield [command, *positional[command], *given, *(["--events"] if events else [])], valid(value)
    for _ in range(40):  # several bad flags at once, in random order
        command = rng.choice(sorted(FLAGS))
        chosen = rng.sample(sorted(FLAGS[command]), min(2, len(FLAGS[command])))
        argv = [command, *positional[command]]
        ok = True
        for flag in chosen:
            value = rng.choice(VALUES + RECTS)
            argv += [f"{flag}={value}"]
            ok = ok and FLAGS[command][flag](value)
        yield argv, ok
    for argv in (["reconstruct"], ["refine"], ["nonsense"], [], ["reconstruct", "p.jpg"], ["refine", "x", "--bogus"],
                 ["resolve-contact", "x", "--steps"], ["reconstruct", "p.jpg", "--out", "o", "--people"],
                 ["reconstruct", "p.jpg", "--out", "o", "--device", "tpu"]):
        yield [*argv, "--events"], False
        yield list(argv), False


def test_fuzz_cli_arguments(tmp_path, capsys, recorded_jobs):
    tried = refused = accepted = 0
    problems = []
    for argv, valid in _cases(tmp_path):
        tried += 1
        recorded_jobs.clear()
        try:
            code = cli.main(argv)
        except BaseException as exc:  # noqa: BLE001 - the finding
            problems.append((argv, f"raised {type(exc).__name__}: {exc}"))
            capsys.readouterr()
            continue
        captured = capsys.readouterr()
        errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
        if code == 0:
            accepted += 1
            if not valid or len(recorded_jobs) != 1 or errors:
                problems.append((argv, f"exit 0 (valid: {valid}, jobs {len(recorded_jobs)}, errors {errors})"))
            continue
        refused += 1
        if valid:
            problems.append((argv, f"valid arguments refused: {captured.err.strip()}"))
        if recorded_jobs:
            problems.append((argv, "a job started despite the error"))
        if len(errors) != 1 or "Traceback" in captured.err:
            problems.append((argv, f"{len(errors)} error lines: {captured.err!r}"))
        if "--events" in argv:
            try:
                events = [json.loads(line, parse_constant=lambda c: 1 / 0) for line in captured.out.splitlines()]
            except (ValueError, ZeroDivisionError) as exc:
                problems.append((argv, f"events are not JSON: {exc}"))
                continue
            if [e["type"] for e in events] != ["error"] or not events[0].get("code"):
                problems.append((argv, f"events {events}"))
    assert not list(tmp_path.iterdir()), "something was written"
    print(f"CLI fuzz: {tried} argument sets tried, {refused} refused, {accepted} accepted, {len(problems)} problems")
    assert tried >= 300
    assert not problems, "\n".join(f"{argv}: {why}" for argv, why in problems[:20])


# ----------------------------------------------------------------------------- the result reader

def _tiny(folder: Path, roles=("tori", "uke")):
    arrays = {key: np.zeros((3, 3)) for key in FIGHTER_KEYS}
    arrays.update(vertices=np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float), faces=np.array([[0, 1, 2]]))
    scene = {"image": {"path": str(SAMPLE / "photo.jpg"), "width": 64, "height": 48},
             "camera": {"K": np.eye(3).tolist(), "world_from_camera": np.eye(4).tolist()},
             "fighters": list(roles), "front": None, "body_model": {"name": "anny"}}
    store.write_result(folder, scene, {r: arrays for r in roles}, np.zeros((48, 64, 3), np.uint8))
    return folder


BAD_JSON_VALUES = [None, float("nan"), float("inf"), -1, 0, 5, "x", "", [], {}, True, 1e308, [float("nan")] * 3,
                   [[float("nan")] * 3] * 3, [[1, 2], [3]], {"path": 5}, ["tori", "tori"], ["tori", 3], ["a"] * 5]


def _mutations(rng: random.Random):
    """(name, function(folder), must_fail) for broken result folders."""
    scene_keys = [("image",), ("image", "path"), ("image", "width"), ("image", "height"), ("camera",),
                  ("camera", "K"), ("camera", "world_from_camera"), ("fighters",), ("format_version",)]
    for keys in scene_keys:
        for value in BAD_JSON_VALUES:
            def set_value(folder, keys=keys, value=value):
                scene = json.loads((folder / SCENE_JSON).read_text())
                target = scene
                for key in keys[:-1]:
                    target = target[key]
                target[keys[-1]] = value
                (folder / SCENE_JSON).write_text(json.dumps(scene))
            # a value some reader could still use (fighters ["a"] * 5 is not) decides must_fail loosely:
            yield f"{'.'.join(keys)}={value!r}"[:60], set_value, None

        def drop(folder, keys=keys):
            scene = json.loads((folder / SCENE_JSON).read_text())
            target = scene
            for key in keys[:-1]:
                target = target[key]
            del target[keys[-1]]
            (folder / SCENE_JSON).write_text(json.dumps(scene))
        yield f"no {'.'.join(keys)}", drop, True
    for _ in range(30):
        cut = rng.random()

        def truncate_npz(folder, cut=cut):
            path = folder / fighter_file("uke")
            data = path.read_bytes()
            path.write_bytes(data[: int(len(data) * cut)])
        yield f"npz cut at {cut:.2f}", truncate_npz, True

        def truncate_json(folder, cut=cut):
            path = folder / SCENE_JSON
            data = path.read_bytes()
            path.write_bytes(data[: int(len(data) * cut * 0.9)])
        yield f"scene.json cut at {cut:.2f}", truncate_json, True

        def garbage_npz(folder, seed=rng.random()):
            (folder / fighter_file("tori")).write_bytes(random.Random(seed).randbytes(200))
        yield "npz of random bytes", garbage_npz, True
    for key in FIGHTER_KEYS:
        def missing_key(folder, key=key):
            path = folder / fighter_file("tori")
            with np.load(path) as data:
                kept = {k: data[k] for k in data.files if k != key}
            np.savez(path, **kept)
        yield f"npz without {key}", missing_key, True

    def pickled(folder):
        np.savez(folder / fighter_file("tori"), vertices=np.array([{"a": 1}], dtype=object))
    yield "npz of objects", pickled, True
    for value in (np.zeros(3), np.array(["x"]), np.full((5, 4, 4), np.nan)):
        def artist(folder, value=value):
            np.savez(folder / artist_pose_file("tori"), **{ARTIST_POSE_KEY: value})
        yield f"artist pose {value.dtype} {value.shape}", artist, None

    def artist_broken(folder):
        (folder / artist_pose_file("tori")).write_bytes(b"PK\x03\x04broken")
    yield "artist pose truncated", artist_broken, True

    def mask_garbage(folder):
        (folder / "mask_tori.png").write_bytes(b"\x89PNG garbage")
    yield "mask garbage", mask_garbage, None

    def scene_is_a_folder(folder):
        (folder / SCENE_JSON).unlink()
        (folder / SCENE_JSON).mkdir()
    yield "scene.json is a folder", scene_is_a_folder, True


def test_fuzz_result_reader(tmp_path, capsys):
    rng = random.Random(SEED)
    template = _tiny(tmp_path / "template")
    tried = failed_cleanly = read = 0
    problems = []
    for index, (name, mutate, must_fail) in enumerate(_mutations(rng)):
        folder = tmp_path / f"case{index}"
        import shutil

        shutil.copytree(template, folder)
        mutate(folder)
        tried += 1
        try:
            result = store.read_result(folder)
        except BridgeError as err:
            failed_cleanly += 1
            if not err.line().startswith("error: ") or "\n" in err.line():
                problems.append((name, f"not one line: {err.line()!r}"))
            continue
        except BaseException as exc:  # noqa: BLE001 - the finding
            problems.append((name, f"raised {type(exc).__name__}: {exc}"))
            continue
        read += 1
        if must_fail:
            problems.append((name, "read although it is broken"))
            continue
        scene = result.scene  # what was read must be what the jobs rely on
        if not (isinstance(scene["fighters"], list) and 1 <= len(scene["fighters"]) <= 2
                and np.isfinite(np.asarray(scene["camera"]["K"], float)).all()
                and isinstance(scene["image"]["width"], int) and scene["image"]["width"] > 0):
            problems.append((name, f"read a scene the jobs cannot use: {scene}"))
    # The CLI on a sample of them (in-process; refine reads the folder first and fails fast).
    cli_tried = 0
    for index in range(0, tried, 5):
        folder = tmp_path / f"case{index}"
        before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        try:
            code = cli.main(["resolve-contact", str(folder), "--events"])
        except BaseException as exc:  # noqa: BLE001
            problems.append((f"cli case{index}", f"raised {type(exc).__name__}: {exc}"))
            continue
        cli_tried += 1
        captured = capsys.readouterr()
        errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
        events = [json.loads(line) for line in captured.out.splitlines()]
        if code == 0 or len(errors) != 1 or [e["type"] for e in events] != ["error"]:
            problems.append((f"cli case{index}", f"exit {code}, {captured.err!r}"))
        if {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} != before:
            problems.append((f"cli case{index}", "the folder was changed"))
    leftovers = [p.name for p in tmp_path.iterdir() if store.PARTIAL_TAG in p.name or store.BACKUP_TAG in p.name]
    print(f"result fuzz: {tried} broken folders read ({failed_cleanly} refused, {read} read), "
          f"{cli_tried} through the CLI, {len(problems)} problems")
    assert tried >= 200
    assert not leftovers
    assert not problems, "\n".join(f"{name}: {why}" for name, why in problems[:20])
