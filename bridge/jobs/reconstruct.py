"""The main job: a photo in, one or two fitted fighters and a result folder out."""
from __future__ import annotations

import contextlib
import dataclasses
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..detection.fighters import Fighter, FighterHints, find_fighters
from ..geometry.camera import DEFAULT_FOCAL_35MM, LEVEL_WORLD_FROM_CAMERA, intrinsics
from ..imaging.photo import load_photo
from ..progress import Reporter
from ..refinement.settings import RefineSettings
from ..result.format import FOCAL_35MM_RANGE
from ..result.store import SceneResult, check_out_folder
from .arguments import check_reconstruct_arguments

# torch, roma (which imports torch._dynamo) and the body model take seconds to import on a cold
# start: they are imported inside the functions, after the job's first progress event, so the
# artist sees the job start at once (docs/decisions.md, "Warm bridge").


def _default_fit_settings():
    from ..fitting.fit import FitSettings

    return FitSettings()


@dataclass
class ReconstructOptions:
    """Everything `reconstruct` can be told besides the photo and the output folder."""

    people: int = 1  # 1 or 2
    keypoints_file: str | Path | None = None  # OpenPose or COCO JSON instead of the detector
    focal_35mm: float | None = None  # else EXIF, else DEFAULT_FOCAL_35MM
    body_name: str = "anny"
    body_options: dict = field(default_factory=dict)  # load_body_model's: SMPL-X folder, gender, VPoser
    hints: dict[str, FighterHints] = field(default_factory=dict)  # the artist's rectangles and strokes
    uke_photo: str | Path | None = None  # a second photo, of uke alone
    grips: bool = True
    settings: "FitSettings | None" = None  # bridge.fitting.fit's; None: its defaults
    refine_iterations: int = 0
    device: str = "auto"
    # Fit from the artist's edits (the warm bridge's `start`): role -> parameters (shape, pose,
    # transl) to fit from, and the roles to fit; the other fighters keep their start as it is.
    start: dict | None = None
    refit: list[str] | None = None
    # role -> detection.fighters.KnownMask: masks of the result a warm Fit starts from, kept
    # while the role's box, strokes and keypoints stay as they were.
    known_masks: dict | None = None


@dataclass
class ReconstructReport:
    paths: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    keypoint_error_px: float = float("nan")  # mean over the fighters
    peak_memory_mb: float = 0.0
    warnings: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    front: str | None = None


