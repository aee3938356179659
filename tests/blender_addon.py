"""Shared fixtures for the add-on tests: real Blender (the bpy module), the extension installed
from its zip the way a user installs it, and one bridge result per test session."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PHOTO = ROOT / "assets" / "sample" / "photo.jpg"
MODULE = "bl_ext.user_default.golden_score"


@pytest.fixture(scope="session")
def blender(tmp_path_factory):
    """bpy with a private user folder (so nothing touches the real one)."""
    os.environ["BLENDER_USER_RESOURCES"] = str(tmp_path_factory.mktemp("blender_user"))
    return pytest.importorskip("bpy")


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory, blender):
    import build

    return build.build_extension(tmp_path_factory.mktemp("extension"))


@pytest.fixture(scope="session")
def addon(blender, extension_zip):
    """The installed and enabled extension's package."""
    result = blender.ops.extensions.package_install_files(filepath=str(extension_zip), repo="user_default",
                                                         enable_on_install=True)
    assert result == {"FINISHED"}
    yield importlib.import_module(MODULE)
    if MODULE in blender.context.preferences.addons:
        blender.ops.preferences.addon_disable(module=MODULE)


def fresh_file(bpy) -> None:
    """An empty file with the extension enabled (other tests' factory resets disable it)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    if MODULE not in bpy.context.preferences.addons:
        bpy.ops.preferences.addon_enable(module=MODULE)
    # Tests start the bridge with their jobs; the one on starting it with the photo turns this on.
    bpy.context.preferences.addons[MODULE].preferences.start_with_photo = False


@pytest.fixture
def empty_scene(addon, blender):
    """A fresh empty file, the extension enabled and its preferences at their defaults."""
    fresh_file(blender)
    preferences = blender.context.preferences.addons[MODULE].preferences
    preferences.interpreter = ""
    return blender.context.scene


def import_photo(bpy, path=SAMPLE_PHOTO):
    assert bpy.ops.golden_score.import_photo(filepath=str(path)) == {"FINISHED"}
    return bpy.context.scene.golden_score


def detect_and_save(bpy, photo, people: int, folder) -> Path:
    """A photo imported and its fighters detected by the add-on's operator (one bridge run),
    saved as a .blend that tests reopen."""
    fresh_file(bpy)
    import_photo(bpy, photo).people = people
    assert bpy.ops.golden_score.detect_fighters() == {"FINISHED"}
    path = Path(folder) / "detected.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    return path


def reopen(bpy, path):
    """A fresh copy of a saved scene, so each test starts from the same one."""
    fresh_file(bpy)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    return bpy.context.scene


@pytest.fixture(scope="session")
def detected_blend(addon, blender, tmp_path_factory):
    return detect_and_save(blender, SAMPLE_PHOTO, 1, tmp_path_factory.mktemp("detected"))


@pytest.fixture
def detected(detected_blend, blender):
    """A scene with the sample's fighter built by Detect Fighters."""
    return reopen(blender, detected_blend)


PAIR_SCENE = ROOT / "assets" / "scenes" / "uchi-mata_throw_s34"


@pytest.fixture(scope="session")
def pair_blend(addon, blender, tmp_path_factory):
    """Two fighters detected once per session (uchi-mata), saved for tests to reopen."""
    return detect_and_save(blender, PAIR_SCENE / "photo.jpg", 2, tmp_path_factory.mktemp("pair"))


@pytest.fixture
def pair(pair_blend, blender):
    return reopen(blender, pair_blend)


def fighter_arrays(scene, role="tori") -> dict:
    with np.load(Path(scene.golden_score.result_dir) / f"fighter_{role}.npz") as npz:
        return {key: npz[key] for key in npz.files}


def world_points(scene, camera_points):
    """Bridge camera coordinates -> Blender world, through the photo camera."""
    camera = np.array(scene.golden_score.camera.matrix_world) @ np.diag([1.0, -1.0, -1.0, 1.0])
    return camera_points @ camera[:3, :3].T + camera[:3, 3]
