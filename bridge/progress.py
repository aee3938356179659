"""Progress for people (a bar on stderr) or for programs (JSON lines on stdout, --events)."""
from __future__ import annotations

import sys
import time

from . import messages


class Reporter:
    """Receives what a job does; `events=True` speaks the message schema instead of a bar."""

    def __init__(self, job: str = "job", events: bool = False, stream=None):
        self.job = job
        self.events = events
        self.stream = stream or (sys.stdout if events else sys.stderr)
        self._last_draw = 0.0
        self._line_open = False

    def _emit(self, message: dict) -> None:
        self.stream.write(messages.encode(message) + "\n")
        self.stream.flush()

    def progress(self, stage: str, step: int, total: int, loss: float | None = None, preview: str | None = None):
        if self.events:
            self._emit(messages.progress(self.job, stage, step, total, loss, preview))
            return
        now = time.monotonic()
        interactive = getattr(self.stream, "isatty", lambda: False)()
        if step < total and (not interactive or now - self._last_draw < 0.1):
            return  # a log file gets one line per stage, a terminal a live bar
        self._last_draw = now
        width = 30
        filled = int(width * step / max(total, 1))
        loss_text = f"  loss {loss:.4g}" if loss is not None else ""
        self._line_open = step < total
        end = "" if self._line_open else "\n"
        self.stream.write(f"\r{stage:<8} [{'#' * filled}{'.' * (width - filled)}] {step}/{total}{loss_text}{end}")
        self.stream.flush()

    def end_line(self) -> None:
        """Finish a bar cut short, so the next line a person reads starts on its own."""
        if self._line_open and not self.events:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False

    def result(self, paths: dict[str, str], **extra) -> None:
        if self.events:
            self._emit(messages.result(self.job, paths, **extra))

    def error(self, code: str, message: str, hint: str = "") -> None:
        self.end_line()
        if self.events:
            self._emit(messages.error(self.job, code, message, hint))
