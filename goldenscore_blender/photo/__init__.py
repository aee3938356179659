"""Photo: import a photo as the background of a new camera that reproduces it (operators.py)."""
from .operators import register, unregister  # noqa: F401
