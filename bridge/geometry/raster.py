"""A body's silhouette in the photo, drawn with OpenCV (overlays and benchmark IoU)."""
from __future__ import annotations

import cv2
import numpy as np

from .camera import project

_SUBPIXEL_BITS = 4


def silhouette_mask(K: np.ndarray, vertices: np.ndarray, faces: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 mask (H, W), 1 where the mesh covers a pixel centre."""
    pixels = project(K, vertices) - 0.5  # OpenCV rasterises at integer pixel centres
    triangles = np.round(pixels[faces] * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    mask = np.zeros((height, width), np.uint8)
    in_front = (vertices[faces][..., 2] > 1e-3).all(axis=1)
    for tri in triangles[in_front]:
        cv2.fillConvexPoly(mask, tri, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return mask
