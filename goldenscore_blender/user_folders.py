"""The add-on's own folders under Blender's per-extension user directory (kept across upgrades)."""
from __future__ import annotations

from pathlib import Path

import bpy

from .locations import ADDON_ID


def user_dir(name: str) -> Path:
    """A folder of ours under Blender's per-extension user directory."""
    return Path(bpy.utils.extension_path_user(ADDON_ID, path=name, create=True))
