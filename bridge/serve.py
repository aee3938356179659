"""`python -m bridge serve`: a warm bridge. One process keeps the body model, the detector and
the imported fitting stack, and runs job after job that a client sends as JSON lines on stdin;
it answers in the message schema of bridge/messages.py (progress, result, error, each with the
request's `id`) on stdout. The protocol (README.md, "The warm bridge"):

    {"type": "job", "id": "fit-3", "argv": ["reconstruct", PHOTO, "--out", DIR, ...]}
    {"type": "job", "id": "fit-4", "argv": [...], "start": {"result": DIR, "poses": DIR, "roles": ["uke"],
                                                         "masks": ["tori", "uke"]}}
    {"type": "cancel", "id": "fit-4"}    (the id may be left out: the running job)
    {"type": "exit"}

`argv` is exactly what `python -m bridge` takes (reconstruct, refine, resolve-contact), read by
the CLI's own parser and checks; `--events` is implied. `start` (reconstruct only): fit from the
fighters of the result folder DIR (the artist's poses artist_pose_<role>.npz in `poses`, else
the result's own) instead of from scratch, and refit only `roles`; the others are kept. `masks`:
the fighters whose box and strokes did not change, whose masks in DIR are kept while their
keypoints stay near (detection.fighters.STILL_NEAR) instead of cutting them again.

One job at a time: a job sent while one runs is refused at once with an error event of code
`busy` (the client decides whether to wait). `cancel` stops the running job as Ctrl+C stops the
CLI: an error event `cancelled`, nothing written, and the worker stays. The worker exits on
stdin's end, on `exit`, on SIGTERM, and after `--idle-timeout` seconds without a job (it says
so first: {"type": "exit", "reason": "idle"}), so a forgotten worker does not hold memory.
"""
from __future__ import annotations

import json
import queue
import signal
import sys
import threading
import time
from pathlib import Path

from . import messages
from .errors import BridgeError
from .progress import Reporter

IDLE_TIMEOUT_S = 600.0
RENDERER_AFTER_IDLE_S = 2.0  # the artist looking at a result: time to warm the renderer
JOBS = ("reconstruct", "refine", "resolve-contact")


class Cancelled(Exception):
    """The running job was asked to stop."""


class _Output:
    """stdout shared by the job thread and the reader: one whole line at a time."""

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()

    def write(self, text: str) -> None:
        with self.lock:
            self.stream.write(text)

    def flush(self) -> None:
        with self.lock:
            self.stream.flush()

    def send(self, message: dict) -> None:
        with self.lock:
            self.stream.write(messages.encode(message) + "\n")
            self.stream.flush()


class _JobReporter(Reporter):
    """Events with the request's id; each progress also checks whether the job was cancelled, so
    a stage without its own should_stop (detection, writing) stops at its next report."""

    def __init__(self, job_id: str, out: _Output, stop: threading.Event):
        super().__init__(job=job_id, events=True, stream=out)
        self._stop = stop

    def progress(self, *args, **kwargs):
        if self._stop.is_set():
            raise Cancelled
        super().progress(*args, **kwargs)

    # The answer waits until the worker is free again (Worker._answer), so a client that sends
    # its next job as soon as it reads the answer is never told `busy`.
    def result(self, paths, **extra) -> None:
        self.final = messages.result(self.job, paths, **extra)

    def error(self, code, message, hint="") -> None:
        self.final = messages.error(self.job, code, message, hint)


