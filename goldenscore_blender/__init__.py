"""Golden Score: pose rigged 3D judo fighters from one photo, from Blender's sidebar.

The add-on only builds Blender data and UI; the fitting runs in the bridge, a separate
Python process (torch, the body model) that the add-on starts and reads events from.
"""
from . import export, fighters, fitting, panels, photo, preferences, properties

_FEATURES = (preferences, properties, photo, fighters, fitting, export, panels)


def register():
    for feature in _FEATURES:
        feature.register()


def unregister():
    from .bridge_client import stop_worker

    stop_worker()  # the session's warm bridge goes with the add-on
    for feature in reversed(_FEATURES):
        feature.unregister()
