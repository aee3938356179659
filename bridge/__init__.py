"""Golden Score bridge: photo in, fitted and posed bodies out. Pure Python, no bpy."""

__version__ = "0.1.0"