@contextlib.contextmanager
def _timed(seconds: dict[str, float], stage: str):
    """Add the time spent in the block to seconds[stage] (the report and the benchmark)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start


def _camera(photo, focal_35mm, warnings):
    exif = photo.focal_35mm
    if exif is not None and not FOCAL_35MM_RANGE[0] <= exif <= FOCAL_35MM_RANGE[1]:
        warnings.append(f"{Path(photo.path).name} gives a focal length of {exif:g} mm in its EXIF, outside "
                        f"{FOCAL_35MM_RANGE[0]:g}-{FOCAL_35MM_RANGE[1]:g} mm; it was ignored (give --focal-35mm).")
        exif = None
    focal = focal_35mm if focal_35mm is not None else exif or DEFAULT_FOCAL_35MM
    if focal_35mm is None and exif is None:
        warnings.append(f"{Path(photo.path).name} has no focal length in its EXIF; assumed "
                        f"{DEFAULT_FOCAL_35MM:g} mm (35 mm equivalent).")
    return intrinsics(photo.width, photo.height, focal), focal


# How far two fitted bodies may pass into each other before the artist is told (issue 4's figure).
OVERLAP_WARNING_M = 0.01
# The check tries at most this many doubtful vertices per body (spread evenly; about 0.3 s): a
# pass deeper than the warning's centimetre spans many vertices and still shows, and a warm Fit
# does not wait seconds on bodies deep in each other (docs/decisions.md, "Warm bridge").
OVERLAP_CHECK_POINTS = 30


def still_overlapping(fits, faces) -> list[str]:
    """A warning where the joint stage left the two bodies passing into each other. Why: it
    separates bodies that touch, not two fits of one blended detection (a copy of seoi-nage at
    twice the size came out 4.6 cm deep), and the artist should hear of it before posing."""
    from ..geometry.penetration import interpenetration_m

    vertices = [fit.output.vertices[0].numpy().astype(float) for fit in fits]
    depth = interpenetration_m(vertices[0], vertices[1], faces, most=OVERLAP_CHECK_POINTS)
    if depth <= OVERLAP_WARNING_M:
        return []
    return [f"The two fitted bodies still pass {100 * depth:.1f} cm into each other: the detector may have mixed "
            "the fighters up. Check the overlay; draw --tori-rect and --uke-rect, or use Resolve Contact in Blender "
            "(python -m bridge resolve-contact DIR)."]


def reconstruct(photo_path, out_dir, people: int = 1, reporter: Reporter | None = None, should_stop=None,
                **options) -> ReconstructReport:
    """Find, fit and write the fighters of `photo_path` (`people` of them: 1 or 2); `options`
    are ReconstructOptions' fields.

    With `uke_photo`, tori comes from the first photo and uke from the second, each fitted in
    its own camera, and uke is placed beside tori in the first photo's camera, touching. The
    body is loaded before detection, so wrong model files are reported at once."""
    reporter = reporter or Reporter()
    opts = ReconstructOptions(people=people, **options)
    check_reconstruct_arguments(opts.people, opts.focal_35mm, opts.hints, opts.refine_iterations, opts.device)
    inputs = [photo_path, opts.uke_photo, opts.keypoints_file, *(h.strokes for h in opts.hints.values())]
    check_out_folder(out_dir, inputs)  # before any work: nothing of the user's may be replaced
    reporter.progress("load", 0, 1)  # before the fitting stack is imported: the job shows at once
    seconds: dict[str, float] = {}
    warnings: list[str] = []
    with _timed(seconds, "load"):
        photo = load_photo(photo_path)
        second = load_photo(opts.uke_photo) if opts.uke_photo is not None else None
        reporter.progress("load", 1, 1)
    body = _Loading(opts)  # torch and the body model load while the detector runs
    K, focal = _camera(photo, opts.focal_35mm, warnings)
    fit_in = _fit_two_photos if second is not None else _fit_one_photo
    fighters, fits, shifts, extra = fit_in(photo, second, body, K, opts, seconds, warnings, reporter, should_stop)
    body = body.model()  # fit_in waited for it already

    from .assemble import fighter_arrays
    from .result_folder import write_scene

    with _timed(seconds, "write"):
        arrays = {f.role: fighter_arrays(body, fit.shape, fit.pose, fit.transl + shift, f.target.points,
                                         f.target.confidence, hypotheses=_shifted(fit.hypotheses, shift))
                  for f, fit, shift in zip(fighters, fits, shifts)}
        roles = [f.role for f in fighters]
        masks = {f.role: f.mask for f in fighters}
        scene = {
            "image": {"path": str(Path(photo_path).resolve()), "width": photo.width, "height": photo.height},
            "camera": {"K": K.tolist(), "world_from_camera": LEVEL_WORLD_FROM_CAMERA.tolist(), "focal_35mm": focal},
            "fighters": roles,
            "front": None,  # write_scene decides
            "body_model": body.describe(),
            "bridge_version": __version__,
            "fit": {"keypoint_error_px": {f.role: fit.keypoint_error_px for f, fit in zip(fighters, fits)}},
            "warnings": warnings,
            **extra,
        }
        result = SceneResult(Path(out_dir), scene, arrays, masks, {})
    states, record = {}, {}
    if opts.refine_iterations:
        from .refine_job import refine_result, stats_json  # the refinement stack (Mitsuba) only when asked for

        with _timed(seconds, "refine"):
            refine_settings = dataclasses.replace(RefineSettings(), iterations=opts.refine_iterations)
            states, stats, more = refine_result(result, photo, K, body, settings=refine_settings, device=opts.device,
                                                progress=reporter.progress, should_stop=should_stop)
            warnings += more
            record["refine"] = {role: stats_json(s) for role, s in stats.items()}
    with _timed(seconds, "write"):
        paths, written = write_scene(result, out_dir, photo, K, body, states, result.masks, record, inputs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    reporter.result(paths, warnings=warnings)
    error = float(np.mean([fit.keypoint_error_px for fit in fits]))
    return ReconstructReport(paths, seconds, error, peak, warnings, roles, written["front"])


class _Loading:
    """The body model, loaded on a daemon thread: on a cold start torch's import and the
    model's build overlap detection instead of preceding it
    (a daemon, so Ctrl+C is not held up by it). model() waits for it and raises its error. A
    body from the user's files (SMPL-X) is loaded here, at once: a wrong folder is reported
    before any detection runs."""

    def __init__(self, opts: ReconstructOptions):
        self.opts = opts
        self.done = threading.Event()
        self.body = self.error = None
        if opts.body_name == "anny" and not any(v is not None for v in opts.body_options.values()):
            threading.Thread(target=self._load, daemon=True, name="body-model").start()
        else:
            self._load()
            self.model()

    def _load(self) -> None:
        try:
            from ..body import load_body_model

            self.body = load_body_model(self.opts.body_name, **self.opts.body_options)
        except BaseException as exc:  # noqa: BLE001 - handed to the job's thread by model()
            self.error = exc
        finally:
            self.done.set()

    def model(self, seconds: dict[str, float] | None = None):
        with _timed(seconds if seconds is not None else {}, "model"):
            self.done.wait()
        if self.error is not None:
            raise self.error
        return self.body


def _ready(loading: _Loading, opts: ReconstructOptions, seconds: dict[str, float]):
    """The body model once loaded, and the default fit settings where none were given (both
    import torch, so not before detection)."""
    body = loading.model(seconds)
    if opts.settings is None:
        opts.settings = _default_fit_settings()
    return body


def _shifted(hypotheses, shift):
    """The ranked hypotheses moved with their fighter (uke placed beside tori from a second photo)."""
    return [dataclasses.replace(h, transl=h.transl + shift) for h in hypotheses]


def _fit_one_photo(photo, _second, body, K, opts: ReconstructOptions, seconds, warnings, reporter, should_stop):
    """One or two fighters found and fitted in one photo's camera (two: then together)."""
    with _timed(seconds, "detect"):
        fighters, found_warnings = find_fighters(photo, opts.people, opts.keypoints_file, opts.hints, reporter,
                                                 known_masks=opts.known_masks)
        warnings += found_warnings
    body = _ready(body, opts, seconds)  # torch is imported now (the body model's thread): the fitting stack after it
    import torch

    from ..fitting.fit import fit_people
    from ..fitting.pair import pair_terms

    faces = body.faces.numpy()
    targets = [f.target for f in fighters]
    with _timed(seconds, "fit"):
        def pair(separate):
            standing = [fit.output.vertices[0].numpy() for fit in separate]
            # A fit from the artist's edits keeps the placement (fit_people): no contact search.
            masks = None if opts.start else [f.mask for f in fighters]
            return pair_terms(standing, targets, faces, K, photo.width, photo.height, opts.grips, masks, photo.rgb)

        if opts.start:
            fits = _refit(body, fighters, K, max(photo.width, photo.height), opts, reporter, should_stop, pair)
        else:
            fits = fit_people(body, targets, K, max(photo.width, photo.height), opts.settings, reporter.progress,
                              should_stop, pair=pair)
        if len(fits) == 2:
            warnings += still_overlapping(fits, faces)
    return fighters, fits, [torch.zeros(3)] * len(fits), {}


