"""The hardened base of every operator that runs a bridge job.

`BridgeOperator` runs a job modally from the UI (progress in the panel and the status bar, Esc
cancels) and to completion when Blender runs in the background; it builds the result into the
scene only after the job succeeded, in one operator step, so one undo removes it and a failed or
cancelled job changes nothing. One job at a time: each rewrites the scene's result.
"""
from __future__ import annotations

import bpy

from .bridge_client import Job, JobError
from .user_folders import user_dir


def logs_folder():
    """Where every job's log goes (the README promises it): the extension's user folder."""
    return user_dir("logs")

_running: Job | None = None


def running_job() -> Job | None:
    """The job in progress, if any (one at a time: each job rewrites the scene's result)."""
    return _running


def _redraw(context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "IMAGE_EDITOR", "STATUSBAR"}:
                area.tag_redraw()


class BridgeOperator:
    """Mixin for operators that run a job. Subclasses give `make_job` and `build`; `build`
    runs once, on success, inside this operator call."""

    timer_seconds = 0.1

    @classmethod
    def poll(cls, context):
        return _running is None

    def make_job(self, context) -> Job:
        raise NotImplementedError

    def build(self, context, job: Job) -> None:
        raise NotImplementedError

    def on_message(self, context, message: dict) -> None:
        """A progress message arrived (e.g. to show a preview image)."""

    def discard(self, context, job: Job) -> None:
        """The job failed or was cancelled: remove what make_job prepared outside the scene."""

    def _start(self, context) -> Job | None:
        global _running
        try:
            job = self.make_job(context)
            job.start()
        except (JobError, FileNotFoundError) as exc:
            self.report({"ERROR"}, str(exc))
            return None
        _running = job
        return job

    def execute(self, context):
        """Run to completion (scripts, and Blender in the background)."""
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        while not job.done:
            for message in job.poll(timeout=0.2):
                self.on_message(context, message)
        return self._finish(context, job)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        wm = context.window_manager
        self._job, self._timer = job, wm.event_timer_add(self.timer_seconds, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        self._show_progress(context, job)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
            return self._finish(context, job)
        if event.type == "TIMER":
            for message in job.poll():
                self.on_message(context, message)
            self._show_progress(context, job)
            if job.done:
                return self._finish(context, job)
        return {"PASS_THROUGH"}

    def _show_progress(self, context, job: Job) -> None:
        context.workspace.status_text_set(f"{job.progress.text()}   (Esc to cancel)")
        context.window_manager.progress_update(int(job.progress.fraction * 100))
        _redraw(context)

    def _finish(self, context, job: Job):
        global _running
        _running = None
        timer = getattr(self, "_timer", None)
        if timer is not None:
            context.window_manager.event_timer_remove(timer)
            context.window_manager.progress_end()
            context.workspace.status_text_set(None)
            _redraw(context)
        problem = job.failure()
        if problem is None:
            try:
                self.build(context, job)
            except (JobError, OSError, KeyError, ValueError) as exc:
                problem = f"Reading the bridge's result failed: {exc}"
        if problem is not None:
            self.discard(context, job)
            if job.cancelled:
                self.report({"WARNING"}, problem)
            else:
                self.report({"ERROR"}, f"{problem} (log: {job.log_path})")
            return {"CANCELLED"}
        return {"FINISHED"}
