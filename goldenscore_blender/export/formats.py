"""OBJ, glTF and FBX of the fighters, written by Blender's own exporters."""
from __future__ import annotations

import bpy
from bpy_extras.io_utils import ExportHelper

from ..fighters.build import fighter_armatures, fighter_meshes


def fighter_objects(scene) -> list:
    """The fighters' armatures and their skinned meshes."""
    return [*fighter_armatures(scene).values(), *fighter_meshes(scene)]


class _ExportFighters(ExportHelper):
    """Selects just the fighters, runs Blender's exporter, and puts the selection back."""

    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        return bool(fighter_armatures(context.scene)) and context.mode == "OBJECT"

    def export(self, context) -> None:
        raise NotImplementedError

    def execute(self, context):
        selected, active = list(context.selected_objects), context.view_layer.objects.active
        for obj in selected:
            obj.select_set(False)
        for obj in fighter_objects(context.scene):
            obj.select_set(True)
        try:
            self.export(context)
        finally:
            for obj in fighter_objects(context.scene):
                obj.select_set(False)
            for obj in selected:
                obj.select_set(True)
            context.view_layer.objects.active = active
        self.report({"INFO"}, f"Exported the fighters to {self.filepath}")
        return {"FINISHED"}


class GS_OT_export_obj(_ExportFighters, bpy.types.Operator):
    """Export the posed fighters as OBJ"""

    bl_idname = "golden_score.export_obj"
    bl_label = "Export OBJ"
    filename_ext = ".obj"

    def export(self, context):
        bpy.ops.wm.obj_export(filepath=self.filepath, export_selected_objects=True, apply_modifiers=True)


class GS_OT_export_gltf(_ExportFighters, bpy.types.Operator):
    """Export the rigged, posed fighters as binary glTF"""

    bl_idname = "golden_score.export_gltf"
    bl_label = "Export glTF"
    filename_ext = ".glb"

    def export(self, context):
        # The joints' node transforms are the pose on screen at the current frame (the exporter's
        # defaults: the rest pose, at frame 0) over the rest pose's inverse bind matrices, so the
        # file opens posed and stays skinned, to pose or animate further. Anny weighs a vertex to
        # up to 9 bones: glTF's default of the 4 heaviest puts the mesh up to 15 mm off the pose,
        # 8 (two joint sets; a viewer that reads only the first still gets the 4 heaviest) 0.1 mm.
        bpy.ops.export_scene.gltf(filepath=self.filepath, export_format="GLB", use_selection=True,
                                  export_current_frame=True, export_rest_position_armature=False,
                                  export_influence_nb=8)


class GS_OT_export_fbx(_ExportFighters, bpy.types.Operator):
    """Export the rigged, posed fighters as FBX"""

    bl_idname = "golden_score.export_fbx"
    bl_label = "Export FBX"
    filename_ext = ".fbx"

    def export(self, context):
        bpy.ops.export_scene.fbx(filepath=self.filepath, use_selection=True, add_leaf_bones=False)


classes = (GS_OT_export_obj, GS_OT_export_gltf, GS_OT_export_fbx)
register, unregister = bpy.utils.register_classes_factory(classes)
