"""Writing and reading result folders (the contract in bridge.result.format), all at once or not
at all, and never over anything that is not the bridge's own earlier result.

The rules, so that nothing of the user's is ever lost:
- `check_out_folder` refuses, before any work, an empty path, the working folder or one of its
  parents, the home folder, a folder that holds (or lies above) an input, and any non-empty
  folder that is not a result the bridge wrote (its scene.json carries FORMAT_MARKER).
- A result is written into a uniquely named hidden folder beside the target; an earlier result
  is moved aside to another unique name, the new one moved in, and the old one removed. An
  interruption between the two moves is undone at once, or, after a hard kill, on the next run
  (`recover_interrupted`).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import BridgeError
from .format import (ARTIST_POSE_KEY, FIGHTER_KEYS, FORMAT_MARKER, FORMAT_VERSION, OVERLAY, SCENE_GLB, SCENE_JSON,
                     SCENE_OBJ, artist_pose_file, fighter_file, is_bridge_result, mask_file, version_problem)

FIGHTER_COLOURS = {"tori": (70, 110, 230, 255), "uke": (235, 235, 235, 255)}
PARTIAL_TAG = ".golden-score-partial-"
BACKUP_TAG = ".golden-score-backup-"

# Blender's world is Z up; glTF and OBJ files are Y up.
Y_UP_FROM_Z_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1.0]])


def _read_scene_json(folder: Path) -> object:
    try:
        return json.loads((folder / SCENE_JSON).read_text())
    except (OSError, ValueError):
        return None


def _is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out_folder(out_dir, inputs=()) -> Path:
    """The absolute output folder, or a BridgeError saying why the bridge may not write there
    and what to pass instead. `inputs` are the user's files the job reads (photos, keypoint and
    stroke files): a result never replaces a folder that holds one."""
    text = os.fspath(out_dir) if out_dir is not None else ""
    if not str(text).strip():
        raise BridgeError("output_empty", "The output folder is an empty path.",
                          "Give a new folder for the result, for example --out result.")
    out = Path(os.path.abspath(text))
    cwd = Path(os.getcwd())
    home = Path.home()
    if _is_inside(cwd, out) or out == home or out == Path(out.anchor):
        raise BridgeError("output_protected", f"{out} is the working folder, a folder above it or the home folder; "
                          "the result would replace it.", "Give a new folder for the result, for example --out result.")
    for item in inputs:
        if item is None:
            continue
        source = Path(os.path.abspath(os.fspath(item)))
        if _is_inside(source, out):
            raise BridgeError("output_holds_input", f"{out} holds the input {source}; the result would replace it.",
                              f"Give a new folder for the result, for example --out {out.name or 'result'}-result.")
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise BridgeError("output_not_folder", f"{out} exists and is not a folder.",
                              "Give a new folder for the result (--out).")
        try:
            empty = not any(out.iterdir())
        except OSError as exc:
            raise BridgeError("output_unwritable", f"{out} cannot be read ({exc.strerror}).",
                              "Choose an output folder you can write to (--out).") from None
        if not empty and not is_bridge_result(_read_scene_json(out)):
            raise BridgeError("output_not_ours", f"{out} already holds files that are not a Golden Score result; "
                              "they would be replaced.", "Give a new or empty folder for the result (--out).")
    return out


def _process_gone(name: str, prefix: str) -> bool:
    """Whether the process that named a partial folder `<prefix><pid>-...` no longer runs."""
    pid = name[len(prefix):].split("-", 1)[0]
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False  # it runs under another user, or the number is no pid: leave it alone
    return False


def recover_interrupted(out_dir) -> Path | None:
    """Put back an earlier result that a hard-killed swap left aside (out_dir missing, its backup
    beside it), and remove partial folders of runs that are gone. Returns the folder restored,
    if any. Only folders with the bridge's hidden names (and, for backups, its result marker) are
    touched."""
    try:
        out = Path(os.path.abspath(os.fspath(out_dir)))
    except (TypeError, ValueError):
        return None
    parent = out.parent
    partial_prefix, backup_prefix = f".{out.name}{PARTIAL_TAG}", f".{out.name}{BACKUP_TAG}"
    try:
        siblings = list(parent.iterdir()) if out.name and parent.is_dir() else []
        for stale in siblings:
            if stale.name.startswith(partial_prefix) and stale.is_dir() and not stale.is_symlink() \
                    and _process_gone(stale.name, partial_prefix):
                shutil.rmtree(stale, ignore_errors=True)
        backups = [p for p in siblings if p.name.startswith(backup_prefix) and p.is_dir() and not p.is_symlink()
                   and is_bridge_result(_read_scene_json(p))]
        if not backups:
            return None
        if out.exists() or out.is_symlink():
            if is_bridge_result(_read_scene_json(out)):  # the swap finished; only its clean-up was cut short
                for backup in backups:
                    shutil.rmtree(backup, ignore_errors=True)
            return None
        newest = max(backups, key=lambda p: p.stat().st_mtime)
        os.replace(newest, out)
    except OSError:
        return None
    return out


def _scene_mesh(fighters: dict[str, dict], world_from_camera: np.ndarray) -> "trimesh.Scene":
    import trimesh  # 1-2 s to import: only when a result is written

    scene = trimesh.Scene()
    transform = Y_UP_FROM_Z_UP @ world_from_camera
    for role, arrays in fighters.items():
        mesh = trimesh.Trimesh(arrays["vertices"], arrays["faces"], process=False)
        mesh.apply_transform(transform)
        mesh.visual.face_colors = FIGHTER_COLOURS.get(role, (200, 200, 200, 255))
        scene.add_geometry(mesh, node_name=role, geom_name=role)
    return scene


def _obj_text(scene: "trimesh.Scene") -> str:
    """The scene's meshes as one Wavefront OBJ: an object per fighter, vertices with their
    fighter's colour (the extension most tools read), faces. Written here rather than by trimesh's
    exporter, which formats row by row and is a large share of a warm Fit (docs/decisions.md,
    "Warm bridge")."""
    parts, offset = ["# Golden Score\n"], 1
    for role, mesh in scene.geometry.items():
        colour = np.asarray(FIGHTER_COLOURS.get(role, (200, 200, 200, 255))[:3], np.float64) / 255.0
        rows = np.hstack([np.asarray(mesh.vertices, np.float64), np.broadcast_to(colour, (len(mesh.vertices), 3))])
        faces = np.asarray(mesh.faces, np.int64) + offset
        parts.append(f"o {role}\n")
        parts.append(("v %.8f %.8f %.8f %.8f %.8f %.8f\n" * len(rows)) % tuple(rows.ravel().tolist()))
        parts.append(("f %d %d %d\n" * len(faces)) % tuple(faces.ravel().tolist()))
        offset += len(rows)
    return "".join(parts)


def _write_npz(path: Path, arrays: dict) -> None:
    """np.savez_compressed's file (np.load reads it) at deflate level 1, the fastest (docs/decisions.md,
    "Warm bridge")."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, value in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def write_image(path: Path, image: np.ndarray) -> None:
    """A PNG written through Python's own file I/O (OpenCV's writer crashes on some byte paths)."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"could not encode {path.name}")
    path.write_bytes(encoded.tobytes())


def read_grey_image(path: Path) -> np.ndarray | None:
    try:
        data = np.frombuffer(path.read_bytes(), np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None


def _user_mode(folder: Path) -> None:
    """Folders as the user's umask says (mkdtemp makes them 0700)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)


