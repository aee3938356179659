"""Where the add-on finds its bridge and keeps its user data."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import bpy

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


def user_dir(name: str) -> Path:
    """A folder of ours under Blender's per-extension user directory (kept across upgrades)."""
    return Path(bpy.utils.extension_path_user(ADDON_ID, path=name, create=True))


def build_defaults() -> dict:
    """What `build.py extension` recorded at build time (the repository's environment)."""
    try:
        return json.loads(BUILD_DEFAULTS.read_text())
    except (OSError, ValueError):
        return {}


def bridge_messages():
    """The bridge's own message module (pure stdlib), so both sides share one schema."""
    name = f"{ADDON_ID}._bridge_messages"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, bridge_home() / "bridge" / "messages.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]
