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


CONFIDENT = 0.3  # a keypoint at least this confident counts as found
MIN_CONFIDENT_KEYPOINTS = 6  # fewer confident keypoints than this make no person: too few to fit or to compare


def keypoint_size(points: np.ndarray, confidence: np.ndarray) -> float:
    """A detection's size in pixels: the diagonal of its confident keypoints' box (0 without any)."""
    confident = points[confidence >= CONFIDENT]
    return float(np.linalg.norm(np.ptp(confident, axis=0))) if len(confident) else 0.0


def same_person(points, confidence, other_points, other_confidence, tolerance: float = 0.1) -> bool:
    """Whether two detections are one person: their joints lie within `tolerance` of its size."""
    both = (confidence >= CONFIDENT) & (other_confidence >= CONFIDENT)
    if both.sum() < MIN_CONFIDENT_KEYPOINTS:
        return False
    size = np.linalg.norm(np.ptp(other_points[both], axis=0))
    return float(np.linalg.norm(points[both] - other_points[both], axis=1).mean()) < tolerance * size


def _openpose_people(data) -> list[tuple[np.ndarray, np.ndarray]]:
    people = []
    for person in data["people"]:
        flat = np.asarray(person["pose_keypoints_2d"], dtype=float)
        if flat.shape != (75,):
            raise ValueError(f"pose_keypoints_2d has {flat.size} numbers, BODY_25 needs 75")
        triples = flat.reshape(25, 3)
        people.append((triples[:, :2].copy(), np.clip(triples[:, 2], 0.0, 1.0)))
    return people


def _coco_person(entry: dict) -> tuple[np.ndarray, np.ndarray]:
    """One COCO entry to BODY_25. The third number of each triple is a visibility flag (0 not
    labelled, 1 hidden, 2 visible) in datasets and a score in detector results; clipping it to
    [0, 1] reads both: unlabelled points get confidence 0, labelled ones their score or 1.
    COCO-WholeBody entries (foot points after the 17 body points, or in "foot_kpts") keep the feet."""
    flat = np.asarray(list(entry["keypoints"]) + list(entry.get("foot_kpts", [])), dtype=float)
    if flat.ndim != 1 or flat.size % 3 or flat.size // 3 not in (17, 23, 133):
        raise ValueError(f"keypoints has {flat.size} numbers, COCO needs 51 (17 points x 3)")
    triples = flat.reshape(-1, 3)
    names = COCO_17 if len(triples) == 17 else COCO_17 + COCO_FEET
    triples = triples[: len(names)]
    return map_keypoints(triples[:, :2], np.clip(triples[:, 2], 0.0, 1.0), names)


def _coco_people(data) -> list[tuple[np.ndarray, np.ndarray]]:
    """People of a COCO results list or of a dataset dict's "annotations", all from one photo;
    entries with no labelled point (crowd regions) are left out."""
    entries = data["annotations"] if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise TypeError("expected a list of keypoint entries")
    images = {entry.get("image_id") for entry in entries}
    if len(images) > 1:
        raise ValueError(f"it holds people of {len(images)} images; give the people of one photo")
    people = [_coco_person(entry) for entry in entries]
    return [(points, conf) for points, conf in people if conf.any()]


def _any_people(data) -> list[tuple[np.ndarray, np.ndarray]]:
    """OpenPose files are dicts with "people"; anything else is read as COCO."""
    if isinstance(data, dict) and "people" in data:
        return _openpose_people(data)
    return _coco_people(data)


_OPENPOSE_EXAMPLE = '{"people": [{"pose_keypoints_2d": [x, y, c, ... 75 numbers]}]}'
_COCO_EXAMPLE = '[{"image_id": 1, "keypoints": [x, y, v, ... 51 numbers]}] or a dataset with "annotations"'


def _load_people(path: str | Path, format_name: str, expected: str, parse) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read a keypoint JSON file with `parse`, turning every way it can fail into a BridgeError
    that names the file and shows the expected layout."""
    path = Path(path)
    try:
        people = parse(json.loads(path.read_text()))
    except FileNotFoundError:
        raise BridgeError("keypoints_missing", f"The keypoint file {path} does not exist.",
                          "Check the path given to --keypoints.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError, TypeError,
            ValueError) as exc:
        raise BridgeError("keypoints_malformed", f"The keypoint file {path} is not {format_name} JSON ({exc}).",
                          f"Expected {expected}.") from None
    if not people:
        raise BridgeError("no_person", f"The keypoint file {path} lists no people.",
                          "Give a file with at least one person's keypoints.")
    return people


def load_openpose_json(path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """People in an OpenPose BODY_25 JSON file, each as (points (25, 2), confidence (25,))."""
    return _load_people(path, "OpenPose BODY_25", _OPENPOSE_EXAMPLE, _openpose_people)


def load_coco_json(path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """People in a COCO keypoint file (detector results list or dataset dict), mapped to BODY_25."""
    return _load_people(path, "COCO keypoint", _COCO_EXAMPLE, _coco_people)


def load_keypoint_file(path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """People in an OpenPose or a COCO keypoint file, whichever it is, in BODY_25."""
    return _load_people(path, "OpenPose or COCO keypoint", f"{_OPENPOSE_EXAMPLE}, or COCO: {_COCO_EXAMPLE}",
                        _any_people)


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


MIN_SHARE_INSIDE = 0.3  # a fighter whose best person has fewer of its points inside gets nobody


def assign_people(people: list[tuple[np.ndarray, np.ndarray]], regions: list) -> list[int | None]:
    """For each fighter's region (bool mask or rectangle), the index of the person in `people`
    that belongs to it, or None. One person per fighter, chosen together (Hungarian) so that two
    tangled fighters do not both claim the person who overlaps both regions."""
    from scipy.optimize import linear_sum_assignment

    share = np.array([[share_inside(points, conf, region) for points, conf in people] for region in regions])
    assigned: list[int | None] = [None] * len(regions)
    if share.size == 0:
        return assigned
    fighters, persons = linear_sum_assignment(-share)
    for fighter, person in zip(fighters, persons):
        if share[fighter, person] >= MIN_SHARE_INSIDE:
            assigned[fighter] = int(person)
    return assigned


def pick_two(people: list[tuple[np.ndarray, np.ndarray]], width: int, height: int) -> list[int]:
    """Indices of the two people most likely to be the fighters, best first: the largest and most
    central (keypoint box area, scaled down linearly to 0 at a corner of the photo). Referees and
    spectators tend to be smaller or at the edges."""
    centre = np.array([width, height]) / 2.0
    half_diagonal = np.linalg.norm(centre)

    def score(person) -> float:
        points, conf = person
        confident = points[conf >= CONFIDENT]
        if len(confident) == 0:
            return 0.0
        low, high = confident.min(axis=0), confident.max(axis=0)
        off_centre = np.linalg.norm((low + high) / 2.0 - centre) / half_diagonal
        return float(np.prod(high - low) * max(0.0, 1.0 - off_centre))

    ranked = sorted(range(len(people)), key=lambda index: -score(people[index]))
    return ranked[:2]
