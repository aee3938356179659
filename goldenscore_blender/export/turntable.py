"""A turntable: a camera circling the fighters once, rendered to a video or an image sequence."""
from __future__ import annotations

import math

import bpy
import numpy as np
from bpy.props import EnumProperty, StringProperty
from mathutils import Matrix, Vector

from ..fighters.build import fighter_armatures, fighter_meshes, scene_collection
from ..properties import settings

PIVOT = "Turntable pivot"
CAMERA = "Turntable camera"


def _fighters_centre(context) -> np.ndarray:
    """The middle of the fighters' posed bounding box."""
    depsgraph = context.evaluated_depsgraph_get()
    corners = []
    for body in fighter_meshes(context.scene):
        evaluated = body.evaluated_get(depsgraph)
        corners += [evaluated.matrix_world @ Vector(corner) for corner in evaluated.bound_box]
    points = np.array(corners)
    return (points.min(axis=0) + points.max(axis=0)) / 2


def remove_turntable(scene) -> None:
    for name in (CAMERA, PIVOT):
        obj = scene.objects.get(name)
        if obj is not None:
            data = obj.data
            bpy.data.objects.remove(obj)
            if data is not None and data.users == 0:
                bpy.data.cameras.remove(data)


class GS_OT_add_turntable(bpy.types.Operator):
    """Add a camera that circles the fighters once over the chosen number of frames, starting
    from the photo's viewpoint"""

    bl_idname = "golden_score.add_turntable"
    bl_label = "Add Turntable"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return bool(fighter_armatures(context.scene)) and settings(context).camera is not None

    def execute(self, context):
        scene, state = context.scene, settings(context)
        remove_turntable(scene)
        collection = scene_collection(scene)
        pivot = bpy.data.objects.new(PIVOT, None)
        pivot.empty_display_type = "CIRCLE"
        pivot.location = _fighters_centre(context).tolist()
        collection.objects.link(pivot)
        data = state.camera.data.copy()
        data.background_images.clear()
        data.show_background_images = False
        camera = bpy.data.objects.new(CAMERA, data)
        collection.objects.link(camera)
        camera.parent = pivot
        camera.matrix_parent_inverse = Matrix.Translation(pivot.location).inverted()
        camera.matrix_basis = state.camera.matrix_world.copy()
        frames = state.turntable_frames
        scene.frame_start, scene.frame_end = 1, frames
        for frame, angle in ((1, 0.0), (frames + 1, 2 * math.pi)):  # frame N+1 repeats frame 1
            pivot.rotation_euler.z = angle
            pivot.keyframe_insert("rotation_euler", index=2, frame=frame)
        for curve in pivot.animation_data.action.fcurves:
            for key in curve.keyframe_points:
                key.interpolation = "LINEAR"
        self.report({"INFO"}, f"Turntable over frames 1-{frames}; render it with Render Turntable")
        return {"FINISHED"}


class GS_OT_render_turntable(bpy.types.Operator):
    """Render the turntable with the scene's render engine and settings (Blender is busy until
    it is done)"""

    bl_idname = "golden_score.render_turntable"
    bl_label = "Render Turntable"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="Output", subtype="FILE_PATH",
                             description="Video file, or the prefix of the numbered images")
    output: EnumProperty(name="As", default="VIDEO",
                         items=[("VIDEO", "Video", "One MPEG-4 (H.264) file"),
                                ("IMAGES", "Images", "A numbered PNG sequence")])

    @classmethod
    def poll(cls, context):
        return context.scene.objects.get(CAMERA) is not None

    def invoke(self, context, event):
        if not self.filepath:
            self.filepath = "//turntable" + ("_" if self.output == "IMAGES" else ".mp4")
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        scene = context.scene
        render = scene.render
        saved = (scene.camera, scene.use_nodes, render.film_transparent, render.filepath,
                 render.image_settings.file_format)
        try:
            scene.camera = scene.objects[CAMERA]
            scene.use_nodes = False  # the photo belongs to the photo camera's view only
            render.film_transparent = False
            render.filepath = self.filepath
            if self.output == "VIDEO":
                render.image_settings.file_format = "FFMPEG"
                render.ffmpeg.format, render.ffmpeg.codec = "MPEG4", "H264"
            else:
                render.image_settings.file_format = "PNG"
            bpy.ops.render.render(animation=True)
        finally:
            (scene.camera, scene.use_nodes, render.film_transparent, render.filepath,
             render.image_settings.file_format) = saved
        self.report({"INFO"}, f"Rendered the turntable to {bpy.path.abspath(self.filepath)}")
        return {"FINISHED"}


classes = (GS_OT_add_turntable, GS_OT_render_turntable)
register, unregister = bpy.utils.register_classes_factory(classes)