def _fit_two_photos(photo, second, body, K, opts: ReconstructOptions, seconds, warnings, reporter, should_stop):
    """Tori from the first photo and uke from the second, each in its own camera; uke is then
    placed beside tori in the first photo's camera, touching. Masks are not kept: uke's is in
    another photo's pixels."""
    with _timed(seconds, "detect"):
        tori, found_warnings = find_fighters(photo, 1, opts.keypoints_file, None, reporter)
        uke, uke_warnings = find_fighters(second, 1, None, None, reporter)
        warnings += found_warnings + uke_warnings
    fighters = [Fighter(tori[0].role, tori[0].target, None), Fighter("uke", uke[0].target, None)]
    body = _ready(body, opts, seconds)
    import torch

    from ..fitting.fit import fit_people
    from ..fitting.placement import place_in_contact

    faces = body.faces.numpy()
    with _timed(seconds, "fit"):
        K_uke, _ = _camera(second, None, warnings)
        fits = [fit_people(body, [fighters[0].target], K, max(photo.width, photo.height), opts.settings,
                           reporter.progress, should_stop)[0],
                fit_people(body, [fighters[1].target], K_uke, max(second.width, second.height), opts.settings,
                           reporter.progress, should_stop)[0]]
        shift = torch.as_tensor(place_in_contact(fits[0].output.vertices[0].numpy(),
                                                 fits[1].output.vertices[0].numpy(), faces), dtype=torch.float32)
    photos = {"photos": {"tori": str(Path(photo.path).resolve()), "uke": str(Path(second.path).resolve())}}
    return fighters, fits, [torch.zeros(3), shift], photos