class Worker:
    """The serve loop: a reader thread takes requests (and answers `busy` and `cancel` at once);
    the main thread runs the jobs one after another."""

    def __init__(self, cli, stdin=None, stdout=None, idle_timeout: float = IDLE_TIMEOUT_S, preload: bool = True):
        self.cli = cli  # bridge.cli, handed in (it imports this module): its parser, checks and helpers
        self.stdin = stdin or sys.stdin
        self.out = _Output(stdout or sys.stdout)
        self.idle_timeout = idle_timeout
        self.preload = preload
        self.renderer_started = False
        self.jobs_done = 0
        self.requests: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.current: str | None = None  # id of the job accepted and not yet answered
        self.stop = threading.Event()
        self.closing = threading.Event()

    # --- the reader thread -------------------------------------------------------------------
    def _read(self) -> None:
        for line in self.stdin:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                self.out.send(messages.error("bridge", "bad_request", f"Not a JSON request: {exc}.",
                                             "Send one JSON object per line (see README.md, the warm bridge)."))
                continue
            kind, job_id = request.get("type"), request.get("id")
            if kind == "exit":
                break
            if kind == "cancel":
                with self.lock:
                    if self.current is not None and job_id in (None, self.current):
                        self.stop.set()
                continue
            if kind != "job" or not isinstance(job_id, str) or not job_id:
                self.out.send(messages.error(job_id if isinstance(job_id, str) else "bridge", "bad_request",
                                             f"Unknown request {str(kind)[:40]!r} or no id.",
                                             "Requests are job (with a string id), cancel or exit."))
                continue
            with self.lock:
                busy = self.current
                if busy is None:
                    self.current = job_id
                    self.stop.clear()
            if busy is not None:
                self.out.send(messages.error(job_id, "busy", f"The bridge is still running job {busy}.",
                                             "Wait for it to finish, or cancel it."))
                continue
            self.requests.put(request)
        # stdin ended (the client is gone) or `exit`: stop what runs and leave
        self.closing.set()
        self.stop.set()
        self.requests.put(None)

    # --- the main thread ---------------------------------------------------------------------
    def run(self) -> int:
        threading.Thread(target=self._read, daemon=True).start()
        if self.preload:
            _preload()
        while True:
            warm_soon = self.preload and self.jobs_done and not self.renderer_started
            try:
                request = self.requests.get(timeout=RENDERER_AFTER_IDLE_S if warm_soon else self.idle_timeout)
            except queue.Empty:
                if warm_soon:  # the artist is looking at the result: the renderer's turn
                    self.renderer_started = True
                    threading.Thread(target=_warm_renderer, daemon=True, name="renderer").start()
                    continue
                with self.lock:
                    if self.current is None:  # nothing accepted meanwhile
                        self.out.send({"type": "exit", "reason": "idle"})
                        return 0
                continue
            if request is None:
                return 0
            reporter = _JobReporter(request["id"], self.out, self.stop)
            try:
                self._answer(request, reporter)
            finally:
                with self.lock:
                    self.current = None
                final = getattr(reporter, "final", None) or messages.error(request["id"], "cancelled", "Cancelled.")
                self.out.send(final)
            self.jobs_done += 1
            if self.closing.is_set():
                return 0

    def _answer(self, request: dict, reporter: "_JobReporter") -> None:
        job_id = request["id"]
        began = time.perf_counter()
        try:
            run_job(self.cli, request, reporter, self.stop.is_set)
        except Cancelled:
            reporter.error("cancelled", "Cancelled.", "")
        except KeyboardInterrupt:  # SIGTERM: this job ends unwritten, and so does the worker
            reporter.error("cancelled", "Cancelled.", "")
            raise
        except BridgeError as err:
            code = "cancelled" if err.code == "cancelled" else err.code
            reporter.error(code, err.message, err.hint)
        except Exception as exc:  # noqa: BLE001 - a bug: one error event, and the worker goes on
            reporter.error("internal", f"Internal error: {type(exc).__name__}: {exc}",
                           "Please report it with the log.")
        print(f"job {job_id} took {time.perf_counter() - began:.2f} s", file=sys.stderr, flush=True)


