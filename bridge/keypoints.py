"""The canonical keypoint order (OpenPose BODY_25) and every mapping into it.

BODY_25 is what the original method used and what OpenPose JSON files carry. Points a source
does not have get confidence 0.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import BridgeError

BODY_25 = [
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
]
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


def load_openpose_json(path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """People in an OpenPose BODY_25 JSON file, each as (points (25, 2), confidence (25,))."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        people = []
        for person in data["people"]:
            flat = np.asarray(person["pose_keypoints_2d"], dtype=float)
            if flat.shape != (75,):
                raise ValueError(f"pose_keypoints_2d has {flat.size} numbers, BODY_25 needs 75")
            triples = flat.reshape(25, 3)
            people.append((triples[:, :2].copy(), np.clip(triples[:, 2], 0.0, 1.0)))
    except FileNotFoundError:
        raise BridgeError("keypoints_missing", f"The keypoint file {path} does not exist.",
                          "Check the path given to --keypoints.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BridgeError(
            "keypoints_malformed",
            f"The keypoint file {path} is not OpenPose BODY_25 JSON ({exc}).",
            'Expected {"people": [{"pose_keypoints_2d": [x, y, c, ... 75 numbers]}]}.',
        ) from None
    if not people:
        raise BridgeError("no_person", f"The keypoint file {path} lists no people.",
                          "Give a file with at least one entry in \"people\".")
    return people
