"""A body's silhouette in the photo, drawn with OpenCV (overlays and benchmark IoU)."""
from __future__ import annotations

import hashlib

import cv2
import numpy as np

from .camera import project

_SUBPIXEL_BITS = 4


_LAST: dict[bytes, np.ndarray] = {}  # the last few masks drawn: writing a result asks for each twice
_KEEP = 4


def silhouette_mask(K: np.ndarray, vertices: np.ndarray, faces: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 mask (H, W), 1 where the mesh covers a pixel centre."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (np.asarray(K, np.float64), np.asarray(vertices), np.asarray(faces), np.array([width, height])):
        digest.update(np.ascontiguousarray(part).tobytes())
    key = digest.digest()
    if key not in _LAST:
        if len(_LAST) >= _KEEP:
            _LAST.pop(next(iter(_LAST)))
        _LAST[key] = _draw(K, vertices, faces, width, height)
    return _LAST[key].copy()


def _draw(K: np.ndarray, vertices: np.ndarray, faces: np.ndarray, width: int, height: int) -> np.ndarray:
    pixels = project(K, vertices) - 0.5  # OpenCV rasterises at integer pixel centres
    triangles = np.round(pixels[faces] * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    mask = np.zeros((height, width), np.uint8)
    corners = vertices[faces]
    # A closed mesh's silhouette is that of its triangles facing the camera (the nearest surface
    # along any ray faces it): half the triangles to draw.
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    in_front = (corners[..., 2] > 1e-3).all(axis=1) & ((normals * corners[:, 0]).sum(1) < 0)
    for tri in triangles[in_front]:
        cv2.fillConvexPoly(mask, tri, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return mask


def covers(K: np.ndarray, vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) bool: whether the mesh's projection covers each point (pixels, (N, 2)), edges included:
    silhouette_mask's answer at a few points, by a vectorised test against every triangle instead
    of drawing the whole silhouette one triangle per call."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    in_front = (vertices[faces][..., 2] > 1e-3).all(axis=1)
    tri = project(K, vertices)[faces[in_front]]  # (F, 3, 2)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    result = np.zeros(len(points), bool)
    for n, p in enumerate(points):
        edges = [(q1[:, 0] - q0[:, 0]) * (p[1] - q0[:, 1]) - (q1[:, 1] - q0[:, 1]) * (p[0] - q0[:, 0])
                 for q0, q1 in ((a, b), (b, c), (c, a))]
        signs = np.stack(edges)
        result[n] = bool(((signs >= 0).all(0) | (signs <= 0).all(0)).any())
    return result
