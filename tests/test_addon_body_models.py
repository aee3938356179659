"""The body model the preferences pick reaches the bridge: SMPL-X from the user's model folder
(a synthetic one here) arrives as its own rig, skinned as exactly as Anny."""
import numpy as np
import pytest
from blender_addon import MODULE, fighter_arrays, import_photo, world_points


def test_smplx_needs_its_model_folder(empty_scene, blender):
    import_photo(blender)
    blender.context.preferences.addons[MODULE].preferences.body_model = "smplx"
    try:
        with pytest.raises(RuntimeError, match="SMPL-X needs your model files"):
            blender.ops.golden_score.detect_fighters()
    finally:
        blender.context.preferences.addons[MODULE].preferences.body_model = "anny"


def test_smplx_fighter_from_the_users_model_folder(empty_scene, blender, tmp_path):
    pytest.importorskip("smplx")
    from synthetic_smplx import write_model

    bpy = blender
    write_model(tmp_path, "neutral")
    preferences = bpy.context.preferences.addons[MODULE].preferences
    state = import_photo(bpy)
    state.people = 1
    preferences.body_model, preferences.smplx_folder = "smplx", str(tmp_path)
    try:
        assert bpy.ops.golden_score.detect_fighters() == {"FINISHED"}
    finally:
        preferences.body_model = "anny"
    arrays = fighter_arrays(bpy.context.scene)
    armature = bpy.data.objects["Tori"]
    assert len(armature.data.bones) == len(arrays["bone_names"]) == 55 and "pelvis" in armature.data.bones
    body = bpy.data.objects["Tori body"]
    evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    evaluated.to_mesh_clear()
    world = np.array(body.matrix_world)
    posed = co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]
    assert np.abs(posed - world_points(bpy.context.scene, arrays["vertices"].astype(float))).max() < 1e-3
