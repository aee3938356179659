"""2D keypoints with MediaPipe Pose, offline: mediapipe 0.10.21 ships its pose detector and full
landmark model; the heavy landmark model ships beside this file (models/, Apache-2.0)."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..imaging.masks import dilate_mask, margin_px
from ..imaging.photo import MAX_PROCESSING_SIDE, shrink_scale
from ..keypoints import CONFIDENT, keypoint_size, map_keypoints, mapping_matrix, points_inside, same_person
from .isolation import isolate_fighter

MIN_DETECTION_CONFIDENCE = 0.3
# Which BlazePose landmark model the detector runs: full, or heavy (shipped in models/, selectable,
# not the default: docs/decisions.md, "The heavy landmark model").
LANDMARK_MODEL = "full"
COMPLEXITY = {"full": 1, "heavy": 2}
HEAVY_MODEL = Path(__file__).resolve().parent / "models" / "pose_landmark_heavy.tflite"
log = logging.getLogger(__name__)


# MediaPipe graphs run side by side, one view each: a static image's result does not depend on the
# graph or on what it saw before, and a graph's wait releases the interpreter lock (measured in
# docs/decisions.md, "The heavy landmark model").
GRAPHS = max(1, min(2, os.cpu_count() or 1))
_silenced = {"count": 0, "saved": None}
_silenced_lock = threading.Lock()


@contextlib.contextmanager
def _native_stderr_silenced():
    """TFLite and glog write to file descriptor 2 from C++; keep that chatter off the terminal.
    Counted, so that threads detecting side by side restore the real stderr only when the last
    one is done."""
    with _silenced_lock:
        if _silenced["count"] == 0:
            sys.stderr.flush()
            _silenced["saved"] = os.dup(2)
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 2)
        _silenced["count"] += 1
    try:
        yield
    finally:
        with _silenced_lock:
            _silenced["count"] -= 1
            if _silenced["count"] == 0:
                os.dup2(_silenced["saved"], 2)
                os.close(_silenced["saved"])


@contextlib.contextmanager
def _pyplot_stand_in():
    """While mediapipe imports, placeholders for matplotlib and pyplot: its drawing utilities
    import pyplot at module level (most of mediapipe's import time) for a plotting helper the
    bridge never calls (docs/decisions.md, "Warm bridge"). They are removed after, so a later
    import of matplotlib gets the real one."""
    if "matplotlib" in sys.modules:
        yield
        return
    stand_ins = {name: types.ModuleType(name) for name in ("matplotlib", "matplotlib.pyplot")}
    stand_ins["matplotlib"].pyplot = stand_ins["matplotlib.pyplot"]
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def heavy_in_package(package_dir: Path, source: Path = HEAVY_MODEL) -> bool:
    """Puts the shipped heavy model where mediapipe's legacy solution looks for it (inside the
    installed package, where it would otherwise try to download it), once; True when it is there.
    Written to a temporary file and renamed, so an interrupted copy never leaves half a model."""
    target = package_dir / "modules" / "pose_landmark" / "pose_landmark_heavy.tflite"
    if not source.is_file():
        return False
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        return True
    try:
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as part:
            temporary = Path(part.name)
        try:
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as error:
        log.warning("the heavy landmark model could not be put into %s (%s); using the full one", target.parent,
                    error)
        return False
    return True


def landmark_model_in_use(model: str | None = None) -> str:
    """The landmark model the detector runs here for `model` (default LANDMARK_MODEL): that one, or
    full where heavy cannot be had."""
    return _pose_estimator(model)[1]


def _pose_estimator(model: str | None = None):
    return _estimator_for(model or LANDMARK_MODEL)


class _Graphs:
    """MediaPipe pose graphs, each used by one thread at a time."""

    def __init__(self, graphs: list):
        self._free = queue.Queue()
        for graph in graphs:
            self._free.put(graph)

    @contextlib.contextmanager
    def one(self):
        graph = self._free.get()
        try:
            yield graph
        finally:
            self._free.put(graph)


@functools.lru_cache(maxsize=2)
def _estimator_for(model: str):
    if model not in COMPLEXITY:
        raise ValueError(f"landmark model {model!r}: one of {sorted(COMPLEXITY)}")
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _pyplot_stand_in():
        import mediapipe as mp

    if model == "heavy" and not heavy_in_package(Path(mp.__file__).resolve().parent):
        model = "full"
    with _native_stderr_silenced():
        return _Graphs([mp.solutions.pose.Pose(static_image_mode=True, model_complexity=COMPLEXITY[model],
                                               min_detection_confidence=MIN_DETECTION_CONFIDENCE)
                        for _ in range(GRAPHS)]), model


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=GRAPHS, thread_name_prefix="mediapipe")


def warm_up(models: tuple[str | None, ...] = (None,)) -> None:
    """Every graph of these models (None: LANDMARK_MODEL) loaded and run once: its first image
    pays the model's set-up."""
    for model in models:
        detect_views([(np.zeros((64, 64, 3), np.uint8), 0)] * GRAPHS, model)


