"""The keypoint layout (OpenPose BODY_25) as the bridge uses it: indices, limbs, mappings from
other layouts, and what a person's keypoints are (PersonTarget).

BODY_25's names and order are owned by bridge.result.format. Points a source does not have get
confidence 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .result.format import BODY_25

# The layout itself (names and order) is the result format's: one owner, shared with the add-on.
INDEX = {name: i for i, name in enumerate(BODY_25)}

# Lines drawn between keypoints in overlays.
LIMBS = [
    (1, 8), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11),
    (8, 12), (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18),
    (14, 19), (19, 20), (14, 21), (11, 22), (22, 23), (11, 24),
]

# Source index (or pair of indices averaged) for each BODY_25 point; None: the source lacks it.
_BLAZEPOSE_33 = {
    "nose": 0, "neck": (11, 12),
    "right_shoulder": 12, "right_elbow": 14, "right_wrist": 16,
    "left_shoulder": 11, "left_elbow": 13, "left_wrist": 15,
    "mid_hip": (23, 24),
    "right_hip": 24, "right_knee": 26, "right_ankle": 28,
    "left_hip": 23, "left_knee": 25, "left_ankle": 27,
    "right_eye": 5, "left_eye": 2, "right_ear": 8, "left_ear": 7,
    "left_big_toe": 31, "left_small_toe": None, "left_heel": 29,
    "right_big_toe": 32, "right_small_toe": None, "right_heel": 30,
}
COCO_17 = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]
# COCO-WholeBody's six foot points follow the 17 body points.
COCO_FEET = ["left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel"]


def _coco_table(names: list[str]) -> dict:
    table = {name: (names.index(name) if name in names else None) for name in BODY_25}
    table["neck"] = (names.index("left_shoulder"), names.index("right_shoulder"))
    table["mid_hip"] = (names.index("left_hip"), names.index("right_hip"))
    return table


def mapping_matrix(source: str | list[str]) -> np.ndarray:
    """(25, N) matrix M with body25 = M @ source_points: one row per BODY_25 point.

    `source` is "blazepose33", "coco17", or a list of COCO-style point names (the names a body
    model's regressor gives). A row of zeros marks a point the source lacks.
    """
    if source == "blazepose33":
        table, count = _BLAZEPOSE_33, 33
    elif source == "coco17":
        table, count = _coco_table(COCO_17), 17
    else:
        table, count = _coco_table(list(source)), len(source)
    matrix = np.zeros((25, count))
    for row, name in enumerate(BODY_25):
        src = table[name]
        if src is None:
            continue
        for col in (src if isinstance(src, tuple) else (src,)):
            matrix[row, col] = 1.0 / (len(src) if isinstance(src, tuple) else 1)
    return matrix


def map_keypoints(points: np.ndarray, confidence: np.ndarray, source: str | list[str]):
    """Source keypoints (N, 2) and confidences (N,) to BODY_25; averaged points take the lower
    confidence of their two sources, missing points get 0."""
    matrix = mapping_matrix(source)
    body_points = matrix @ points
    present = matrix > 0
    conf = np.where(present, confidence[None, :], np.inf).min(axis=1)
    conf[~present.any(axis=1)] = 0.0
    return body_points, conf


CONFIDENT = 0.3  # a keypoint at least this confident counts as found
MIN_CONFIDENT_KEYPOINTS = 6  # fewer confident keypoints than this make no person: too few to fit or to compare


def keypoint_size(points: np.ndarray, confidence: np.ndarray) -> float:
    """A detection's size in pixels: the diagonal of its confident keypoints' box (0 without any)."""
    confident = points[confidence >= CONFIDENT]
    return float(np.linalg.norm(np.ptp(confident, axis=0))) if len(confident) else 0.0


def keypoint_area(points: np.ndarray, confidence: np.ndarray) -> float:
    """The area in pixels^2 of its confident keypoints' box (0 without two): how large a person
    the photo shows."""
    confident = points[confidence >= CONFIDENT]
    return float(np.prod(np.ptp(confident, axis=0))) if len(confident) >= 2 else 0.0


def same_person(points, confidence, other_points, other_confidence, tolerance: float = 0.1) -> bool:
    """Whether two detections are one person: their joints lie within `tolerance` of its size."""
    both = (confidence >= CONFIDENT) & (other_confidence >= CONFIDENT)
    if both.sum() < MIN_CONFIDENT_KEYPOINTS:
        return False
    size = np.linalg.norm(np.ptp(other_points[both], axis=0))
    return float(np.linalg.norm(points[both] - other_points[both], axis=1).mean()) < tolerance * size


def points_inside(points: np.ndarray, region) -> np.ndarray:
    """(N,) bool: which points lie in `region`, a bool mask (H, W) or a rectangle (x0, y0, x1, y1)."""
    x, y = points[:, 0], points[:, 1]
    if isinstance(region, np.ndarray) and region.ndim == 2:
        height, width = region.shape
        col, row = np.floor(x).astype(int), np.floor(y).astype(int)
        on_image = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        inside = np.zeros(len(points), bool)
        inside[on_image] = region[row[on_image], col[on_image]]
        return inside
    x0, y0, x1, y1 = region
    return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)


def share_inside(points: np.ndarray, confidence: np.ndarray, region) -> float:
    """Fraction of a person's confident keypoints that lie in `region` (0 when none is confident)."""
    confident = confidence >= CONFIDENT
    return float(points_inside(points[confident], region).mean()) if confident.any() else 0.0


@dataclass
class PersonTarget:
    """What one person is fitted to: BODY_25 pixels, confidences and, from the detector, a
    metric 3D estimate in camera-aligned axes (None from keypoint files)."""

    points: np.ndarray  # (25, 2)
    confidence: np.ndarray  # (25,)
    points3d: np.ndarray | None = None
    # How much the fit trusts points3d's limb directions (FitSettings.direction_weight times this).
    points3d_weight: float = 1.0
