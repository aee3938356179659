"""Fit and Refine: the operators that run the bridge on the scene's photo and fighters.

Detect and Fit run `bridge reconstruct`; Refine and Resolve Contact copy the scene's result
folder, add the artist's current pose (artist_pose_<role>.npz) and let the bridge rewrite the
copy. Every job writes a new folder, so undo can return to the result an earlier scene used.
All four run in the session's warm bridge (bridge_client.WorkerJob). Fit after Detect starts
from the fighters' current pose and refits only those whose keypoints, box or strokes changed
since they were last fitted (INPUTS_PROP holds what they were).
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import bpy
import numpy as np

from ..bridge_client import JobError, WorkerJob, bridge_environment
from ..operator_base import BridgeOperator, logs_folder
from ..coordinates import focal_35mm, pixels
from ..fighters.build import ROLE_PROP, fighter_armatures
from ..fighters.guides import box_rect, guide_keypoints, stroke_image, write_keypoint_file, write_stroke_file
from ..fighters.pose import write_artist_poses
from ..fighters.scene import apply_result
from ..locations import bridge_home
from ..preferences import addon_preferences, body_arguments, bridge_interpreter
from ..properties import ROLES, photo_ready, settings
from ..results import FORMAT, copy_result, new_result_folder

PREVIEW_IMAGE = "Golden Score preview"


def _has_result(context) -> bool:
    state = settings(context)
    return photo_ready(context) and bool(fighter_armatures(context.scene)) and \
        Path(state.result_dir, FORMAT.SCENE_JSON).is_file()


def _bridge_job(context, title: str, *args: str, start: dict | None = None) -> WorkerJob:
    return WorkerJob(title, bridge_interpreter(context), list(args), cwd=bridge_home(), env=bridge_environment(),
                     log_folder=logs_folder(), start=start)


INPUTS_PROP = "golden_score_inputs"  # on a fighter's armature: a digest of the guides it was fitted to
MASK_INPUTS_PROP = "golden_score_mask_inputs"  # ... and of its box and strokes (what its mask was cut for)


def inputs_digest(context, role: str, keypoints: bool = True) -> str:
    """A digest of what the artist gives Fit for `role`: keypoint empties (unless not
    `keypoints`), box and strokes."""
    state, scene = settings(context), context.scene
    digest = hashlib.sha1()
    guides = guide_keypoints(scene, state.camera, role) if keypoints else None
    if guides is not None:
        for array in guides:
            digest.update(np.round(np.asarray(array, dtype=np.float64), 1).tobytes())
    rect = box_rect(scene, state.camera, role)
    digest.update(repr(None if rect is None else [round(v, 1) for v in rect]).encode())
    strokes = stroke_image(state.photo, role)
    if strokes is not None:
        paint = np.empty(len(strokes.pixels), dtype=np.float32)
        strokes.pixels.foreach_get(paint)
        digest.update(paint.tobytes())
    return digest.hexdigest()


def remember_inputs(context, roles) -> None:
    armatures = fighter_armatures(context.scene)
    for role in roles:
        if role in armatures:
            armatures[role][INPUTS_PROP] = inputs_digest(context, role)
            armatures[role][MASK_INPUTS_PROP] = inputs_digest(context, role, keypoints=False)


def changed_fighters(context, roles) -> list[str]:
    """The fighters among `roles` whose keypoints, box or strokes differ from their last fit."""
    armatures = fighter_armatures(context.scene)
    return [r for r in roles if r not in armatures or armatures[r].get(INPUTS_PROP) != inputs_digest(context, r)]


def same_mask_inputs(context, roles) -> list[str]:
    """The fighters among `roles` whose box and strokes are those of their last fit: the bridge
    may keep their masks."""
    armatures = fighter_armatures(context.scene)
    return [r for r in roles if r in armatures and
            armatures[r].get(MASK_INPUTS_PROP) == inputs_digest(context, r, keypoints=False)]


def _inputs_folder(out: Path) -> Path:
    """Where the artist's keypoints and strokes go for a job writing `out` (which the bridge
    replaces as a whole)."""
    folder = out.with_name(out.name + "-input")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class _ReconstructOperator(BridgeOperator):
    """Runs `bridge reconstruct` on the photo with the artist's boxes and strokes."""

    use_keypoint_guides = False
    build_guides = False

    @classmethod
    def poll(cls, context):
        return BridgeOperator.poll(context) and photo_ready(context)

    def make_job(self, context):
        state, scene = settings(context), context.scene
        photo = Path(bpy.path.abspath(state.photo_path))
        if not photo.is_file():
            raise JobError(f"The photo file {photo} is missing; import the photo again.")
        body = body_arguments(context)  # may refuse: before any folder is made
        self.out = new_result_folder(photo.name)
        self.inputs = inputs = _inputs_folder(self.out)
        args = ["reconstruct", str(photo), "--out", str(self.out), "--people", str(state.people),
                "--focal-35mm", f"{focal_35mm(state.camera.data, scene):.4f}", *body]
        roles = ROLES[:state.people]
        for role in roles:
            rect = box_rect(scene, state.camera, role)
            if rect is not None:
                args.append(f"--{role}-rect={','.join(f'{v:.1f}' for v in rect)}")
            strokes = stroke_image(state.photo, role)
            if strokes is not None and write_stroke_file(strokes, inputs / f"{role}_strokes.png"):
                args += [f"--{role}-strokes", str(inputs / f"{role}_strokes.png")]
        start = None
        self.refit = None
        if self.use_keypoint_guides:
            people = [guide_keypoints(scene, state.camera, role) for role in roles]
            if any(person is None for person in people):
                raise JobError("Detect the fighters first: Fit starts from their keypoints.")
            write_keypoint_file(inputs / "keypoints.json", people)
            args += ["--keypoints", str(inputs / "keypoints.json")]
            armatures = fighter_armatures(scene)
            if _has_result(context) and set(armatures) == set(roles):
                # From the artist's pose, refitting only what changed (the chosen fighter, or
                # those whose guides moved; all when nothing did: Fit was asked for).
                chosen = roles if state.fighters == "BOTH" else [state.fighters]
                self.refit = changed_fighters(context, chosen) or list(chosen)
                write_artist_poses(inputs, armatures, state.camera)
                start = {"result": str(Path(state.result_dir)), "poses": str(inputs), "roles": self.refit,
                         "masks": same_mask_inputs(context, roles)}
        return _bridge_job(context, self.bl_label, *args, start=start)

    def build(self, context, job):
        shutil.rmtree(self.inputs, ignore_errors=True)
        chosen = settings(context).fighters  # Fit may rebuild one fighter; Detect starts over with all
        only = None if chosen == "BOTH" or self.build_guides else [chosen]
        if getattr(self, "refit", None):
            only = self.refit  # the others were kept as they are
        roles = apply_result(context, self.out, only, guides=self.build_guides)
        context.view_layer.update()  # new guides' matrix_world is stale until then: the digests read it
        remember_inputs(context, roles)
        warnings = (job.result or {}).get("warnings") or []
        self.report({"WARNING"} if warnings else {"INFO"},
                    "; ".join(warnings) or f"Built {' and '.join(roles)} from {self.out.name}")

    def discard(self, context, job):
        shutil.rmtree(self.inputs, ignore_errors=True)
        shutil.rmtree(self.out, ignore_errors=True)


