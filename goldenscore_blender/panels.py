"""The "Golden Score" tab in the 3D viewport's sidebar, in the order an artist works."""
from __future__ import annotations

import bpy

from .operator_base import running_job
from .export.turntable import CAMERA as TURNTABLE_CAMERA
from .fighters.build import ROLE_PROP, fighter_armatures
from .fighters.hypotheses import fighter_of, hypothesis_text
from .preferences import interpreter
from .properties import settings


class _Panel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Golden Score"


class GS_PT_photo(_Panel, bpy.types.Panel):
    bl_label = "Photo"

    def draw(self, context):
        layout, state = self.layout, settings(context)
        job = running_job()
        if job is not None:
            layout.progress(factor=job.progress.fraction, text=job.progress.text())
            layout.label(text="Esc cancels", icon="CANCEL")
        layout.operator("golden_score.import_photo", icon="IMAGE_DATA")
        if state.photo is not None:
            width, height = state.photo.size
            layout.label(text=f"{state.photo.name}: {width} x {height} px")
        if state.camera is not None:
            layout.prop(state.camera.data, "lens", text=f"Focal ({state.focal_source or 'set'})")
        if not interpreter(context)[0]:
            layout.label(text="No bridge Python: see the add-on's preferences", icon="ERROR")


class GS_PT_fighters(_Panel, bpy.types.Panel):
    bl_label = "Fighters"

    def draw(self, context):
        layout, state = self.layout, settings(context)
        layout.prop(state, "people")
        layout.operator("golden_score.detect_fighters", icon="VIEWZOOM")
        for role in ("tori", "uke")[:state.people]:
            row = layout.row(align=True)
            row.label(text=role.capitalize(), icon="USER")
            row.operator("golden_score.add_box", text="Box", icon="SELECT_SET").role = role
            row.operator("golden_score.paint_strokes", text="Strokes", icon="BRUSH_DATA").role = role


class GS_PT_fit(_Panel, bpy.types.Panel):
    bl_label = "Fit and Refine"

    def draw(self, context):
        layout, state = self.layout, settings(context)
        layout.prop(state, "fighters", expand=True)
        layout.operator("golden_score.fit_fighters", icon="ARMATURE_DATA")
        column = layout.column(align=True)
        column.prop(state, "refine_target", text="")
        if state.refine_target == "PART":
            column.prop(state, "part", text="")
        column.prop(state, "iterations")
        column.prop(state, "prior_weight")
        layout.operator("golden_score.refine", icon="SHADERFX")
        layout.operator("golden_score.resolve_contact", icon="MOD_PHYSICS")
        armatures = fighter_armatures(context.scene)
        if armatures:
            layout.label(text="Pose in Pose Mode; Refine starts from your pose", icon="POSE_HLT")
            column = layout.column(align=True)
            row = column.row(align=True)
            row.operator("golden_score.flip_limb_depth", icon="MOD_MIRROR")
            row.operator("golden_score.flip_facing", icon="LOOP_BACK")
            column.operator("golden_score.next_hypothesis", icon="FORWARD")
            armature = fighter_of(context)
            text = hypothesis_text(armature) if armature is not None else None
            if text:
                column.label(text=f"{armature[ROLE_PROP].capitalize()}: {text}")


class GS_PT_export(_Panel, bpy.types.Panel):
    bl_label = "Export"

    def draw(self, context):
        layout, state = self.layout, settings(context)
        row = layout.row(align=True)
        row.operator("golden_score.export_obj", text="OBJ")
        row.operator("golden_score.export_gltf", text="glTF")
        row.operator("golden_score.export_fbx", text="FBX")
        layout.prop(state, "print_height_mm")
        layout.operator("golden_score.export_print", icon="MESH_CUBE")
        layout.prop(state, "turntable_frames")
        row = layout.row(align=True)
        row.operator("golden_score.add_turntable", icon="CON_FOLLOWPATH")
        if context.scene.objects.get(TURNTABLE_CAMERA) is not None:
            row.operator("golden_score.render_turntable", icon="RENDER_ANIMATION")


classes = (GS_PT_photo, GS_PT_fighters, GS_PT_fit, GS_PT_export)
register, unregister = bpy.utils.register_classes_factory(classes)
