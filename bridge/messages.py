"""The message schema between the bridge and its clients (the add-on vendors this module).

Every message is one JSON object on one line with a `type`; job messages carry the job `id`.
Big arrays never travel here: they are files in the job folder, named in `result`.
"""
from __future__ import annotations

import json

SCHEMA_VERSION = 1
# Job defaults both sides offer (the CLI's flags and the add-on's panel): one number, one place.
REFINE_ITERATIONS = 60
CONTACT_STEPS = 60


def progress(job: str, stage: str, step: int, total: int, loss: float | None = None,
             preview: str | None = None) -> dict:
    message = {"type": "progress", "id": job, "stage": stage, "step": step, "total": total}
    if loss is not None:
        message["loss"] = float(loss)
    if preview is not None:
        message["preview"] = preview
    return message


def result(job: str, paths: dict[str, str], **extra) -> dict:
    return {"type": "result", "id": job, "paths": paths, **extra}


def error(job: str, code: str, message: str, hint: str = "") -> dict:
    return {"type": "error", "id": job, "code": code, "message": message, "hint": hint}


def _finite(value):
    """NaN and infinities become null: JSON has no such numbers, and a strict reader rejects the line."""
    if isinstance(value, float):
        return value if value - value == 0 else None  # NaN - NaN and inf - inf are NaN
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def encode(message: dict) -> str:
    return json.dumps(_finite({"schema": SCHEMA_VERSION, **message}), separators=(",", ":"), allow_nan=False)


def decode(line: str) -> dict:
    message = json.loads(line)
    if not isinstance(message, dict) or "type" not in message:
        raise ValueError(f"not a bridge message: {line[:80]!r}")
    return message
