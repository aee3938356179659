"""`python -m bridge info`: what this bridge is made of and which renderers work here, so the
add-on's "test the bridge" button can say what to fix."""
from __future__ import annotations

import importlib.metadata
import platform

from . import __version__
from .errors import BridgeError

PACKAGES = ("torch", "anny", "mediapipe", "opencv-contrib-python", "numpy", "mitsuba", "drjit", "trimesh", "smplx")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def renderer_status() -> dict[str, str]:
    """'ok', or the reason a renderer device cannot be used (the hint included)."""
    import torch

    from .refinement.render import load_mitsuba

    status = {}
    for device in ("cpu", "cuda"):
        if device == "cuda" and not torch.cuda.is_available():
            status[device] = "no NVIDIA GPU is visible to torch"
            continue
        try:
            load_mitsuba(device)
            status[device] = "ok"
        except BridgeError as err:
            status[device] = f"{err.message} {err.hint}".strip()
    return status


def bridge_info() -> dict:
    return {
        "type": "info",
        "bridge": __version__,
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "renderer": renderer_status(),
    }