def _preload() -> None:
    """What every job needs, loaded once. The detector here, on the main thread (it silences
    native stderr, which two threads must not do at once); the rest on a daemon thread started
    first, so the first job's detection runs while torch, the body model and the fitting stack
    load (a job that needs the body waits for it: bridge.body.load_body_model's lock), and then what Fit
    needs first: the 3D cue's landmark model and the result writer. The renderer warms up once
    the worker has been idle for RENDERER_AFTER_IDLE_S after its first job (Worker.run), so its
    Python work does not compete with a job for the interpreter lock."""
    began = time.perf_counter()
    # The body first: it takes longer than the detector, and a cold Detect's fit needs it next.
    threading.Thread(target=_preload_rest, args=(began,), daemon=True, name="preload").start()
    try:
        from .detection.mediapipe_pose import warm_up
        from .detection.sources.mediapipe_crops import placing_model

        warm_up(tuple(dict.fromkeys((None, placing_model()))))  # the crop vote's two models
    except Exception as exc:  # noqa: BLE001 - a job reports it properly when it needs the part
        print(f"preload failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def _preload_rest(began: float) -> None:
    try:
        import torch

        # One intra-op thread for the whole worker, set before any thread uses torch (each adopts
        # it when it first does): the worker shares the CPU with Blender and with its own
        # detection, where a second OpenMP thread's spin-waiting slows small tensor work many
        # times over (docs/decisions.md, "Warm bridge"). bridge.fitting.fit sets the same.
        torch.set_num_threads(1)
        from .body import load_body_model

        load_body_model("anny")
        from .fitting import fit  # noqa: F401
        from .jobs import reconstruct  # noqa: F401
        from .detection.blazepose import _landmarker

        _landmarker()
        import scipy.spatial  # noqa: F401 - the overlap check's
        import trimesh  # noqa: F401 - the result writer's

    except Exception as exc:  # noqa: BLE001 - a job reports it properly when it needs the part
        print(f"preload failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    print(f"warm in {time.perf_counter() - began:.2f} s", file=sys.stderr, flush=True)


def _warm_renderer() -> None:
    """The refinement stack imported and Mitsuba's kernels compiled, so Refine's first preview
    comes at once."""
    began = time.perf_counter()
    try:
        from .jobs import refine_job  # noqa: F401 - the refinement stack (Mitsuba)
        from .refinement.render import warm_up

        warm_up()
    except Exception as exc:  # noqa: BLE001 - Refine reports it properly (no Mitsuba, no LLVM)
        print(f"renderer warm-up failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return
    print(f"renderer warm in {time.perf_counter() - began:.2f} s", file=sys.stderr, flush=True)


def _parse(cli, argv) -> object:
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise BridgeError("bad_request", "A job's argv must be a list of strings, the command first.",
                          f"Commands: {', '.join(JOBS)}.")
    if argv[0] not in JOBS:
        raise BridgeError("bad_request", f"{argv[0][:40]!r} is not a job the worker runs.",
                          f"Commands: {', '.join(JOBS)}.")
    try:
        args = cli._parser().parse_args(argv)
    except cli.ArgumentError as err:
        raise BridgeError("bad_argument", err.message, f"See python -m bridge {argv[0]} --help.") from None
    cli.check_arguments(args)
    return args


def _start_states(start: dict, args, body) -> tuple[dict, list[str] | None, dict]:
    """The `start` of a reconstruct request: role -> FighterState, the roles to refit, and the
    masks that may be kept (start.masks: the roles whose box and strokes did not change)."""
    from .detection.fighters import KnownMask
    from .jobs.result_folder import start_state
    from .result.format import ARTIST_POSE_KEY, artist_pose_file
    from .result.store import read_result

    if not isinstance(start, dict) or not isinstance(start.get("result"), str):
        raise BridgeError("bad_request", "start must be an object naming the result folder to fit from.",
                          'Send "start": {"result": DIR, "poses": DIR, "roles": [...]}.')
    roles = start.get("roles")
    if roles is not None and (not isinstance(roles, list) or not all(r in ("tori", "uke") for r in roles)):
        raise BridgeError("bad_request", f"start.roles must list tori and/or uke, not {roles!r}.", "")
    keep = start.get("masks") or []
    if not isinstance(keep, list) or not all(r in ("tori", "uke") for r in keep):
        raise BridgeError("bad_request", f"start.masks must list tori and/or uke, not {keep!r}.", "")
    result = read_result(start["result"])
    poses = start.get("poses")
    if poses:
        import numpy as np

        for role in result.fighters:
            path = Path(poses) / artist_pose_file(role)
            if path.is_file():
                with np.load(path) as npz:
                    result.artist_poses[role] = npz[ARTIST_POSE_KEY]
    known = {role: KnownMask(result.masks[role], result.fighters[role]["keypoints2d"],
                             result.fighters[role]["keypoint_confidence"])
             for role in keep if role in result.fighters and result.masks.get(role) is not None}
    return {role: start_state(body, result, role) for role in result.fighters}, roles, known


def run_job(cli, request: dict, reporter: Reporter, should_stop) -> None:
    """One request's job, as the CLI runs it (bridge.cli's parser, checks and argument helpers)."""
    args = _parse(cli, request.get("argv"))
    start = request.get("start")
    if args.command == "reconstruct":
        from .jobs.reconstruct import reconstruct

        options = {}
        if start is not None:
            from .body import load_body_model

            body = load_body_model(args.body, model_folder=args.model_folder, gender=args.gender,
                                   vposer=args.vposer)
            options["start"], options["refit"], options["known_masks"] = _start_states(start, args, body)
        report = reconstruct(args.photo, args.out, people=2 if args.uke_photo else args.people, keypoints_file=args.keypoints,
                    focal_35mm=args.focal_35mm, body_name=args.body,
                    body_options={"model_folder": args.model_folder, "gender": args.gender, "vposer": args.vposer},
                    hints=cli._hints(args), uke_photo=args.uke_photo, grips=not args.no_grips, reporter=reporter,
                    refine_iterations=args.refine, device=args.device, should_stop=should_stop, **options)
        print("stages: " + ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in report.seconds.items()),
              file=sys.stderr, flush=True)  # the job's log says where its time went
    elif start is not None:
        raise BridgeError("bad_request", "start only goes with reconstruct.", "")
    elif args.command == "refine":
        from .jobs.refine_job import refine_scene

        refine_scene(args.scene, args.out, roles=args.roles, part=args.part, bones=args.bones, window=args.crop,
                     settings=cli._refine_settings(args), device=args.device, reporter=reporter, should_stop=should_stop)
    else:
        from .jobs.contact_job import resolve_contact_scene

        resolve_contact_scene(args.scene, args.out, steps=args.steps, reporter=reporter, should_stop=should_stop)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def serve(cli, idle_timeout: float = IDLE_TIMEOUT_S, preload: bool = True) -> int:
    """`python -m bridge serve` (cli: the bridge.cli module, whose parser reads the jobs' argv)."""
    if not idle_timeout > 0:
        print(f"error: --idle-timeout must be more than 0 seconds, not {idle_timeout!r}.", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return Worker(cli, idle_timeout=idle_timeout, preload=preload).run()
    except KeyboardInterrupt:  # SIGTERM or Ctrl+C: the running job (if any) wrote nothing
        return 130
