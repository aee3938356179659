"""People from a keypoint file (OpenPose BODY_25 or COCO JSON): a source of people, like a
detector, and how the file's people are matched to the fighters (regions, or the two largest)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import BridgeError
from ..keypoints import COCO_17, COCO_FEET, CONFIDENT, keypoint_area, map_keypoints, share_inside


def _usable(points: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A point with a NaN or infinite coordinate or confidence (JSON's NaN, Infinity, 1e999) is a
    point not found: confidence 0, so it neither steers the fit nor turns its numbers into NaN."""
    bad = ~(np.isfinite(points).all(axis=1) & np.isfinite(confidence))
    points, confidence = points.copy(), confidence.copy()
    points[bad] = 0.0
    confidence[bad] = 0.0
    return points, np.clip(confidence, 0.0, 1.0)


def _openpose_people(data) -> list[tuple[np.ndarray, np.ndarray]]:
    people = []
    for person in data["people"]:
        flat = np.asarray(person["pose_keypoints_2d"], dtype=float)
        if flat.shape != (75,):
            raise ValueError(f"pose_keypoints_2d has {flat.size} numbers, BODY_25 needs 75")
        triples = flat.reshape(25, 3)
        people.append(_usable(triples[:, :2], triples[:, 2]))
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
    return map_keypoints(*_usable(triples[:, :2], triples[:, 2]), names)


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


# Keypoints of a file must lie on the photo: at least half of a person's confident points within
# the photo widened by half its size on every side (a fighter may reach out of the frame a little).
NEAR_PHOTO_MARGIN = 0.5
MIN_SHARE_NEAR_PHOTO = 0.5


def check_near_photo(path, points: np.ndarray, confidence: np.ndarray, width: int, height: int) -> None:
    """A BridgeError when a person's keypoints lie off the photo (another photo's keypoints, or
    another scale): fitting them would place the body far outside the camera's view."""
    confident = points[confidence >= CONFIDENT]
    if len(confident) == 0:
        return
    low = -NEAR_PHOTO_MARGIN * np.array([width, height])
    high = (1 + NEAR_PHOTO_MARGIN) * np.array([width, height])
    near = ((confident >= low) & (confident <= high)).all(axis=1)
    if near.mean() < MIN_SHARE_NEAR_PHOTO:
        (x0, y0), (x1, y1) = confident.min(axis=0), confident.max(axis=0)
        raise BridgeError("keypoints_outside", f"The keypoints in {path} lie outside the {width}x{height} photo "
                          f"(x {x0:.4g} to {x1:.4g}, y {y0:.4g} to {y1:.4g} pixels).",
                          "Give keypoints in this photo's pixels (from the same photo, at its full size).")


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


def prominence(points: np.ndarray, confidence: np.ndarray, width: int, height: int) -> float:
    """How likely a person is a fighter: keypoint box area, scaled down linearly to 0 at a corner
    of the photo. Referees and spectators tend to be smaller or at the edges."""
    confident = points[confidence >= CONFIDENT]
    if len(confident) == 0:
        return 0.0
    centre = np.array([width, height]) / 2.0
    low, high = confident.min(axis=0), confident.max(axis=0)
    off_centre = np.linalg.norm((low + high) / 2.0 - centre) / np.linalg.norm(centre)
    return keypoint_area(points, confidence) * max(0.0, 1.0 - off_centre)

