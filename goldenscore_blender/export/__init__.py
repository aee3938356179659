"""Export: the fighters through Blender's exporters, a printable STL, a turntable render."""
from . import formats, print_stl, turntable

_PARTS = (formats, print_stl, turntable)


def register():
    for part in _PARTS:
        part.register()


def unregister():
    for part in reversed(_PARTS):
        part.unregister()
