"""Running the bridge (or any helper process) without freezing Blender; no `bpy` here.

A `Job` is a chain of commands run one after another as subprocesses (argument lists, never
a shell). Reader threads collect their output; Blender's main thread drains it with `poll`,
so Blender data is only touched on the main thread (operator_base.BridgeOperator does that).
"""
from __future__ import annotations

import collections
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import tempfile

from .locations import bridge_home, bridge_messages

KEEP_LOGS = 30
STOP_GRACE_SECONDS = 5.0


class JobError(Exception):
    """A job cannot start: a short line for the artist."""


@dataclass
class Progress:
    """What the panel and the status bar show about the running job."""

    title: str
    stage: str = "starting"
    fraction: float = 0.0
    loss: float | None = None

    def text(self) -> str:
        loss = f", loss {self.loss:.4g}" if self.loss is not None else ""
        return f"{self.title}: {self.stage} {self.fraction * 100:.0f}%{loss}"


def _new_log_path(title: str, logs: Path | None) -> Path:
    logs = Path(logs) if logs is not None else Path(tempfile.gettempdir()) / "golden-score-logs"
    logs.mkdir(parents=True, exist_ok=True)
    old = sorted(logs.glob("*.log"))
    for stale in old[:max(0, len(old) - KEEP_LOGS + 1)]:
        stale.unlink(missing_ok=True)
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return logs / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{os.getpid()}-{time.monotonic_ns() % 10**6}.log"


def bridge_environment() -> dict[str, str]:
    """The environment for `python -m bridge`: its package importable, output unbuffered."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env["PYTHONPATH"] = str(bridge_home())
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stop_process(process: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> None:
    """Terminate a process the way Ctrl+C would (the bridge then writes nothing), and kill it if it
    has not stopped within `grace` seconds. Returns at once."""
    if process.poll() is not None:
        return
    process.terminate()

    def kill_if_stuck():
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()

    threading.Thread(target=kill_if_stuck, daemon=True).start()


class Job:
    """Commands run in sequence (each must succeed for the next to start), logged to a file
    (in `log_folder`, the extension's user folder from the add-on) and read without blocking."""

    def __init__(self, title: str, commands: list[tuple[str, list[str]]], cwd: Path | None = None,
                 env: dict[str, str] | None = None, log_folder: Path | None = None):
        self.title = title
        self.commands = commands  # (label, argv)
        self.cwd = cwd
        self.env = env
        self.log_path = _new_log_path(title, log_folder)
        self.progress = Progress(title)
        self.result: dict | None = None
        self.error: dict | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=8)
        self.launch_error: str | None = None
        self.returncode: int | None = None
        self.cancelled = False
        self.done = False
        self._step = -1
        self._process: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue()
        self._open_streams = 0
        self._log = None

    def start(self) -> None:
        self._log = open(self.log_path, "w", encoding="utf-8", errors="replace")
        self._next_command()

    def _next_command(self) -> None:
        self._step += 1
        label, argv = self.commands[self._step]
        self.progress.stage = label
        self.progress.fraction = self._step / len(self.commands)
        self._log.write(f"$ {' '.join(argv)}\n")
        self._log.flush()
        try:
            self._process = subprocess.Popen(argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                             encoding="utf-8", errors="replace", bufsize=1)
        except OSError as exc:
            self.launch_error = f"Cannot start {argv[0]} ({exc.strerror or exc})."
            self._finish(None)
            return
        self._open_streams = 2
        for name, stream in (("out", self._process.stdout), ("err", self._process.stderr)):
            threading.Thread(target=self._read, args=(name, stream), daemon=True).start()

    def _read(self, name: str, stream) -> None:
        for line in stream:
            self._lines.put((name, line.rstrip("\n")))
        self._lines.put((name, None))

    def poll(self, timeout: float = 0.0) -> list[dict]:
        """New messages since the last call (waits up to `timeout` for the first line)."""
        messages = []
        for message in self._decoded(lambda: self._lines, timeout, self._stream_closed):
            messages.append(message)
            self._take(message)
        return messages

    def _decoded(self, lines, timeout: float, stream_closed):
        """Messages decoded from the output lines in `lines()` (a queue of (stream, line)), each
        line logged and stderr's last lines kept for the failure message; `stream_closed()` is
        called when a stream ends. Stops when the queue is empty or the job is done."""
        decode = bridge_messages().decode
        while not self.done:
            queue_ = lines()
            try:
                name, line = queue_.get(timeout=timeout) if timeout else queue_.get_nowait()
            except queue.Empty:
                return
            timeout = 0.0
            if line is None:
                stream_closed()
                continue
            self._log.write(f"{'' if name == 'out' else '! '}{line}\n")
            if name == "err":
                if line.strip():
                    self.stderr_tail.append(line.strip())
                continue
            try:
                message = decode(line)
            except ValueError:  # a stray print: kept in the log only
                continue
            yield message

    def _stream_closed(self) -> None:
        self._open_streams -= 1
        if self._open_streams == 0:
            self._process_ended()

    def _take(self, message: dict) -> None:
        kind = message["type"]
        if kind == "progress":
            span = 1.0 / len(self.commands)
            self.progress.stage = message.get("stage", "")
            share = message.get("step", 0) / max(message.get("total", 1), 1)
            self.progress.fraction = (self._step + share) * span
            self.progress.loss = message.get("loss")
        elif kind == "result":
            self.result = message
        elif kind == "error":
            self.error = message

    def _process_ended(self) -> None:
        code = self._process.wait()
        self._log.write(f"# exit status {code}\n")
        if code == 0 and not self.cancelled and self._step + 1 < len(self.commands):
            self._next_command()
        else:
            self._finish(code)

    def _finish(self, code: int | None) -> None:
        self.returncode = code
        self.done = True
        if self.launch_error:
            self._log.write(f"# {self.launch_error}\n")
        self._log.close()

    def cancel(self) -> None:
        """Stop the process the way Ctrl+C would (the bridge then writes nothing); kill it if
        it does not stop within a few seconds. Returns at once."""
        if self.done:
            return
        self.cancelled = True
        self._log.write("# cancelled\n")
        self._finish(None)
        if self._process is not None:
            stop_process(self._process)

    def failure(self) -> str | None:
        """None when the job succeeded, else one short line for the artist."""
        if self.cancelled:
            return "Cancelled; the scene is unchanged."
        if self.launch_error:
            return self.launch_error
        if self.error is not None:
            return " ".join(filter(None, (self.error.get("message"), self.error.get("hint"))))
        if self.returncode != 0:
            if self.returncode is not None and self.returncode < 0:
                try:
                    name = signal.Signals(-self.returncode).name
                except ValueError:
                    name = f"signal {-self.returncode}"
                return f"The bridge stopped unexpectedly ({name})."
            last = self.stderr_tail[-1] if self.stderr_tail else f"exit status {self.returncode}"
            return f"The bridge failed: {last[:160]}"
        return None


