"""A printable statue: both fighters fused with a base plate into one watertight solid, in mm."""
from __future__ import annotations

import bpy
import numpy as np
from bpy_extras.io_utils import ExportHelper

from ..fighters.build import fighter_armatures, fighter_meshes
from ..properties import settings

VOXELS_PER_HEIGHT = 300  # the remesh resolution: fine enough for fingers at statue size
PLATE_THICKNESS = 0.04  # of the statue's height
PLATE_MARGIN = 0.08  # of the statue's height, around the fighters


def _posed_triangles(context) -> tuple[np.ndarray, np.ndarray]:
    """World-space vertices and triangles of every fighter's armature-deformed mesh."""
    depsgraph = context.evaluated_depsgraph_get()
    vertices, faces, offset = [], [], 0
    for body in fighter_meshes(context.scene):
        evaluated = body.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        mesh.calc_loop_triangles()
        co = np.empty(len(mesh.vertices) * 3)
        mesh.vertices.foreach_get("co", co)
        tris = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int64)
        mesh.loop_triangles.foreach_get("vertices", tris)
        world = np.array(evaluated.matrix_world)
        vertices.append(co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3])
        faces.append(tris.reshape(-1, 3) + offset)
        offset += len(mesh.vertices)
        evaluated.to_mesh_clear()
    return np.concatenate(vertices), np.concatenate(faces)


def _plate(vertices: np.ndarray, overlap: float) -> tuple[np.ndarray, np.ndarray]:
    """A box under the lowest point, reaching `overlap` into the bodies so the remesh fuses them."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    height = high[2] - low[2]
    margin, thickness = PLATE_MARGIN * height, PLATE_THICKNESS * height
    x0, y0, z0 = low[0] - margin, low[1] - margin, low[2] - thickness
    x1, y1, z1 = high[0] + margin, high[1] + margin, low[2] + overlap
    corners = np.array([[x, y, z] for z in (z0, z1) for y in (y0, y1) for x in (x0, x1)])
    quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    faces = np.array([tri for a, b, c, d in quads for tri in ((a, b, c), (a, c, d))])
    return corners, faces


def print_solid(context, height_mm: float):
    """A new, unlinked mesh: fighters and plate as one closed surface, height_mm units tall
    (STL has no units; slicers read them as millimetres)."""
    vertices, faces = _posed_triangles(context)
    height = np.ptp(vertices[:, 2])
    voxel = height / VOXELS_PER_HEIGHT
    plate_vertices, plate_faces = _plate(vertices, overlap=2 * voxel)
    raw = bpy.data.meshes.new("Golden Score print input")
    raw.from_pydata(np.concatenate([vertices, plate_vertices]), [],
                    np.concatenate([faces, plate_faces + len(vertices)]))
    holder = bpy.data.objects.new("Golden Score print input", raw)
    context.scene.collection.objects.link(holder)
    remesh = holder.modifiers.new("Remesh", "REMESH")
    remesh.mode, remesh.voxel_size, remesh.adaptivity = "VOXEL", voxel, 0.0
    try:
        evaluated = holder.evaluated_get(context.evaluated_depsgraph_get())
        solid = bpy.data.meshes.new_from_object(evaluated)
    finally:
        bpy.data.objects.remove(holder)
        bpy.data.meshes.remove(raw)
    co = np.empty(len(solid.vertices) * 3)
    solid.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    low, high = co.min(axis=0), co.max(axis=0)
    base_centre = np.array([(low[0] + high[0]) / 2, (low[1] + high[1]) / 2, low[2]])
    co = (co - base_centre) * (height_mm / (high[2] - low[2]))  # standing on z = 0, centred
    solid.vertices.foreach_set("co", co.ravel())
    solid.update()
    solid.name = "Golden Score print"
    return solid


class GS_OT_export_print(bpy.types.Operator, ExportHelper):
    """Export both fighters on a base plate as one watertight STL, scaled to the height in
    millimetres set in the panel"""

    bl_idname = "golden_score.export_print"
    bl_label = "Export STL for Printing"
    bl_options = {"REGISTER"}
    filename_ext = ".stl"

    @classmethod
    def poll(cls, context):
        return bool(fighter_armatures(context.scene)) and context.mode == "OBJECT"

    def execute(self, context):
        solid = print_solid(context, settings(context).print_height_mm)
        statue = bpy.data.objects.new("Golden Score print", solid)
        context.scene.collection.objects.link(statue)
        selected, active = list(context.selected_objects), context.view_layer.objects.active
        try:
            for obj in selected:
                obj.select_set(False)
            statue.select_set(True)
            context.view_layer.objects.active = statue
            bpy.ops.wm.stl_export(filepath=self.filepath, export_selected_objects=True, global_scale=1.0,
                                  apply_modifiers=False, ascii_format=False)
        finally:
            bpy.data.objects.remove(statue)
            bpy.data.meshes.remove(solid)
            for obj in selected:
                obj.select_set(True)
            context.view_layer.objects.active = active
        self.report({"INFO"}, f"Wrote {self.filepath} ({settings(context).print_height_mm:g} mm tall)")
        return {"FINISHED"}


classes = (GS_OT_export_print,)
register, unregister = bpy.utils.register_classes_factory(classes)
