"""The photo and image operations every stage shares: loading photos, mask morphology, gi colours, overlays."""
