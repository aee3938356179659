"""The warm bridge (issue 20): `python -m bridge serve`'s protocol, and the add-on's session
worker (restarted after a crash, Cancel leaving the pose, jobs not interleaving)."""
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from blender_addon import MODULE, SAMPLE_PHOTO

ROOT = Path(__file__).resolve().parents[1]


class _Serve:
    """`python -m bridge serve` without the preload (the protocol tests need no model)."""

    def __init__(self, *args):
        code = ("import sys, bridge.cli as c, bridge.serve as s; "
                f"sys.exit(s.Worker(c, idle_timeout={args[0] if args else 60}, preload=False).run())")
        self.process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(json.loads(l)) for l in self.process.stdout],
                         daemon=True).start()

    def send(self, message):
        self.process.stdin.write((message if isinstance(message, str) else json.dumps(message)) + "\n")
        self.process.stdin.flush()

    def answer(self, job_id, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            message = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if message.get("id") == job_id and message["type"] != "progress":
                return message

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture
def serve():
    worker = _Serve()
    yield worker
    worker.close()


def test_bad_requests_are_error_events_and_the_worker_goes_on(serve, tmp_path):
    serve.send("{not json")
    assert serve.answer("bridge")["code"] == "bad_request"
    serve.send({"type": "job", "id": "x", "argv": ["info"]})
    assert serve.answer("x")["code"] == "bad_request"
    serve.send({"type": "job", "id": "y", "argv": ["reconstruct", "--people", "3"]})
    bad = serve.answer("y")
    assert bad["code"] == "bad_argument" and "--people" in bad["message"]
    serve.send({"type": "job", "id": "z", "argv": ["refine", str(tmp_path / "nothing")]})
    assert serve.answer("z")["type"] == "error" and serve.process.poll() is None


def test_busy_then_cancel_writes_nothing(serve, tmp_path):
    out = tmp_path / "result"
    serve.send({"type": "job", "id": "a", "argv": ["reconstruct", str(SAMPLE_PHOTO), "--out", str(out)]})
    serve.send({"type": "job", "id": "b", "argv": ["reconstruct", str(SAMPLE_PHOTO), "--out", str(out)]})
    busy = serve.answer("b", timeout=30)
    assert busy["code"] == "busy" and "job a" in busy["message"]
    serve.send({"type": "cancel", "id": "a"})
    assert serve.answer("a")["code"] == "cancelled"
    assert not out.exists()
    serve.send({"type": "job", "id": "c", "argv": ["reconstruct", "--people", "3"]})  # still serving, not busy
    assert serve.answer("c", timeout=30)["code"] == "bad_argument"


def test_idle_worker_exits_and_says_so():
    worker = _Serve(0.5)
    try:
        assert worker.process.wait(30) == 0
        assert worker.lines.get(timeout=5) == {"schema": 1, "type": "exit", "reason": "idle"}
    finally:
        worker.close()


def test_stdin_end_stops_the_worker(serve):
    serve.process.stdin.close()
    assert serve.process.wait(30) == 0


# --- the add-on's session worker -------------------------------------------------------------

def _pose(bpy, role="Tori"):
    rig = bpy.data.objects[role]
    return [tuple(b.matrix_basis.col[3]) + tuple(b.rotation_quaternion) for b in rig.pose.bones] + \
        [tuple(rig.location)]


def _state(bpy):
    scene = bpy.context.scene
    return sorted(o.name for o in scene.objects), scene.golden_score.result_dir, _pose(bpy)


def _logs(bpy):
    return set(Path(bpy.utils.extension_path_user(MODULE, path="logs")).glob("*.log"))


def test_a_killed_worker_is_restarted_on_the_next_job(detected, blender, addon):
    bpy, client = blender, addon.bridge_client
    bpy.context.preferences.addons[MODULE].preferences.interpreter = ""
    worker = client.running_worker()
    if worker is None:  # the session's worker had gone: start one with a first Fit
        assert bpy.ops.golden_score.fit_fighters() == {"FINISHED"}
        worker = client.running_worker()
    assert worker is not None
    before, logs = _state(bpy), _logs(bpy)
    job = client.WorkerJob("Fit", sys.executable, ["reconstruct", str(SAMPLE_PHOTO), "--out",
                                                    str(Path(bpy.app.tempdir or "/tmp") / "never")],
                           cwd=addon.locations.bridge_home(), env=client.bridge_environment(),
                           log_folder=Path(bpy.utils.extension_path_user(MODULE, path="logs")))
    job.start()
    assert job.worker is worker and not job.cold
    worker.process.kill()  # as by the OOM killer, in the middle of the job
    while not job.done:
        job.poll(timeout=0.5)
    assert "stopped unexpectedly (SIGKILL)" in job.failure()
    assert _state(bpy) == before and len(_logs(bpy) - logs) == 1
    assert bpy.ops.golden_score.fit_fighters() == {"FINISHED"}  # a fresh worker
    assert client.running_worker() not in (None, worker)


def test_cancel_during_a_warm_fit_leaves_the_pose(detected, blender, addon):
    bpy, client = blender, addon.bridge_client
    bpy.context.preferences.addons[MODULE].preferences.interpreter = ""
    guides = addon.fighters.guides
    guides.keypoint_empties(detected, "tori")[4].location.y += 0.03
    bpy.context.view_layer.update()
    before = _state(bpy)
    op = _OperatorDouble(addon.fitting.operators.GS_OT_fit_fighters)
    job = op.make_job(bpy.context)
    job.start()
    while not any(m["type"] == "progress" for m in job.poll(timeout=0.5)):
        assert not job.done
    job.cancel()
    assert job.failure().startswith("Cancelled")
    op.discard(bpy.context, job)
    assert _state(bpy) == before
    assert not op.out.exists()
    assert bpy.ops.golden_score.fit_fighters() == {"FINISHED"}  # the next one starts a fresh worker


def test_two_quick_fits_do_not_interleave(detected, blender, addon):
    bpy, client = blender, addon.bridge_client
    bpy.context.preferences.addons[MODULE].preferences.interpreter = ""
    op = _OperatorDouble(addon.fitting.operators.GS_OT_fit_fighters)
    first = op.make_job(bpy.context)
    first.start()
    second = _OperatorDouble(addon.fitting.operators.GS_OT_fit_fighters).make_job(bpy.context)
    with pytest.raises(client.JobError, match="still running Fit"):
        second.start()
    while not first.done:
        first.poll(timeout=0.5)
    assert first.failure() is None and first.result["id"] == first.request["id"]
    third_op = _OperatorDouble(addon.fitting.operators.GS_OT_fit_fighters)
    third = third_op.make_job(bpy.context)
    third.start()
    seen = []
    while not third.done:
        seen += third.poll(timeout=0.5)
    assert third.failure() is None and {m["id"] for m in seen} == {third.request["id"]}
    assert Path(third.result["paths"]["scene.json"]).parent == third_op.out
    assert bpy.ops.golden_score.fit_fighters() == {"FINISHED"}  # operators run after the direct jobs


class _OperatorDouble:
    """An operator class's make_job/discard outside Blender's operator call, to step a job by hand."""

    def __init__(self, cls):
        self.cls = cls

    def report(self, *args):
        pass

    def __getattr__(self, name):
        value = getattr(self.cls, name)
        return value.__get__(self) if callable(value) and hasattr(value, "__get__") else value
