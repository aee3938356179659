"""Fit and Refine: operators that run the bridge on the scene's photo and fighters (operators.py)."""
from .operators import register, unregister  # noqa: F401