def _prepare_output(out_dir: Path) -> Path:
    """A fresh, uniquely named folder beside out_dir, so the final rename stays on one filesystem."""
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{PARTIAL_TAG}{os.getpid()}-", dir=parent))
        _user_mode(work)
        return work
    except OSError as exc:
        raise BridgeError("output_unwritable", f"Cannot write to {parent} ({exc.strerror}).",
                          "Choose an output folder you can write to (--out).") from None


def _swap_in(work: Path, out_dir: Path) -> None:
    """Move the finished folder to out_dir, keeping any earlier result until the new one is in."""
    if not out_dir.exists():
        os.replace(work, out_dir)
        return
    backup = out_dir.with_name(f".{out_dir.name}{BACKUP_TAG}{uuid.uuid4().hex[:12]}")
    os.replace(out_dir, backup)
    try:
        os.replace(work, out_dir)
    except BaseException:
        os.replace(backup, out_dir)  # the earlier result goes back where it was
        raise
    try:
        shutil.rmtree(backup, ignore_errors=True)
    except BaseException:  # noqa: BLE001 - the new result is in: a signal or error now only leaves the
        pass  # backup behind, which the next run removes (recover_interrupted); the job did finish


def write_result(out_dir: Path, scene: dict, fighters: dict[str, dict], overlay_rgb: np.ndarray,
                 masks: dict[str, np.ndarray | None] | None = None, inputs=()) -> dict[str, str]:
    """Write scene.json, fighter_<role>.npz, mask_<role>.png (where known), scene.glb, scene.obj
    and overlay.png into out_dir (checked by check_out_folder), all at once or not at all."""
    recover_interrupted(out_dir)
    out_dir = check_out_folder(out_dir, inputs)
    work = _prepare_output(out_dir)
    try:
        record = {"format": FORMAT_MARKER, "format_version": FORMAT_VERSION,
                  **{k: v for k, v in scene.items() if k not in ("format", "format_version")}}
        (work / SCENE_JSON).write_text(json.dumps(record, indent=2, allow_nan=False))
        written_masks = [role for role, mask in (masks or {}).items() if mask is not None]
        mesh = _scene_mesh(fighters, np.asarray(scene["camera"]["world_from_camera"]))
        for role, arrays in fighters.items():
            _write_npz(work / fighter_file(role), arrays)
        for role in written_masks:
            write_image(work / mask_file(role), masks[role].astype(np.uint8) * 255)
        (work / SCENE_GLB).write_bytes(mesh.export(file_type="glb"))
        write_image(work / OVERLAY, cv2.cvtColor(overlay_rgb, cv2.COLOR_RGB2BGR))
        (work / SCENE_OBJ).write_text(_obj_text(mesh))
        _swap_in(work, out_dir)
    except (OSError, ValueError) as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise BridgeError("output_unwritable", f"Writing the result to {out_dir} failed ({exc}).",
                          "Check free disk space and permissions, or choose another --out.") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    names = [SCENE_JSON, SCENE_GLB, SCENE_OBJ, OVERLAY, *(fighter_file(r) for r in fighters),
             *(mask_file(r) for r in written_masks)]
    return {name: str(out_dir / name) for name in names}


