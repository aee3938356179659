"""Fighters: building them as Blender data, and the guides the artist edits over the photo."""
from __future__ import annotations

import bpy
from bpy.props import EnumProperty

from ..properties import photo_ready, settings
from .guides import build_box, stroke_image

ROLE_ITEMS = [("tori", "Tori", "The fighter who throws"), ("uke", "Uke", "The fighter who is thrown")]


class GS_OT_add_box(bpy.types.Operator):
    """Draw a box over the photo where this fighter is (move and scale it in the camera view);
    detection looks for the fighter inside it"""

    bl_idname = "golden_score.add_box"
    bl_label = "Add Box"
    bl_options = {"REGISTER", "UNDO"}

    role: EnumProperty(name="Fighter", items=ROLE_ITEMS)

    @classmethod
    def poll(cls, context):
        return photo_ready(context) and context.mode == "OBJECT"

    def execute(self, context):
        state = settings(context)
        width, height = state.photo.size
        left = 0.05 * width if self.role == "tori" else 0.5 * width
        box = build_box(context.scene, state.camera, self.role, (left, 0.1 * height, left + 0.45 * width, 0.9 * height))
        for obj in context.selected_objects:
            obj.select_set(False)
        box.select_set(True)
        context.view_layer.objects.active = box
        return {"FINISHED"}


class GS_OT_paint_strokes(bpy.types.Operator):
    """Paint over the photo what belongs to this fighter (green: surely, cyan: probably) and what
    does not (red: surely not, magenta: probably not); Fit uses it to isolate the fighter"""

    bl_idname = "golden_score.paint_strokes"
    bl_label = "Paint Strokes"
    bl_options = {"REGISTER", "UNDO"}

    role: EnumProperty(name="Fighter", items=ROLE_ITEMS)

    @classmethod
    def poll(cls, context):
        return photo_ready(context)

    def execute(self, context):
        image = stroke_image(settings(context).photo, self.role, create=True)
        editors = [a for a in context.screen.areas if a.type == "IMAGE_EDITOR"] if context.screen else []
        if not editors:
            self.report({"INFO"}, f"Open an Image Editor and pick '{image.name}' to paint.")
        for area in editors:
            area.spaces.active.image = image
            area.spaces.active.ui_mode = "PAINT"
        paint = context.tool_settings.image_paint
        if paint.brush is not None:
            paint.brush.color = (0.0, 1.0, 0.0)
            paint.brush.strength = 1.0
        return {"FINISHED"}


classes = (GS_OT_add_box, GS_OT_paint_strokes)
register, unregister = bpy.utils.register_classes_factory(classes)