def bridge_command(interpreter: str, *args: str) -> list[str]:
    return [interpreter, "-m", "bridge", *args]


# --- The warm bridge: one `python -m bridge serve` per Blender session -----------------------

WORKER_IDLE_SECONDS = 600.0  # the worker exits after this long without a job (bridge/serve.py)
_worker: "Worker | None" = None
_job_numbers = iter(range(1, 10**9))


class Worker:
    """A `python -m bridge serve` process and the lines it writes (read by two threads into one
    queue). One per session (`session_worker`); a WorkerJob borrows it for one job."""

    def __init__(self, interpreter: str, cwd: Path | None, env: dict[str, str] | None,
                 idle_seconds: float = WORKER_IDLE_SECONDS):
        self.key = (interpreter, str(cwd))
        self.argv = bridge_command(interpreter, "serve", "--idle-timeout", f"{idle_seconds:g}")
        self.lines: queue.Queue = queue.Queue()
        self.process = subprocess.Popen(self.argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                        bufsize=1)
        self.jobs = 0
        self.busy_with: str | None = None
        self.said_idle = False
        self._open = 2
        for name, stream in (("out", self.process.stdout), ("err", self.process.stderr)):
            threading.Thread(target=self._read, args=(name, stream), daemon=True).start()

    def _read(self, name: str, stream) -> None:
        for line in stream:
            self.lines.put((name, line.rstrip("\n")))
        self.lines.put((name, None))

    def alive(self) -> bool:
        return self.process.poll() is None and not self.said_idle

    def send(self, message: dict) -> None:
        import json

        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Terminate (the running job writes nothing), kill if it does not stop within `grace`."""
        stop_process(self.process, grace)


def session_worker(interpreter: str, cwd: Path | None, env: dict[str, str] | None) -> tuple[Worker, bool]:
    """The session's worker, started when there is none (or it exited, crashed or was told to use
    another Python). Returns it and whether it was started now."""
    global _worker
    key = (interpreter, str(cwd))
    if _worker is not None and (not _worker.alive() or _worker.key != key):
        if _worker.key != key:
            _worker.stop()
        _worker = None
    if _worker is None:
        _worker = Worker(interpreter, cwd, env)
        return _worker, True
    return _worker, False


def stop_worker() -> None:
    """End the session's worker (the add-on is disabled, Blender quits)."""
    global _worker
    if _worker is not None:
        _worker.stop()
        _worker = None