def detect_views(views: list[tuple[np.ndarray, int]], model: str | None = None) -> list[Detection | None]:
    """detect_body25 of each (image, quarter_turns), in order, on GRAPHS graphs side by side."""
    if GRAPHS == 1 or len(views) < 2:
        return [detect_body25(image, turns, model) for image, turns in views]
    _pose_estimator(model)  # the graphs made here, by one thread
    return list(_pool().map(lambda view: detect_body25(*view, model), views))


def _rotate(rgb: np.ndarray, quarter_turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(rgb, k=-quarter_turns))  # clockwise turns


def _unrotate_points(points: np.ndarray, quarter_turns: int, width: int, height: int) -> np.ndarray:
    """Points found in the image turned clockwise by quarter_turns, back in the original's frame."""
    x, y = points[:, 0], points[:, 1]
    turns = quarter_turns % 4
    if turns == 0:
        return points.copy()
    if turns == 1:  # clockwise 90: original (x, y) went to (height - y, x)
        return np.stack([y, height - x], axis=1)
    if turns == 2:
        return np.stack([width - x, height - y], axis=1)
    return np.stack([width - y, x], axis=1)


@dataclass
class Detection:
    points: np.ndarray  # (25, 2) BODY_25 in the image's pixels
    confidence: np.ndarray  # (25,)
    points3d: np.ndarray  # (25, 3) MediaPipe's metric 3D estimate, camera-aligned axes, hips at 0


def _turn_3d(points3d: np.ndarray, quarter_turns: int) -> np.ndarray:
    """3D points estimated in the turned image, back in the original camera's axes."""
    angle = -quarter_turns * np.pi / 2  # undo the clockwise turn about the viewing axis
    c, s = np.cos(angle), np.sin(angle)
    return points3d @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def detect_body25(rgb: np.ndarray, quarter_turns: int = 0, model: str | None = None) -> Detection | None:
    """BODY_25 keypoints of the one person MediaPipe finds, or None when it finds nobody.
    `quarter_turns` runs the detector on the image turned clockwise (for people upside down or
    lying) and maps the points back."""
    height, width = rgb.shape[:2]
    turned = _rotate(rgb, quarter_turns)
    with _pose_estimator(model)[0].one() as estimator, _native_stderr_silenced():
        result = estimator.process(turned)
    if result.pose_landmarks is None:
        return None
    th, tw = turned.shape[:2]
    marks = result.pose_landmarks.landmark
    points = np.array([[m.x * tw, m.y * th] for m in marks])
    visibility = np.clip(np.array([m.visibility for m in marks]), 0.0, 1.0)
    points = _unrotate_points(points, quarter_turns, width, height)
    points, confidence = map_keypoints(points, visibility, "blazepose33")
    world = np.array([[m.x, m.y, m.z] for m in result.pose_world_landmarks.landmark])
    points3d = mapping_matrix("blazepose33") @ _turn_3d(world, quarter_turns)
    return Detection(points, confidence, points3d)