@dataclass
class SceneResult:
    """A result folder read back: what jobs that start from an earlier result need."""

    folder: Path
    scene: dict
    fighters: dict[str, dict]  # role -> arrays of fighter_<role>.npz
    masks: dict[str, np.ndarray | None]  # role -> (H, W) bool, None where the folder has none
    artist_poses: dict[str, np.ndarray]  # role -> (J, 4, 4) bone_poses the artist set in Blender


def _unreadable(folder: Path, why: str) -> BridgeError:
    return BridgeError("result_unreadable", f"The result in {folder} cannot be read ({why}).",
                       "Run reconstruct again to write it anew.")


def _check_scene(folder: Path, scene: object) -> dict:
    """scene.json's fields that jobs rely on, checked so a broken file gives one clear error."""
    if not isinstance(scene, dict):
        raise _unreadable(folder, f"{SCENE_JSON} is not a JSON object")
    problem = version_problem(scene)
    if problem:
        raise BridgeError("result_format", f"The result in {folder} cannot be read: {problem}.",
                          "Run reconstruct again with this version, or update Golden Score.")
    roles = scene.get("fighters")
    if not isinstance(roles, list) or not 1 <= len(roles) <= 2 or not all(isinstance(r, str) for r in roles) \
            or len(set(roles)) != len(roles):
        raise _unreadable(folder, f"its fighters are {roles!r}, not a list of one or two roles")
    image = scene.get("image")
    if not isinstance(image, dict) or not isinstance(image.get("path"), str) \
            or not all(isinstance(image.get(k), int) and image[k] > 0 for k in ("width", "height")):
        raise _unreadable(folder, f"{SCENE_JSON} has no valid image (path, width, height)")
    try:
        K = np.asarray(scene["camera"]["K"], dtype=float)
        world = np.asarray(scene["camera"]["world_from_camera"], dtype=float)
    except (KeyError, TypeError, ValueError):
        raise _unreadable(folder, f"{SCENE_JSON} has no valid camera") from None
    if K.shape != (3, 3) or world.shape != (4, 4) or not (np.isfinite(K).all() and np.isfinite(world).all()):
        raise _unreadable(folder, f"{SCENE_JSON} has no valid camera")
    return scene


def read_result(folder) -> SceneResult:
    """Read a result folder written by write_result (and the add-on's artist poses beside it)."""
    folder = Path(folder)
    recover_interrupted(folder)  # an earlier run killed in the middle of its swap left it aside
    scene_path = folder / SCENE_JSON
    if not scene_path.is_file():
        raise BridgeError("result_missing", f"{folder} holds no Golden Score result ({SCENE_JSON} is missing).",
                          "Give the folder that `python -m bridge reconstruct PHOTO --out DIR` wrote.")
    try:
        scene = json.loads(scene_path.read_text())
    except (OSError, ValueError) as exc:
        raise _unreadable(folder, str(exc)) from None
    scene = _check_scene(folder, scene)
    fighters = {}
    for role in scene["fighters"]:
        try:
            with np.load(folder / fighter_file(role), allow_pickle=False) as data:
                fighters[role] = {key: data[key] for key in data.files}
        except Exception as exc:  # zipfile.BadZipFile, EOFError, OSError, ValueError: all mean a damaged file
            raise _unreadable(folder, f"{fighter_file(role)}: {exc or type(exc).__name__}") from None
        missing = [key for key in FIGHTER_KEYS if key not in fighters[role]]
        if missing:
            raise _unreadable(folder, f"{fighter_file(role)} lacks {', '.join(missing)}")
    masks, poses = {}, {}
    for role in scene["fighters"]:
        mask_path = folder / mask_file(role)
        mask = read_grey_image(mask_path) if mask_path.is_file() else None
        masks[role] = None if mask is None else mask > 127
        pose_path = folder / artist_pose_file(role)
        if pose_path.is_file():
            try:
                with np.load(pose_path, allow_pickle=False) as data:
                    poses[role] = np.asarray(data[ARTIST_POSE_KEY], np.float64)
            except Exception as exc:  # a damaged file of the add-on's, whatever the zip reader raised
                raise BridgeError("artist_pose_unreadable", f"{pose_path} cannot be read ({exc}).",
                                  "It should hold `bone_poses` (J, 4, 4); delete it to start from the fit.") from None
    return SceneResult(folder, scene, fighters, masks, poses)
