"""Where the add-on finds its bridge, and the bridge's shared pure-Python modules (no `bpy` here)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path


ADDON_ID = __package__  # preferences and user folders are keyed by the package name
ADDON_DIR = Path(__file__).resolve().parent
BUILD_DEFAULTS = ADDON_DIR / "build_defaults.json"  # written by `python build.py extension`


def bridge_home() -> Path:
    """The folder holding the `bridge` package: inside the installed extension (`build.py
    extension` copies it there), or the repository root when running from the source tree."""
    for folder in (ADDON_DIR, ADDON_DIR.parent):
        if (folder / "bridge" / "__main__.py").is_file():
            return folder
    raise FileNotFoundError(f"no bridge package next to {ADDON_DIR}")


def requirements_file() -> Path:
    return bridge_home() / "requirements.txt"


def build_defaults() -> dict:
    """What `build.py extension` recorded at build time (the repository's environment)."""
    try:
        return json.loads(BUILD_DEFAULTS.read_text())
    except (OSError, ValueError):
        return {}


def bridge_module(name: str):
    """One of the bridge's pure-Python modules (`messages`, `result/format`), loaded from its file
    so both sides share one schema without importing the bridge package (torch)."""
    key = f"{ADDON_ID}._bridge_{name.replace('/', '_')}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, bridge_home() / "bridge" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[key] = module
    return sys.modules[key]


def bridge_messages():
    """The JSON-lines message schema (bridge/messages.py)."""
    return bridge_module("messages")


def bridge_format():
    """The result folder's contract (bridge/result/format.py): names, keys, version, BODY_25."""
    return bridge_module("result/format")
