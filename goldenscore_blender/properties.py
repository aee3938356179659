"""The scene's Golden Score settings (saved with the .blend and restored by undo)."""
from __future__ import annotations

import bpy
from bpy.props import EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from .locations import bridge_format, bridge_messages

ROLES = bridge_format().ROLES


def _is_camera(self, obj):
    return obj.type == "CAMERA"


class GoldenScoreSettings(bpy.types.PropertyGroup):
    photo: PointerProperty(name="Photo", type=bpy.types.Image, description="The photo the fighters are fitted to")
    photo_path: StringProperty(name="Photo file", subtype="FILE_PATH",
                               description="The photo file the bridge reads (it applies EXIF orientation itself)")
    camera: PointerProperty(name="Photo camera", type=bpy.types.Object, poll=_is_camera,
                            description="The camera through which the photo was taken")
    focal_source: StringProperty(name="Focal length from", default="")
    result_dir: StringProperty(
        name="Result", subtype="DIR_PATH",
        description="The bridge's result folder that the fighters in this scene come from")
    people: IntProperty(name="Fighters", default=2, min=1, max=2, description="How many fighters the photo shows")
    fighters: EnumProperty(
        name="Fighters", default="BOTH", description="Which fighters Refine works on",
        items=[("BOTH", "Both", "Tori and uke"), ("tori", "Tori", "Only tori"), ("uke", "Uke", "Only uke")])
    refine_target: EnumProperty(
        name="Refine", default="PHOTO",
        items=[("PHOTO", "Whole Photo", "Compare the whole photo"),
               ("CAMERA", "What the Camera Sees",
                "Only the part of the photo inside the photo camera's render border, or what another active "
                "camera frames"),
               ("BONES", "Selected Bones", "Only move the bones selected in Pose Mode"),
               ("PART", "Body Part", "Only move one body part")])
    part: EnumProperty(
        name="Part", default="legs",
        items=[("legs", "Legs", ""), ("arms", "Arms", ""), ("torso", "Torso", ""), ("head", "Head", "")])
    iterations: IntProperty(name="Iterations", default=bridge_messages().REFINE_ITERATIONS, min=1, max=2000,
                            description="Optimisation steps of the refinement")
    prior_weight: FloatProperty(name="Prior weight", default=0.3, min=0.0, soft_max=20.0,
                                description="How strongly the refinement keeps the pose natural")
    print_height_mm: FloatProperty(name="Height (mm)", default=150.0, min=10.0, soft_max=1000.0,
                                   description="Height of the printed statue, base plate included")
    turntable_frames: IntProperty(name="Frames", default=120, min=2, description="Frames for one full turn")


def settings(context) -> GoldenScoreSettings:
    return context.scene.golden_score


def photo_ready(context) -> bool:
    """Whether the scene has an imported photo and its camera: what every fighter operator needs."""
    state = settings(context)
    return state.photo is not None and state.camera is not None


def register():
    bpy.utils.register_class(GoldenScoreSettings)
    bpy.types.Scene.golden_score = PointerProperty(type=GoldenScoreSettings)


def unregister():
    del bpy.types.Scene.golden_score
    bpy.utils.unregister_class(GoldenScoreSettings)
