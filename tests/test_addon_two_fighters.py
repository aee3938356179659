"""Two fighters from one photo: tori and uke as separate rigs in the same camera, guides for
both, one printable statue, and Fit keeping the roles the artist's boxes say."""
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from blender_addon import PAIR_SCENE, detect_and_save, fighter_arrays, reopen, world_points

from bridge.geometry.camera import project

SCENE = PAIR_SCENE


def _scene_K(scene):
    return np.array(json.loads((Path(scene.golden_score.result_dir) / "scene.json").read_text())["camera"]["K"])


def test_both_fighters_arrive_as_rigs_over_the_photo(pair, blender, addon):
    bpy = blender
    assert set(addon.fighters.build.fighter_armatures(pair)) == {"tori", "uke"}
    for role in ("tori", "uke"):
        arrays = fighter_arrays(pair, role)
        body = bpy.data.objects[f"{role.capitalize()} body"]
        evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
        mesh = evaluated.to_mesh()
        co = np.empty(len(mesh.vertices) * 3)
        mesh.vertices.foreach_get("co", co)
        evaluated.to_mesh_clear()
        expected = world_points(pair, arrays["vertices"].astype(float))
        world = np.array(body.matrix_world)
        assert np.abs(co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3] - expected).max() < 1e-3
        assert len(addon.fighters.guides.keypoint_empties(pair, role)) == 25
        assert addon.fighters.guides.fighter_box(pair, role) is not None
    colours = [tuple(bpy.data.materials[f"Golden Score {role}"].diffuse_color) for role in ("tori", "uke")]
    assert colours[0] != colours[1]


def test_statue_of_two_fighters_is_watertight(pair, blender, tmp_path):
    path = tmp_path / "pair.stl"
    assert blender.ops.golden_score.export_print(filepath=str(path)) == {"FINISHED"}
    statue = trimesh.load(path)
    assert statue.is_watertight and abs(np.ptp(statue.vertices[:, 2]) - pair.golden_score.print_height_mm) < 0.5


@pytest.mark.slow
def test_fit_keeps_the_roles_of_the_artists_boxes(pair, blender, addon):
    guides = addon.fighters.guides
    before = {role: guides.guide_keypoints(pair, pair.camera, role)[0] for role in ("tori", "uke")}
    assert blender.ops.golden_score.fit_fighters() == {"FINISHED"}
    K = _scene_K(pair)
    for role, other in (("tori", "uke"), ("uke", "tori")):
        fitted = project(K, fighter_arrays(pair, role)["keypoints3d"].astype(float))
        sure = fighter_arrays(pair, role)["keypoint_confidence"] > 0
        own, swapped = (np.median(np.linalg.norm(fitted[sure] - before[r][sure], axis=1)) for r in (role, other))
        # Uchi-mata's guides put both fighters on nearly the same pixels; the joint stage takes the
        # bodies apart, so each lies some 20 px off its guides (measured 20 and 40 px from the
        # other's), and still nearer its own.
        assert own < 25 and own < swapped, (role, own, swapped)


def test_resolve_contact_pushes_the_fighters_out_of_each_other(pair, blender, addon):
    """The artist drags uke's rig 15 cm into tori; Resolve Contact, starting from that pose, takes
    them apart again."""
    from bridge.geometry.penetration import interpenetration_m

    def overlap(uke_shift=np.zeros(3)):
        tori, uke = (fighter_arrays(pair, role) for role in ("tori", "uke"))
        return interpenetration_m(tori["vertices"].astype(float), uke["vertices"].astype(float) + uke_shift,
                                  tori["faces"])

    tori, uke = (fighter_arrays(pair, role)["vertices"].mean(axis=0) for role in ("tori", "uke"))
    shift = 0.15 * (tori - uke) / np.linalg.norm(tori - uke)  # camera coordinates
    camera = np.array(pair.golden_score.camera.matrix_world) @ np.diag([1.0, -1.0, -1.0, 1.0])
    rig = addon.fighters.build.fighter_armatures(pair)["uke"]
    rig.location = np.array(rig.location) + camera[:3, :3] @ shift
    blender.context.view_layer.update()
    pushed_in = overlap(shift)
    assert pushed_in > 0.03
    assert blender.ops.golden_score.resolve_contact() == {"FINISHED"}
    assert overlap() <= 0.01
    # It started from the artist's pose: from the fit's own pose, which does not overlap, it would
    # not move uke at all. Where uke ends depends on the fit: with the fit of 2026-11-21 it kept
    # 10 of the 15 cm; since the detector averages its agreeing quarter turns, the fit differs and
    # uke goes back out the way it came, 4 cm from where the fit had it.
    moved = fighter_arrays(pair, "uke")["vertices"].mean(axis=0) - uke
    assert np.linalg.norm(moved) > 0.02