class GS_OT_detect_fighters(_ReconstructOperator, bpy.types.Operator):
    """Find the fighters in the photo, fit a body to each and show their keypoints over the photo"""

    bl_idname = "golden_score.detect_fighters"
    bl_label = "Detect Fighters"
    bl_options = {"REGISTER", "UNDO"}
    build_guides = True


class GS_OT_fit_fighters(_ReconstructOperator, bpy.types.Operator):
    """Fit the bodies again to the keypoints as you placed them (and the boxes and strokes)"""

    bl_idname = "golden_score.fit_fighters"
    bl_label = "Fit"
    bl_options = {"REGISTER", "UNDO"}
    use_keypoint_guides = True


def refine_crop(context) -> tuple[float, float, float, float]:
    """The part of the photo (pixels) that "the camera sees": the photo camera's render border,
    or what another active camera frames at the fighters' distance."""
    scene, state = context.scene, settings(context)
    width, height = scene.render.resolution_x, scene.render.resolution_y
    render = scene.render
    if scene.camera == state.camera:
        if not render.use_border:
            raise JobError("Frame the part to refine: a render border (Ctrl+B in camera view) or another camera.")
        return (render.border_min_x * width, (1 - render.border_max_y) * height,
                render.border_max_x * width, (1 - render.border_min_y) * height)
    view = scene.camera
    centres = [np.array(a.matrix_world.translation) for a in fighter_armatures(scene).values()]
    distance = np.linalg.norm(np.mean(centres, axis=0) - np.array(view.matrix_world.translation))
    corners = []
    for corner in view.data.view_frame(scene=scene):
        corners.append(view.matrix_world @ (corner * (distance / -corner.z)))
    seen = pixels(state.camera, scene, corners)
    x0, y0 = np.clip(seen.min(axis=0), 0, [width, height])
    x1, y1 = np.clip(seen.max(axis=0), 0, [width, height])
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise JobError("The active camera does not look at the photo's fighters.")
    return float(x0), float(y0), float(x1), float(y1)


