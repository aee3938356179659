"""`python -m bridge ...`: the headless main job, and what the add-on starts."""
from __future__ import annotations

import argparse
import signal
import sys

from .errors import BridgeError
from .progress import Reporter


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bridge", description="Golden Score bridge")
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
    rec.add_argument("--focal-35mm", type=float, help="35 mm-equivalent focal length (default: EXIF, else 50)")
    rec.add_argument("--body", default="anny", help="body model (default: anny)")
    rec.add_argument("--events", action="store_true", help="JSON-line events on stdout instead of a bar")
    commands.add_parser("warmup", help="build the body model cache once")
    return parser


def _rect(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"'{text}' is not four numbers X0,Y0,X1,Y1")
    return values


def _stop_on_terminate(signum, frame):
    """A client stopping the bridge (Esc in Blender) ends the job like Ctrl+C: cleanly, nothing half-written."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_terminate)
    if args.command == "warmup":
        from .body import load_body_model

        load_body_model("anny")
        print("body model cache ready", file=sys.stderr)
        return 0
    reporter = Reporter(job="reconstruct", events=args.events)
    try:
        from .reconstruct import reconstruct

        from .fighters import FighterHints

        hints = {role: FighterHints(getattr(args, f"{role}_rect"), getattr(args, f"{role}_strokes"))
                 for role in ("tori", "uke")
                 if getattr(args, f"{role}_rect") is not None or getattr(args, f"{role}_strokes") is not None}
        people = 2 if args.uke_photo else args.people
        report = reconstruct(args.photo, args.out, people=people, keypoints_file=args.keypoints,
                             focal_35mm=args.focal_35mm, body_name=args.body, hints=hints, uke_photo=args.uke_photo,
                             grips=not args.no_grips, reporter=reporter)
    except BridgeError as err:
        reporter.error(err.code, err.message, err.hint)
        print(err.line(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        reporter.error("cancelled", "Cancelled.", "")
        print("error: cancelled; nothing was written.", file=sys.stderr)
        return 130
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.events:
        print(f"done: result in {args.out} (fit error {report.keypoint_error_px:.1f} px; see overlay.png)",
              file=sys.stderr)
    return 0
