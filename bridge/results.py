"""The result folder, by the data contract in DESIGN.md, written all at once or not at all."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import trimesh

from .errors import BridgeError

FORMAT_VERSION = 1
SCENE_JSON = "scene.json"
OVERLAY = "overlay.png"
SCENE_GLB = "scene.glb"
SCENE_OBJ = "scene.obj"
FIGHTER_COLOURS = {"tori": (70, 110, 230, 255), "uke": (235, 235, 235, 255)}

# Blender's world is Z up; glTF and OBJ files are Y up.
Y_UP_FROM_Z_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1.0]])


def fighter_file(role: str) -> str:
    return f"fighter_{role}.npz"


def mask_file(role: str) -> str:
    """The fighter's mask in the photo (white = this fighter): what refinement compares with."""
    return f"mask_{role}.png"


ARTIST_POSE = "artist_pose_{role}.npz"  # the add-on's pose of a fighter, for jobs that start from it


def _scene_mesh(fighters: dict[str, dict], world_from_camera: np.ndarray) -> trimesh.Scene:
    scene = trimesh.Scene()
    transform = Y_UP_FROM_Z_UP @ world_from_camera
    for role, arrays in fighters.items():
        mesh = trimesh.Trimesh(arrays["vertices"], arrays["faces"], process=False)
        mesh.apply_transform(transform)
        mesh.visual.face_colors = FIGHTER_COLOURS.get(role, (200, 200, 200, 255))
        scene.add_geometry(mesh, node_name=role, geom_name=role)
    return scene


def _prepare_output(out_dir: Path) -> Path:
    """A fresh temporary folder beside out_dir, so the final rename stays on one filesystem."""
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=parent))
    except OSError as exc:
        raise BridgeError("output_unwritable", f"Cannot write to {parent} ({exc.strerror}).",
                          "Choose an output folder you can write to (--out).") from None


def write_result(out_dir: Path, scene: dict, fighters: dict[str, dict], overlay_rgb: np.ndarray,
                 masks: dict[str, np.ndarray | None] | None = None) -> dict[str, str]:
    """Write scene.json, fighter_<role>.npz, mask_<role>.png (where known), scene.glb, scene.obj
    and overlay.png into out_dir.

    Everything goes to a temporary folder first and replaces out_dir in one rename, so a
    failure leaves no half-written result and an earlier result stays intact until then."""
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise BridgeError("output_not_folder", f"{out_dir} is a file, not a folder.", "Give a folder for --out.")
    work = _prepare_output(out_dir)
    try:
        (work / SCENE_JSON).write_text(json.dumps({"format_version": FORMAT_VERSION, **scene}, indent=2))
        for role, arrays in fighters.items():
            np.savez_compressed(work / fighter_file(role), **arrays)
        written_masks = [role for role, mask in (masks or {}).items() if mask is not None]
        for role in written_masks:
            if not cv2.imwrite(str(work / mask_file(role)), masks[role].astype(np.uint8) * 255):
                raise OSError(f"could not encode {mask_file(role)}")
        mesh = _scene_mesh(fighters, np.asarray(scene["camera"]["world_from_camera"]))
        mesh.export(work / SCENE_GLB)
        mesh.export(work / SCENE_OBJ, include_texture=False)
        if not cv2.imwrite(str(work / OVERLAY), cv2.cvtColor(overlay_rgb, cv2.COLOR_RGB2BGR)):
            raise OSError("could not encode overlay.png")
        if out_dir.exists():
            old = out_dir.with_name(out_dir.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out_dir, old)
            os.replace(work, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, out_dir)
    except OSError as exc:
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


def read_result(folder) -> SceneResult:
    """Read a result folder written by write_result (and the add-on's artist poses beside it)."""
    folder = Path(folder)
    scene_path = folder / SCENE_JSON
    if not scene_path.is_file():
        raise BridgeError("result_missing", f"{folder} holds no Golden Score result ({SCENE_JSON} is missing).",
                          "Give the folder that `python -m bridge reconstruct PHOTO --out DIR` wrote.")
    try:
        scene = json.loads(scene_path.read_text())
        fighters = {}
        for role in scene["fighters"]:
            with np.load(folder / fighter_file(role), allow_pickle=False) as data:
                fighters[role] = {key: data[key] for key in data.files}
    except (OSError, ValueError, KeyError) as exc:
        raise BridgeError("result_unreadable", f"The result in {folder} cannot be read ({exc}).",
                          "Run reconstruct again to write it anew.") from None
    masks, poses = {}, {}
    for role in scene["fighters"]:
        mask_path = folder / mask_file(role)
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) if mask_path.is_file() else None
        masks[role] = None if mask is None else mask > 127
        pose_path = folder / ARTIST_POSE.format(role=role)
        if pose_path.is_file():
            try:
                with np.load(pose_path, allow_pickle=False) as data:
                    poses[role] = np.asarray(data["bone_poses"], np.float64)
            except (OSError, ValueError, KeyError) as exc:
                raise BridgeError("artist_pose_unreadable", f"{pose_path} cannot be read ({exc}).",
                                  "It should hold `bone_poses` (J, 4, 4); delete it to start from the fit.") from None
    return SceneResult(folder, scene, fighters, masks, poses)