def show_preview(context, path: str, open_window: bool) -> None:
    """The bridge's latest comparison (rendering, photo, error) in the image editors."""
    image = bpy.data.images.get(PREVIEW_IMAGE)
    if image is None:
        image = bpy.data.images.load(path)
        image.name = PREVIEW_IMAGE
    else:
        image.filepath = path
        image.reload()
    if bpy.app.background:
        return
    editors = [area for window in context.window_manager.windows for area in window.screen.areas
               if area.type == "IMAGE_EDITOR"]
    if not editors and open_window:
        bpy.ops.render.view_show("INVOKE_DEFAULT")  # Blender's render window: an image editor
        editors = [area for window in context.window_manager.windows for area in window.screen.areas
                   if area.type == "IMAGE_EDITOR"]
    for area in editors:
        area.spaces.active.image = image


class _SceneJobOperator(BridgeOperator):
    """A bridge command that rewrites a copy of the scene's result, starting from the artist's pose."""

    @classmethod
    def poll(cls, context):
        return BridgeOperator.poll(context) and _has_result(context)

    def command(self, context) -> list[str]:
        """The bridge subcommand and its options (the result folder goes between them)."""
        raise NotImplementedError

    def make_job(self, context):
        state = settings(context)
        if context.mode != "OBJECT" and context.mode != "POSE":
            raise JobError("Leave Edit Mode first.")
        armatures = fighter_armatures(context.scene)
        subcommand, *options = self.command(context)  # checks the artist's choices before copying anything
        self.out = copy_result(state.result_dir)
        write_artist_poses(self.out, armatures, state.camera)
        return _bridge_job(context, self.bl_label, subcommand, str(self.out), *options)

    def on_message(self, context, message):
        if message.get("preview"):
            show_preview(context, message["preview"], open_window=not getattr(self, "_preview_open", False))
            self._preview_open = True

    def build(self, context, job):
        apply_result(context, self.out, self.roles)
        self.report({"INFO"}, f"{self.bl_label}: done ({', '.join(self.roles)})")

    def discard(self, context, job):
        shutil.rmtree(self.out, ignore_errors=True)


class GS_OT_refine(_SceneJobOperator, bpy.types.Operator):
    """Refine the fighters' pose against the photo by differentiable rendering, starting from
    their current pose"""

    bl_idname = "golden_score.refine"
    bl_label = "Refine"
    bl_options = {"REGISTER", "UNDO"}

    def command(self, context):
        state = settings(context)
        present = set(fighter_armatures(context.scene))
        self.roles = [r for r in ROLES if r in present and state.fighters in ("BOTH", r)]
        args = ["refine", "--iterations", str(state.iterations), "--prior-weight", f"{state.prior_weight:g}",
                "--device", addon_preferences(context).device]
        if state.refine_target == "CAMERA":
            args += ["--crop", ",".join(f"{v:.1f}" for v in refine_crop(context))]
        elif state.refine_target == "PART":
            args += ["--part", state.part]
        elif state.refine_target == "BONES":
            bones = context.selected_pose_bones or []
            if not bones:
                raise JobError("Select the bones to refine in Pose Mode.")
            self.roles = sorted({bone.id_data[ROLE_PROP] for bone in bones if ROLE_PROP in bone.id_data},
                                key=ROLES.index)
            args += ["--bones", ",".join(bone.name for bone in bones)]
        if not self.roles:
            raise JobError(f"There is no {state.fighters} in this scene to refine.")
        return args + ["--roles", ",".join(self.roles)]


class GS_OT_resolve_contact(_SceneJobOperator, bpy.types.Operator):
    """Push the two fighters out of each other and into contact where they touch in the photo,
    starting from their current pose"""

    bl_idname = "golden_score.resolve_contact"
    bl_label = "Resolve Contact"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _SceneJobOperator.poll(context) and len(fighter_armatures(context.scene)) == 2

    def command(self, context):
        self.roles = list(ROLES)
        return ["resolve-contact"]


classes = (GS_OT_detect_fighters, GS_OT_fit_fighters, GS_OT_refine, GS_OT_resolve_contact)
register, unregister = bpy.utils.register_classes_factory(classes)
