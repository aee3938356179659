"""Stage 3: refinement by differentiable rendering against the photo (Mitsuba 3)."""
