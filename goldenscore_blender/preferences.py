"""Add-on preferences: which Python runs the bridge, the body model, the compute device."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from .bridge_client import Job, JobError, bridge_command, bridge_environment
from .operator_base import BridgeOperator, logs_folder
from .locations import ADDON_ID, bridge_home, build_defaults, requirements_file
from .user_folders import user_dir


def addon_preferences(context=None):
    return (context or bpy.context).preferences.addons[ADDON_ID].preferences


def environment_python() -> Path:
    """The interpreter of the environment that "Create environment" makes."""
    env = user_dir("env")
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def interpreter(context=None) -> tuple[str, str]:
    """The bridge's Python, and in words where that choice comes from."""
    chosen = addon_preferences(context).interpreter
    if chosen:
        return bpy.path.abspath(chosen), "set here"
    built = build_defaults().get("interpreter")
    if built and Path(built).is_file():
        return built, "the environment `python build.py` made"
    own = environment_python()
    if own.is_file():
        return str(own), "the environment created here"
    return "", "none yet: create an environment"


def body_arguments(context) -> list[str]:
    """The bridge's body-model options for reconstruct, from the preferences."""
    prefs = addon_preferences(context)
    if prefs.body_model == "anny":
        return ["--body", "anny"]
    if not prefs.smplx_folder:
        raise JobError("SMPL-X needs your model files: set their folder in the add-on's preferences.")
    args = ["--body", "smplx", "--model-folder", bpy.path.abspath(prefs.smplx_folder), "--gender", prefs.smplx_gender]
    return args + (["--vposer", bpy.path.abspath(prefs.vposer)] if prefs.vposer else [])


def bridge_interpreter(context) -> str:
    """The interpreter for a job, or a JobError that tells the artist what to do."""
    path, _ = interpreter(context)
    if not path:
        raise JobError("No Python for the bridge: Preferences > Add-ons > Golden Score > Create environment.")
    return path


class GoldenScorePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    interpreter: StringProperty(
        name="Bridge Python", subtype="FILE_PATH",
        description="Python with the bridge's dependencies (torch, anny, ...); empty: the environment "
                    "`python build.py` made, else the one created here")
    body_model: EnumProperty(
        name="Body model",
        items=[("anny", "Anny", "Free parametric body (Apache-2.0 code, CC0 assets): results may be sold"),
               ("smplx", "SMPL-X", "Your own SMPL-X model files (non-commercial research licence)")])
    smplx_folder: StringProperty(name="SMPL-X models", subtype="DIR_PATH",
                                 description="The folder holding SMPLX_NEUTRAL.npz (and _MALE, _FEMALE)")
    smplx_gender: EnumProperty(name="Gender", default="neutral",
                               items=[("neutral", "Neutral", ""), ("male", "Male", ""), ("female", "Female", "")])
    vposer: StringProperty(name="VPoser checkpoint", subtype="FILE_PATH",
                           description="Optional: a VPoser 2 checkpoint as the SMPL-X pose prior")
    device: EnumProperty(
        name="Device", default="auto",
        items=[("auto", "Auto", "CUDA when the bridge finds a GPU, else the CPU"),
               ("cpu", "CPU", "Always the CPU"),
               ("cuda", "CUDA", "An NVIDIA GPU")])
    bridge_versions: StringProperty(name="Bridge versions", description="What the last bridge test reported")
    start_with_photo: BoolProperty(
        name="Start the bridge with the photo", default=True,
        description="Start the bridge in the background when a photo is imported, so that the first Detect "
                    "finds it loaded (it exits after 10 minutes without a job)")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "interpreter")
        path, source = interpreter(context)
        layout.label(text=f"Using: {path or '-'} ({source})", icon="CONSOLE")
        row = layout.row()
        row.operator(GS_OT_create_environment.bl_idname, icon="IMPORT")
        row.operator(GS_OT_test_bridge.bl_idname, icon="CHECKMARK")
        if self.bridge_versions:
            layout.label(text=self.bridge_versions)
        layout.prop(self, "body_model")
        if self.body_model == "smplx":
            layout.prop(self, "smplx_folder")
            layout.prop(self, "smplx_gender")
            layout.prop(self, "vposer")
        layout.prop(self, "device")
        layout.prop(self, "start_with_photo")


class GS_OT_create_environment(BridgeOperator, bpy.types.Operator):
    """Create or repair a Python environment for the bridge in the extension's user folder
    (downloads torch and the body model: several minutes and a few GB)"""

    bl_idname = "golden_score.create_environment"
    bl_label = "Create Environment"
    bl_options = {"REGISTER"}

    def make_job(self, context):
        env = user_dir("env")
        python = str(environment_python())
        return Job("Creating the bridge environment", [
            ("creating the environment", [sys.executable, "-m", "venv", str(env)]),
            ("updating pip", [python, "-m", "pip", "install", "--upgrade", "pip"]),
            ("installing the bridge's packages", [python, "-m", "pip", "install", "-r", str(requirements_file())]),
            ("building the body model cache", bridge_command(python, "warmup")),
        ], cwd=bridge_home(), env=bridge_environment(), log_folder=logs_folder())

    def build(self, context, job):
        self.report({"INFO"}, f"Bridge environment ready: {environment_python()}")


class GS_OT_test_bridge(BridgeOperator, bpy.types.Operator):
    """Start the bridge once and show the versions it reports"""

    bl_idname = "golden_score.test_bridge"
    bl_label = "Test the Bridge"
    bl_options = {"REGISTER"}

    def make_job(self, context):
        return Job("Testing the bridge", [("asking for versions", bridge_command(bridge_interpreter(context), "info"))],
                   cwd=bridge_home(), env=bridge_environment(), log_folder=logs_folder())

    def on_message(self, context, message):
        if message["type"] == "info":
            self.info = message

    def build(self, context, job):
        info = getattr(self, "info", None)
        if info is None:
            raise JobError("the bridge sent no versions")
        versions = {"bridge": info.get("bridge"), "python": info.get("python"), **info.get("packages", {})}
        renderers = ", ".join(f"{name}: {state}" for name, state in info.get("renderer", {}).items())
        text = " · ".join(f"{name} {version}" for name, version in versions.items() if version)
        addon_preferences(context).bridge_versions = f"{text} · renderer {renderers}"
        self.report({"INFO"}, addon_preferences(context).bridge_versions)


classes = (GoldenScorePreferences, GS_OT_create_environment, GS_OT_test_bridge)
register, unregister = bpy.utils.register_classes_factory(classes)
