"""Photo: import a photo as the background of a new camera that reproduces it."""
from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
from bpy.props import StringProperty
from bpy_extras.io_utils import ImportHelper

from ..bridge_client import JobError, bridge_environment, session_worker
from ..coordinates import FILM_WIDTH_35MM, set_intrinsics
from ..locations import bridge_format, bridge_home
from ..preferences import addon_preferences, bridge_interpreter
from ..properties import settings
from .exif import photo_exif

DEFAULT_FOCAL_35MM = bridge_format().DEFAULT_FOCAL_35MM  # a normal lens, as the bridge assumes without EXIF
COMPOSITE_NODE = "Golden Score photo"


def photo_intrinsics(width: int, height: int, focal_35mm: float):
    """K of a photo whose longer side spans 36 mm film at the 35 mm-equivalent focal length."""
    focal = focal_35mm / FILM_WIDTH_35MM * max(width, height)
    return [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]]


def upright(image, orientation: int):
    """The photo as the bridge sees it: Blender ignores EXIF orientation, so a turned or
    mirrored photo gets an upright copy (packed into the .blend)."""
    if orientation == 1:
        return image
    width, height = image.size
    pixels = np.empty(width * height * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    top_down = np.flipud(pixels.reshape(height, width, 4))
    turned = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
              5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
              7: lambda a: a[::-1, ::-1].transpose(1, 0, 2), 8: lambda a: np.rot90(a, 1)}[orientation](top_down)
    copy = bpy.data.images.new(f"{image.name} upright", turned.shape[1], turned.shape[0], alpha=False)
    copy.pixels.foreach_set(np.ascontiguousarray(np.flipud(turned)).ravel())
    copy.pack()
    if image.users == 0:
        bpy.data.images.remove(image)
    return copy


def render_over_photo(scene, image) -> None:
    """Renders show the photo behind the scene: a transparent film composited over the photo,
    with the Standard view transform so the photo keeps its colours."""
    scene.render.film_transparent = True
    scene.view_settings.view_transform = "Standard"
    scene.use_nodes = True
    nodes, links = scene.node_tree.nodes, scene.node_tree.links
    photo = nodes.get(COMPOSITE_NODE)
    if photo is None:
        layers = next((n for n in nodes if n.type == "R_LAYERS"), None) or nodes.new("CompositorNodeRLayers")
        output = next((n for n in nodes if n.type == "COMPOSITE"), None) or nodes.new("CompositorNodeComposite")
        photo = nodes.new("CompositorNodeImage")
        photo.name = COMPOSITE_NODE
        fit = nodes.new("CompositorNodeScale")
        fit.space, fit.frame_method = "RENDER_SIZE", "STRETCH"
        over = nodes.new("CompositorNodeAlphaOver")
        links.new(photo.outputs["Image"], fit.inputs["Image"])
        links.new(fit.outputs["Image"], over.inputs[1])
        links.new(layers.outputs["Image"], over.inputs[2])
        links.new(over.outputs["Image"], output.inputs["Image"])
        photo.location, fit.location, over.location = (-400, -300), (-200, -300), (0, 0)
        output.location = (250, 0)
    photo.image = image


class GS_OT_import_photo(bpy.types.Operator, ImportHelper):
    """Import a photo as the background of a new camera with the photo's size and focal length"""

    bl_idname = "golden_score.import_photo"
    bl_label = "Import Photo"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: StringProperty(default="*.jpg;*.jpeg;*.png", options={"HIDDEN"})

    def execute(self, context):
        path = Path(self.filepath)
        if not path.is_file():
            self.report({"ERROR"}, f"{path} does not exist; pick the photo file again.")
            return {"CANCELLED"}
        before = set(bpy.data.images)
        try:
            image = bpy.data.images.load(str(path), check_existing=True)
        except RuntimeError:
            self.report({"ERROR"}, f"Cannot read {path.name} as an image; use a JPEG or PNG photo.")
            return {"CANCELLED"}
        if 0 in image.size:
            if image not in before:  # no orphan image left behind by a failed import
                bpy.data.images.remove(image)
            self.report({"ERROR"}, f"{path.name} has no pixels Blender can read; use a JPEG or PNG photo.")
            return {"CANCELLED"}
        focal, orientation = photo_exif(path)
        image = upright(image, orientation)
        width, height = image.size
        scene = context.scene
        data = bpy.data.cameras.new("Photo camera")
        camera = bpy.data.objects.new("Photo camera", data)
        scene.collection.objects.link(camera)
        # Level at the origin, looking along +Y: the bridge's default camera pose.
        camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
        set_intrinsics(data, scene, photo_intrinsics(width, height, focal or DEFAULT_FOCAL_35MM), width, height)
        data.show_background_images = True
        background = data.background_images.new()
        background.image = image
        background.frame_method = "STRETCH"
        background.alpha = 1.0
        background.display_depth = "BACK"
        scene.camera = camera
        render_over_photo(scene, image)
        state = settings(context)
        state.photo, state.photo_path, state.camera, state.result_dir = image, str(path.resolve()), camera, ""
        state.focal_source = "EXIF" if focal else f"default ({DEFAULT_FOCAL_35MM:g} mm, no EXIF)"
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.spaces.active.region_3d.view_perspective = "CAMERA"
        self.report({"INFO"}, f"{path.name}: {width} x {height} px, {data.lens:.0f} mm ({state.focal_source})")
        _start_bridge(context)
        return {"FINISHED"}


def _start_bridge(context) -> None:
    """The session's bridge worker started now, in the background, where the preferences ask
    for it: its loading (torch, the body model, the detector) then overlaps the artist looking
    at the photo instead of the first Detect. Where it cannot start, Detect says why."""
    if not addon_preferences(context).start_with_photo:
        return
    try:
        session_worker(bridge_interpreter(context), bridge_home(), bridge_environment())
    except (JobError, OSError):
        pass


classes = (GS_OT_import_photo,)
register, unregister = bpy.utils.register_classes_factory(classes)
