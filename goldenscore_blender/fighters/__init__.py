"""Fighters: armatures with skinned meshes, keypoint guides, boxes and strokes (operators.py: Add Box, Paint Strokes)."""
from .operators import register, unregister  # noqa: F401
