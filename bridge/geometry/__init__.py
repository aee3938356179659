"""Geometry every stage shares: the camera convention, silhouettes by rasterising, and how far two bodies pass into each other."""
