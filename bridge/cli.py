"""`python -m bridge ...`: the headless main job, and what the add-on starts."""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
import signal
import sys

from . import messages
from .errors import BridgeError
from .progress import Reporter
from .refinement.settings import RefineSettings as RefineDefaults


class ArgumentError(Exception):
    """A command line argparse refused; main reports it like any other error (exit 2)."""

    def __init__(self, message: str, usage: str):
        super().__init__(message)
        self.message = message
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting, so that one `error:` line (or one
    `error` event with --events) reports a bad argument like every other failure."""

    def error(self, message):
        raise ArgumentError(message, self.format_usage())


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bridge", description="Golden Score bridge")
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("reconstruct", help="fit bodies to the fighters in a photo")
    rec.add_argument("photo", help="JPEG or PNG photo")
    rec.add_argument("--out", required=True, help="result folder (replaced as a whole when done)")
    rec.add_argument("--people", type=int, default=1, choices=(1, 2), help="fighters in the photo (default 1)")
    rec.add_argument("--keypoints", help="OpenPose BODY_25 or COCO keypoint JSON to use instead of the detector")
    for role in ("tori", "uke"):
        rec.add_argument(f"--{role}-rect", type=_rect, metavar="X0,Y0,X1,Y1", help=f"box around {role}, in pixels")
        rec.add_argument(f"--{role}-strokes", metavar="PNG", help=f"stroke file that steers {role}'s isolation")
    rec.add_argument("--uke-photo", help="a second photo holding uke alone (tori is in PHOTO); placed touching")
    rec.add_argument("--no-grips", action="store_true", help="do not hold hands that overlap the other fighter on it")
    rec.add_argument("--focal-35mm", type=_finite, help="35 mm-equivalent focal length (default: EXIF, else 50)")
    rec.add_argument("--body", default="anny", help="body model: anny (default) or smplx (your own SMPL-X files)")
    rec.add_argument("--model-folder", help="--body smplx: the folder holding SMPLX_NEUTRAL.npz (and _MALE, _FEMALE)")
    rec.add_argument("--gender", choices=("neutral", "male", "female"), help="--body smplx: which model (default neutral)")
    rec.add_argument("--vposer", metavar="CKPT", help="--body smplx: a VPoser 2 checkpoint to use as the pose prior")
    rec.add_argument("--refine", type=int, default=0, metavar="N",
                     help="then refine by differentiable rendering for N iterations (needs Mitsuba)")
    rec.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                     help="where refinement renders (auto: an NVIDIA GPU when there is one)")
    rec.add_argument("--events", action="store_true", help="JSON-line events on stdout instead of a bar")

    ref = commands.add_parser("refine", help="refine a result's poses against its photo by differentiable rendering")
    ref.add_argument("scene", help="result folder written by reconstruct (replaced as a whole when done)")
    ref.add_argument("--out", help="write the refined result to this folder instead")
    ref.add_argument("--iterations", type=int, default=RefineDefaults.iterations, help="optimisation steps per fighter")
    ref.add_argument("--roles", type=_names, metavar="tori,uke", help="fighters to refine (default: all)")
    ref.add_argument("--part", help="only this part moves and counts: legs, arms, torso or head")
    ref.add_argument("--bones", type=_names, metavar="NAME,...", help="only these bones move (the armature's names)")
    ref.add_argument("--crop", type=_rect, metavar="X0,Y0,X1,Y1",
                     help="refine what a camera framing this window of the photo sees; nothing outside counts")
    ref.add_argument("--prior-weight", type=_finite, default=RefineDefaults.prior_weight,
                     help="how strongly the pose stays where it started")
    ref.add_argument("--rgb-weight", type=_finite, default=RefineDefaults.rgb_weight,
                     help="weight of the photo-colour (RGB L2) loss; 0 renders the silhouette only")
    ref.add_argument("--resolution", type=int, default=RefineDefaults.resolution,
                     help="rendered pixels along the longer side")
    ref.add_argument("--shape", action="store_true", help="let the body's shape change too")
    ref.add_argument("--raw-vertices", action="store_true",
                     help="move the mesh's vertices instead of the pose (the paper's first experiment)")
    ref.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to render")
    ref.add_argument("--events", action="store_true", help="JSON-line events on stdout instead of a bar")
    contact = commands.add_parser("resolve-contact", help="move two fighters apart where they pass through each other")
    contact.add_argument("scene", help="result folder with two fighters (replaced as a whole when done)")
    contact.add_argument("--out", help="write the result to this folder instead")
    contact.add_argument("--steps", type=int, default=messages.CONTACT_STEPS, help="optimisation steps")
    contact.add_argument("--events", action="store_true", help="JSON-line events on stdout instead of a bar")
    commands.add_parser("info", help="versions and which renderers work, as one JSON line")
    commands.add_parser("warmup", help="build the body model cache once")
    serve = commands.add_parser("serve", help="a warm worker: jobs as JSON lines on stdin, events on stdout")
    serve.add_argument("--idle-timeout", type=_finite, default=600.0, metavar="S",
                       help="exit after S seconds without a job (default 600)")
    return parser


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _rect(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"'{text}' is not four finite numbers X0,Y0,X1,Y1")
    return values


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def _stop_on_terminate(signum, frame):
    """A client stopping the bridge (Esc in Blender) ends the job like Ctrl+C: cleanly, nothing half-written."""
    raise KeyboardInterrupt


def _refine_settings(args):
    import dataclasses

    return dataclasses.replace(RefineDefaults(), iterations=args.iterations, prior_weight=args.prior_weight,
                               rgb_weight=args.rgb_weight, resolution=args.resolution, shape=args.shape,
                               raw_vertices=args.raw_vertices)


def _hints(args) -> dict:
    from .detection.fighters import FighterHints

    return {role: FighterHints(getattr(args, f"{role}_rect"), getattr(args, f"{role}_strokes"))
            for role in ("tori", "uke")
            if getattr(args, f"{role}_rect") is not None or getattr(args, f"{role}_strokes") is not None}


def check_arguments(args) -> None:
    """The parsed arguments' values checked before any job starts (a BridgeError saying which and
    the range); the jobs check the same for library callers (bridge.jobs.arguments)."""
    from .jobs import arguments

    if args.command == "reconstruct":
        arguments.check_reconstruct_arguments(2 if args.uke_photo else args.people, args.focal_35mm, _hints(args),
                                              args.refine, args.device)
    elif args.command == "refine":
        arguments.check_refine_arguments(_refine_settings(args), args.crop, args.device)
    elif args.command == "resolve-contact":
        arguments.check_steps(args.steps)


def _command_of(argv: list[str]) -> str:
    return next((a for a in argv if a in ("reconstruct", "refine", "resolve-contact", "info", "warmup")), "bridge")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    events = "--events" in argv
    try:
        args = _parser().parse_args(argv)
        check_arguments(args)
    except ArgumentError as err:
        command = _command_of(argv)
        hint = f"See python -m bridge {'' if command == 'bridge' else command + ' '}--help."
        if err.message.endswith("expected one argument"):  # argparse reads a value starting with - as an option
            hint = "A value starting with - is written --option=VALUE. " + hint
        if events:
            Reporter(job=command, events=True).error("bad_argument", err.message, hint)
        else:
            sys.stderr.write(err.usage)
        print(f"error: {err.message}. {hint}", file=sys.stderr)
        return 2
    except BridgeError as err:
        if events:
            Reporter(job=args.command, events=True).error(err.code, err.message, err.hint)
        print(err.line(), file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop_on_terminate)
    if args.command == "serve":
        from .serve import serve

        return serve(sys.modules[__name__], args.idle_timeout)
    if args.command == "warmup":
        from .body import load_body_model

        load_body_model("anny")
        print("body model cache ready", file=sys.stderr)
        return 0
    if args.command == "info":
        from .info import bridge_info

        print(json.dumps(bridge_info()))
        return 0
    reporter = Reporter(job=args.command, events=args.events)
    try:
        jobs = {"reconstruct": _reconstruct, "refine": _refine, "resolve-contact": _resolve_contact}
        done = jobs[args.command](args, reporter)
    except BridgeError as err:
        reporter.error(err.code, err.message, err.hint)
        print(err.line(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        reporter.error("cancelled", "Cancelled.", "")
        print("error: cancelled; nothing was written.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: still one line (and one event), never a traceback
        message = f"Internal error: {type(exc).__name__}: {exc}"
        reporter.error("internal", message, "Please report it with the command you ran.")
        print(f"error: {message}. Nothing was written; please report it with the command you ran.", file=sys.stderr)
        return 1
    for warning in done.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.events:
        print(done.line, file=sys.stderr)
    return 0


@dataclass
class _Done:
    """What a finished job tells the person at the terminal."""

    line: str
    warnings: list[str]


def _reconstruct(args, reporter) -> _Done:
    from .jobs.reconstruct import reconstruct

    hints = _hints(args)
    people = 2 if args.uke_photo else args.people
    report = reconstruct(args.photo, args.out, people=people, keypoints_file=args.keypoints,
                         focal_35mm=args.focal_35mm, body_name=args.body,
                         body_options={"model_folder": args.model_folder, "gender": args.gender,
                                       "vposer": args.vposer},
                         hints=hints, uke_photo=args.uke_photo,
                         grips=not args.no_grips, reporter=reporter,
                         refine_iterations=args.refine, device=args.device)
    refined = " and refined" if args.refine else ""
    return _Done(f"done: fitted{refined}; result in {args.out} (fit error {report.keypoint_error_px:.1f} px; "
                 "see overlay.png)", report.warnings)


def _refine(args, reporter) -> _Done:
    from .jobs.refine_job import refine_scene

    settings = _refine_settings(args)
    report = refine_scene(args.scene, args.out, roles=args.roles, part=args.part, bones=args.bones, window=args.crop,
                          settings=settings, device=args.device, reporter=reporter)
    changes = "; ".join(f"{role}: silhouette error {s.silhouette_error[0]:.3f} -> {s.silhouette_error[1]:.3f}, "
                        f"{s.iterations_per_second:.1f} it/s" for role, s in report.stats.items())
    return _Done(f"done: refined; result in {args.out or args.scene} ({changes})", report.warnings)


def _resolve_contact(args, reporter) -> _Done:
    from .jobs.contact_job import resolve_contact_scene

    report = resolve_contact_scene(args.scene, args.out, steps=args.steps, reporter=reporter)
    return _Done(f"done: contact resolved; result in {args.out or args.scene}", report.warnings)