def running_worker() -> Worker | None:
    return _worker if _worker is not None and _worker.alive() else None


class WorkerJob(Job):
    """One bridge job run by the session's warm worker: the same interface as Job (progress,
    result, error, failure, a log per job in `log_folder`), one request instead of one process.
    Cancel and a crash end the worker: the next job starts a fresh one. `argv` is what
    `python -m bridge` would take (without --events); `start` goes with Fit (bridge/serve.py)."""

    def __init__(self, title: str, interpreter: str, argv: list[str], cwd: Path | None = None,
                 env: dict[str, str] | None = None, log_folder: Path | None = None, start: dict | None = None):
        super().__init__(title, [(title.lower(), bridge_command(interpreter, *argv))], cwd, env, log_folder)
        self.interpreter = interpreter
        self.request = {"type": "job", "id": f"{argv[0]}-{next(_job_numbers)}", "argv": list(argv)}
        if start is not None:
            self.request["start"] = start
        self.worker: Worker | None = None
        self.cold = False
        self._resent = False

    def start(self) -> None:
        import json

        busy = running_worker()
        if busy is not None and busy.busy_with is not None:
            raise JobError(f"The bridge is still running {busy.busy_with}; wait for it or cancel it (Esc).")
        self._log = open(self.log_path, "w", encoding="utf-8", errors="replace")
        try:
            self.worker, self.cold = session_worker(self.interpreter, self.cwd, self.env)
        except OSError as exc:
            self.launch_error = f"Cannot start {self.interpreter} ({exc.strerror or exc})."
            self._finish(None)
            return
        self._step = 0
        self.progress.stage = "starting the bridge" if self.cold else "queued"
        self._log.write(f"$ {' '.join(self.worker.argv)}   # warm worker, pid {self.worker.process.pid}"
                        f"{', started now' if self.cold else ''}\n> {json.dumps(self.request)}\n")
        self._log.flush()
        self._send()

    def _send(self) -> None:
        self.worker.busy_with = self.title
        self.worker.jobs += 1
        try:
            self.worker.send(self.request)
        except (BrokenPipeError, OSError, ValueError):
            pass  # it died: its end of output says how (poll)

    def poll(self, timeout: float = 0.0) -> list[dict]:
        messages = []
        for message in self._decoded(lambda: self.worker.lines, timeout, self._worker_stream_closed):
            if message.get("type") == "exit":
                self.worker.said_idle = True
                continue
            if message.get("id") != self.request["id"]:
                continue  # an answer to someone else: kept in the log only
            messages.append(message)
            self._take(message)
            if message["type"] in ("result", "error"):
                self.returncode = 0 if message["type"] == "result" else 1
                self.worker.busy_with = None
                self._finish(self.returncode)
        return messages

    def _worker_stream_closed(self) -> None:
        self.worker._open -= 1
        if self.worker._open == 0:
            self._worker_ended()

    def _worker_ended(self) -> None:
        worker = self.worker
        code = worker.process.wait()
        self._log.write(f"# worker exit status {code}\n")
        if worker.said_idle and not self._resent and not self.cancelled:
            # It left for being idle just as this job was sent: once more, with a fresh one.
            self._resent = True
            self.worker, self.cold = session_worker(self.interpreter, self.cwd, self.env)
            self._log.write(f"# the worker had gone idle; sent again to pid {self.worker.process.pid}\n")
            self._send()
            return
        global _worker
        if _worker is worker:
            _worker = None
        self._finish(code if code != 0 else 1)
        if code == 0 and self.error is None:
            self.stderr_tail.append("the bridge worker exited without answering")

    def cancel(self) -> None:
        """Stop the job and its worker (as Ctrl+C stops the CLI: nothing is written); the next job
        starts a fresh worker. Returns at once."""
        if self.done:
            return
        self.cancelled = True
        self._log.write("# cancelled: the worker is stopped\n")
        self._finish(None)
        global _worker
        worker = self.worker
        if worker is not None:
            if _worker is worker:
                _worker = None
            worker.stop()
