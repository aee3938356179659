"""Export: Blender's exporters write the posed fighters; the STL is one watertight statue of the
chosen height; the turntable renders a full turn."""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import trimesh
from blender_addon import fighter_arrays


@pytest.mark.parametrize("operator, suffix", [("export_obj", ".obj"), ("export_fbx", ".fbx")])
def test_fighters_export_through_blenders_exporters(detected, blender, tmp_path, operator, suffix):
    path = tmp_path / f"fighters{suffix}"
    assert getattr(blender.ops.golden_score, operator)(filepath=str(path)) == {"FINISHED"}
    assert path.stat().st_size > 100_000
    if suffix == ".obj":  # the posed mesh: the body's posed size survives, whatever the axes
        mesh = trimesh.load(path, force="mesh")
        posed = fighter_arrays(detected)["vertices"]
        assert abs(np.ptp(mesh.vertices, axis=0).max() - np.ptp(posed, axis=0).max()) < 0.01


GLTF_EXPORT = """
import sys
import bpy
bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
bpy.ops.wm.open_mainfile(filepath=sys.argv[2])
assert bpy.ops.golden_score.export_gltf(filepath=sys.argv[3]) == {"FINISHED"}
"""


def test_fighters_export_as_a_rigged_gltf(detected_blend, extension_zip, tmp_path):
    """In its own Blender process: once Blender's glTF exporter is loaded, a process that also
    imports torch (as this test session does) hangs on exit (bpy 4.5)."""
    path = tmp_path / "fighters.glb"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    run = subprocess.run([sys.executable, "-c", GLTF_EXPORT, str(extension_zip), str(detected_blend), str(path)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    length = struct.unpack_from("<I", path.read_bytes(), 12)[0]
    gltf = json.loads(path.read_bytes()[20:20 + length])
    names = {gltf["nodes"][j]["name"] for j in gltf["skins"][0]["joints"]}
    assert len(names) == 104 and {"root", "lowerarm01.R", "head"} <= names  # Anny's whole skeleton


def test_stl_is_one_watertight_statue_of_the_chosen_height(detected, blender, tmp_path):
    detected.golden_score.print_height_mm = 120.0
    objects = set(detected.objects.keys())
    path = tmp_path / "statue.stl"
    assert blender.ops.golden_score.export_print(filepath=str(path)) == {"FINISHED"}
    statue = trimesh.load(path)
    assert statue.is_watertight and statue.is_volume
    assert abs(np.ptp(statue.vertices[:, 2]) - 120.0) < 0.5
    plate = statue.vertices[statue.vertices[:, 2] < 1.0]
    assert np.ptp(plate[:, 0]) > 0.3 * np.ptp(statue.vertices[:, 0])  # standing on a base plate
    assert set(detected.objects.keys()) == objects  # nothing left behind in the scene


def test_turntable_circles_the_fighters_and_renders(detected, blender, tmp_path):
    bpy = blender
    scene = detected
    scene.golden_score.turntable_frames = 4
    assert bpy.ops.golden_score.add_turntable() == {"FINISHED"}
    camera = scene.objects["Turntable camera"]
    positions = []
    for frame in (1, 3):
        scene.frame_set(frame)
        positions.append(np.array(camera.matrix_world.translation))
    pivot = np.array(scene.objects["Turntable pivot"].matrix_world.translation)
    assert np.allclose(positions[1][:2] - pivot[:2], -(positions[0][:2] - pivot[:2]), atol=1e-4)  # half a turn
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 1
    scene.render.resolution_percentage = 10
    assert bpy.ops.golden_score.render_turntable(filepath=str(tmp_path / "turn_"), output="IMAGES") == {"FINISHED"}
    assert len(list(tmp_path.glob("turn_*.png"))) == 4
    assert scene.camera == scene.golden_score.camera and scene.use_nodes  # the photo view is back