def _scaled_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)


def detect_fighter(rgb: np.ndarray, mask: np.ndarray, other_mask: np.ndarray | None = None) -> Detection | None:
    """BODY_25 keypoints of the fighter covered by `mask`, in `rgb`'s pixels, whichever way up the
    fighter is; None when the detector finds nobody at any turn.

    The detector sees the fighter isolated (see isolate_fighter) and turned by 0, 90, 180 and
    270 degrees; the candidate with the most confident keypoints inside the fighter's mask (grown a
    little) wins, upright on ties, its keypoints averaged with the other turns' that agree (fused).
    MediaPipe's own visibility is no guide here: a wrong quarter turn can score 0.98. Large photos
    are detected at MAX_PROCESSING_SIDE pixels at most."""
    return detect_isolated(isolated_view(rgb, mask, other_mask))


def isolated_view(rgb: np.ndarray, mask: np.ndarray, other_mask: np.ndarray | None = None):
    """What detect_fighter shows the detector (OpenCV work only, no detector: two fighters' views
    can be prepared side by side): the isolated image at the working size, the region its
    keypoints should fall in, and the scale."""
    height, width = mask.shape
    scale = shrink_scale(width, height, MAX_PROCESSING_SIDE)
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        mask = _scaled_mask(mask, size)
        other_mask = None if other_mask is None else _scaled_mask(other_mask, size)
    return isolate_fighter(rgb, mask, other_mask), dilate_mask(mask, margin_px(mask)), scale


def detect_isolated(view) -> Detection | None:
    """detect_fighter's detection on a view from isolated_view."""
    return detect_isolated_views([view])[0]


def detect_isolated_views(views: list) -> list[Detection | None]:
    """detect_isolated of each view, their turns all detected side by side."""
    found = detect_views([(view[0], quarter_turns) for view in views for quarter_turns in range(4)])
    return [_chosen_turn(view, found[4 * i:4 * i + 4]) for i, view in enumerate(views)]


def _chosen_turn(view, turns: list[Detection | None]) -> Detection | None:
    isolated, region, scale = view
    found = [d for d in turns if d is not None]
    if not found:
        return None
    # Upright first in `found`, so that it wins ties.
    best = max(found, key=lambda d: int(points_inside(d.points[d.confidence >= CONFIDENT], region).sum()))
    best = fused(best, [d for d in found if d is not best and same_person(d.points, d.confidence, best.points,
                                                                            best.confidence)])
    best.points = best.points / scale
    return best


FUSE_TOLERANCE = 0.05  # of the person's size: another view's keypoint this near the chosen one joins its mean


def fused(best: Detection, others: list[Detection]) -> Detection:
    """`best` with each keypoint averaged, by confidence, with where other views of the same person
    put it when they put it near. Why: MediaPipe's error changes with the image's turn, and
    views that agree average some of it out: on the six committed judo scenes the fighters'
    mean keypoint error went from 18.95 to 18.39 px (seoi-nage's uke 10.7 -> 7.6), none worse
    by more than 0.2 px. Fusing the candidates' views of the whole photo as well moved single
    fighters by up to 50 px either way (a different first pass), so it is not done."""
    size = keypoint_size(best.points, best.confidence)
    total, weight = best.points * best.confidence[:, None], best.confidence.copy()
    for other in others:
        near = np.linalg.norm(other.points - best.points, axis=1) < FUSE_TOLERANCE * size
        total += other.points * (other.confidence * near)[:, None]
        weight += other.confidence * near
    points = np.where(weight[:, None] > 0, total / np.maximum(weight, 1e-9)[:, None], best.points)
    return Detection(points, best.confidence, best.points3d)
