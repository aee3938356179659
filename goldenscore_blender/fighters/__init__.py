"""Fighters: armatures with skinned meshes, keypoint guides, boxes and strokes (operators.py: Add Box,
Paint Strokes), and the one-click fixes of what the photo cannot decide (hypotheses.py: Flip Limb
Depth, Flip Facing, Next Hypothesis)."""
from . import hypotheses, operators


def register():
    operators.register()
    hypotheses.register()


def unregister():
    hypotheses.unregister()
    operators.unregister()