def _refit(body, fighters, K, image_size, opts: ReconstructOptions, reporter, should_stop, pair):
    """The fits of a Fit after the artist's edits: the fighters in `opts.refit` fitted from their
    start (the joint stage only when both are), the others kept where they start. A fighter
    without a start is fitted from scratch with the others that change."""
    import torch

    from ..fitting.fit import FitResult, fit_people
    from ..geometry.camera import project
    from ..metrics import keypoint_error_px

    refit = set(opts.refit if opts.refit is not None else [f.role for f in fighters])
    refit |= {f.role for f in fighters if f.role not in opts.start}
    changed = [i for i, f in enumerate(fighters) if f.role in refit]
    fits = [None] * len(fighters)
    if changed:
        starts = [opts.start.get(fighters[i].role) for i in changed]
        kept = [i for i in range(len(fighters)) if i not in changed]
        if len(changed) == 1 and len(kept) == 1 and starts[0] is not None:
            # One fighter refitted beside the other, which stays as it is but still keeps the
            # refitted one out of its body (the joint stage with the other fixed).
            fitted = fit_people(body, [f.target for f in fighters], K, image_size, opts.settings, reporter.progress,
                                should_stop, pair=pair, start=[opts.start[f.role] for f in fighters], fixed=kept)
            changed = list(range(len(fighters)))
        else:
            together = pair if len(changed) == 2 else None
            fitted = fit_people(body, [fighters[i].target for i in changed], K, image_size, opts.settings,
                                reporter.progress, should_stop, pair=together,
                                start=None if any(s is None for s in starts) else starts)
        for i, fit in zip(changed, fitted):
            fits[i] = fit
    K_t = torch.as_tensor(K, dtype=torch.float32)
    for i, fighter in enumerate(fighters):
        if fits[i] is not None:
            continue
        state = opts.start[fighter.role]
        shape, pose, transl = (torch.as_tensor(v, dtype=torch.float32) for v in (state.shape, state.pose,
                                                                                  state.transl))
        with torch.no_grad():
            out = body.forward(shape[None], pose[None], transl[None])
        pixels = project(K_t, out.keypoints)[0].numpy()
        error = keypoint_error_px(pixels, fighter.target.points, fighter.target.confidence > 0)
        fits[i] = FitResult(shape, pose, transl, out, error)
    reporter.progress("fit", 1, 1)
    return fits
