"""MediaPipe's two BlazePose models run directly (ai-edge-litert): the pose detector finds people
(boxes with alignment points, at four quarter turns), the full landmark model gives each one's
33 landmarks, world landmarks and segmentation on the rotated crop its alignment points give.

Why: it finds several people in one photo, each with its own mask, where MediaPipe's legacy
solution (mediapipe_pose.py) finds one. A person's mask is painted out and the detector runs
again (at most max_people + 1 passes; a pass that adds nobody ends it), so that a fighter hidden
behind the other is found. Anchors, decoding, weighted NMS and the detection -> ROI step follow
mediapipe's graphs (pose_detection_cpu.pbtxt, pose_detection_to_roi.pbtxt, pose_landmark_by_roi).
Measured in docs/decisions.md, "Detector interface". Coordinates are continuous pixels.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..keypoints import CONFIDENT, map_keypoints
from .blazepose import (LANDMARK_MODEL, LM_COUNT, LM_SIZE, POSE_PRESENCE_MIN, ROI_SCALE, ROI_TARGET_ANGLE, Pyramid, Roi,
                        _invert_affine, _normalize_angle, _to_index, compose, interpreter, landmark_crop, model_path,
                        world_in_image_axes)

# ---------------------------------------------------------------------------------------------
# Constants from mediapipe's graphs (mediapipe 0.10.x modules/pose_detection, pose_landmark).
# ---------------------------------------------------------------------------------------------
DET_SIZE = 224
DET_NUM_BOXES = 2254
DET_STRIDES = (8, 16, 32, 32, 32)
DET_SCORE_CLIP = 100.0
DET_MIN_SCORE = 0.2  # TensorsToDetections min_score_thresh
NMS_IOU = 0.3  # NonMaxSuppression min_suppression_threshold, weighted
HEATMAP_KERNEL = 7
HEATMAP_MIN_CONF = 0.5

# Our own choices (not mediapipe's).
TILE_TRIGGER = 0.5  # tiles when every good whole-photo candidate's ROI is smaller than this share of the long side
ACCEPT_SCORE = 0.5  # first-pass candidates below this detection score are ignored
MASKED_ACCEPT_SCORE = 0.2  # after painting people out: mediapipe's own minimum, quality decides
MIN_QUALITY = 0.3  # detection score x pose presence x mean visibility of the core landmarks
MASKED_MIN_QUALITY = 0.15
APART_DISTANCE = 0.5  # first pass: a second person must be this far (share of size) from the first
APART_OVERLAP = 0.2  # ... and overlap its mask by less than this share
MAX_SIDE = 1024  # detect_people works on a copy at most this large (results in the photo's pixels)
MAX_TRIALS = 8  # candidates per pass given to the landmark model
DUPLICATE_TOLERANCE = 0.15  # mean landmark distance, as a share of the person's size
DUPLICATE_MASK_IOU = 0.5
GHOST_ON_FOUND = 0.5  # share of a new person's confident core landmarks on found people
CORE = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)  # shoulders .. ankles

# ---------------------------------------------------------------------------------------------
# Data types
# ---------------------------------------------------------------------------------------------
@dataclass
class Detection:
    score: float
    box: np.ndarray  # (4,) x0, y0, x1, y1 in image pixels (the detector's box: roughly the face)
    keypoints: np.ndarray  # (4, 2): hip centre, full-body scale/rotation point, shoulder centre, upper-body point
    source: str = ""

    def roi(self) -> Roi:
        return roi_from_alignment(self.keypoints[0], self.keypoints[1])


@dataclass
class Person:
    landmarks_px: np.ndarray  # (33, 2) image pixels
    visibility: np.ndarray  # (33,) sigmoid
    presence: np.ndarray  # (33,) sigmoid
    z: np.ndarray  # (33,) relative depth in pixels (same scale as x), hips about 0, smaller = nearer
    world: np.ndarray  # (33, 3) metres, hip-centred, x/y turned with the ROI (camera-aligned)
    mask: np.ndarray | None  # (H, W) float32 in [0, 1]
    score: float  # detection score (sigmoid); for landmarks_for_roi: the pose presence
    pose_presence: float  # the landmark model's pose flag
    box: Roi  # the ROI the landmarks came from
    source: str  # how it was found: "full@0", "full@180", "tile3@0", "masked1:full@0", "roi", ...
    aux_px: np.ndarray = field(default_factory=lambda: np.zeros((2, 2)))  # alignment points
    quality: float = 0.0  # score x pose_presence x mean core visibility, what ranked it

    @property
    def confidence(self) -> np.ndarray:
        """(33,) per-landmark confidence used by the project: the visibility."""
        return self.visibility

    def body25(self):
        """(points (25, 2), confidence (25,)) in BODY_25."""
        return map_keypoints(self.landmarks_px, np.clip(self.visibility, 0.0, 1.0), "blazepose33")

    def size(self) -> float:
        pts = self.landmarks_px[self.visibility >= CONFIDENT]
        if len(pts) < 2:
            pts = self.landmarks_px
        return float(np.linalg.norm(np.ptp(pts, axis=0)))


# ---------------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80, 80)))


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def roi_from_alignment(center, scale_point, scale: float = ROI_SCALE) -> Roi:
    """mediapipe's AlignmentPointsRectsCalculator + RectTransformation(square_long, scale):
    centre = the first point, side = 2 * distance * scale, rotation that turns the first->second
    vector to point up."""
    center = np.asarray(center, float)
    d = np.asarray(scale_point, float) - center
    angle = _normalize_angle(ROI_TARGET_ANGLE - math.atan2(-d[1], d[0]))
    return Roi(center, 2.0 * float(np.hypot(*d)) * scale, angle)


def _anchors() -> np.ndarray:
    """(2254, 2) anchor centres in [0, 1] (fixed_anchor_size: width = height = 1).
    Same-stride layers are merged; each merged layer puts 2 anchors per layer (aspect ratio 1 and
    the interpolated one) at every feature-map cell."""
    centers = []
    layer = 0
    while layer < len(DET_STRIDES):
        stride = DET_STRIDES[layer]
        count = 0
        while layer < len(DET_STRIDES) and DET_STRIDES[layer] == stride:
            count += 2
            layer += 1
        fm = int(math.ceil(DET_SIZE / stride))
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centers.append(np.repeat(cell, count, axis=0))
    anchors = np.concatenate(centers)
    assert len(anchors) == DET_NUM_BOXES, len(anchors)
    return anchors


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box a (4,) with boxes b (N, 4)."""
    x0 = np.maximum(a[0], b[:, 0])
    y0 = np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[2], b[:, 2])
    y1 = np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda r: np.clip(r[..., 2] - r[..., 0], 0, None) * np.clip(r[..., 3] - r[..., 1], 0, None)
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _weighted_nms(boxes, keypoints, scores, threshold=NMS_IOU):
    """mediapipe's WEIGHTED non-max suppression: the best remaining box absorbs every remaining
    box overlapping it by more than `threshold` IoU; its coordinates become their
    score-weighted mean, its score stays the best's."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    alive = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        idx = np.nonzero(alive)[0]
        ious = _iou(boxes[i], boxes[idx])
        group = idx[ious > threshold]
        if i not in group:
            group = np.append(group, i)
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        kps = (keypoints[group] * w[:, :, None]).sum(0) / w.sum()
        out.append((float(scores[i]), box, kps))
        alive[group] = False
    return out


def _merge_candidates(dets: list[Detection], tolerance: float = 0.2) -> list[Detection]:
    """One candidate per person across runs (turns, tiles): the same hip centre (within a fifth
    of the ROI) and a similar ROI size make a duplicate. Candidates are taken in the order of
    their score, except that the upright whole-photo run's candidates above ACCEPT_SCORE go first
    (the score of one person differs little between turns, the landmarks of the upright run
    are the ones mediapipe itself would give)."""
    kept: list[Detection] = []
    first = lambda d: (not (d.source.endswith("full@0") and d.score >= ACCEPT_SCORE), -d.score)
    for det in sorted(dets, key=first):
        roi = det.roi()
        dup = False
        for k in kept:
            kr = k.roi()
            ratio = roi.size / max(kr.size, 1e-6)
            if (np.linalg.norm(roi.center - kr.center) < tolerance * max(roi.size, kr.size)
                    and 1 / (1 + 2.5 * tolerance) < ratio < 1 + 2.5 * tolerance):
                dup = True
                break
        if not dup:
            kept.append(det)
    return kept


# ---------------------------------------------------------------------------------------------
# The models
# ---------------------------------------------------------------------------------------------
class BlazePose:
    """The two models, loaded once (detector())."""

    def __init__(self, threads: int = 1):
        self.detector = interpreter(model_path("pose_detection.tflite", "pose_detection"), threads)
        self.landmarker = interpreter(model_path(LANDMARK_MODEL, "pose_landmark"), threads)
        self.anchors = _anchors()
        self._det_in = self.detector.get_input_details()[0]["index"]
        self._det_out = {}
        for d in self.detector.get_output_details():
            last = int(d["shape"][-1])
            self._det_out["boxes" if last == 12 else "scores"] = d["index"]
        self._lm_in = self.landmarker.get_input_details()[0]["index"]
        self._lm_out = {}
        for d in self.landmarker.get_output_details():
            shape = tuple(int(s) for s in d["shape"])
            size = int(np.prod(shape))
            if size == LM_COUNT * 5:
                key = "landmarks"
            elif size == LM_COUNT * 3:
                key = "world"
            elif size == 1:
                key = "flag"
            elif len(shape) == 4 and shape[-1] == 1:
                key = "segmentation"
            elif len(shape) == 4 and shape[-1] == LM_COUNT:
                key = "heatmap"
            else:
                continue
            self._lm_out[key] = d["index"]
        missing = {"landmarks", "world", "flag", "segmentation", "heatmap"} - set(self._lm_out)
        if missing:
            raise ValueError(f"landmark model lacks outputs {sorted(missing)}")

    # ----------------------------------------------------------------- detector
    def detect_raw(self, image: np.ndarray, region=None, quarter_turns: int = 0,
                   min_score: float = DET_MIN_SCORE, pyramid: Pyramid | None = None,
                   source: str = "") -> list[Detection]:
        """The pose detector on `region` (x0, y0, w, h; the whole image by default) letterboxed
        to 224 with black, turned by `quarter_turns` x 90 degrees clockwise; detections in image
        pixels after weighted NMS."""
        h, w = image.shape[:2]
        x0, y0, rw, rh = region if region is not None else (0.0, 0.0, float(w), float(h))
        s = DET_SIZE / max(rw, rh)
        pad = np.array([(DET_SIZE - rw * s) / 2, (DET_SIZE - rh * s) / 2])
        # image -> letterboxed tensor (continuous coordinates)
        img_to_t = np.array([[s, 0, pad[0] - s * x0], [0, s, pad[1] - s * y0]])
        if quarter_turns % 4:
            a = (quarter_turns % 4) * math.pi / 2  # clockwise in image coordinates (y down)
            c, si = math.cos(a), math.sin(a)
            cx = DET_SIZE / 2
            rot = np.array([[c, -si, cx - c * cx + si * cx], [si, c, cx - si * cx - c * cx]])
            img_to_t = compose(rot, img_to_t)
        pyramid = pyramid or Pyramid(image)
        src, f = pyramid.pick(s)
        m = compose(img_to_t, np.array([[1 / f, 0, 0], [0, 1 / f, 0]]))
        tensor = cv2.warpAffine(src, _to_index(m), (DET_SIZE, DET_SIZE), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        x = tensor.astype(np.float32)[None] / 127.5 - 1.0
        self.detector.set_tensor(self._det_in, x)
        self.detector.invoke()
        raw = self.detector.get_tensor(self._det_out["boxes"])[0]
        scores = _sigmoid(np.clip(self.detector.get_tensor(self._det_out["scores"])[0, :, 0],
                                  -DET_SCORE_CLIP, DET_SCORE_CLIP))
        keep = scores >= min_score
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        # reverse_output_order: x, y, w, h; scales 224; fixed anchors of size 1.
        cxy = raw[:, 0:2] / DET_SIZE + anchors
        wh = raw[:, 2:4] / DET_SIZE
        boxes = np.concatenate([cxy - wh / 2, cxy + wh / 2], axis=1)
        kps = raw[:, 4:12].reshape(-1, 4, 2) / DET_SIZE + anchors[:, None, :]
        t_to_img = _invert_affine(img_to_t)
        out = []
        for score, box, kp in _weighted_nms(boxes, kps, scores):
            kp_img = _apply(t_to_img, kp * DET_SIZE)
            corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]])
            c_img = _apply(t_to_img, corners * DET_SIZE)
            out.append(Detection(score, np.concatenate([c_img.min(0), c_img.max(0)]), kp_img, source))
        return out

    def detect_candidates(self, image: np.ndarray, turns=(0, 1, 2, 3), tiles: bool | None = None,
                          pyramid: Pyramid | None = None, prefix: str = "",
                          want: int = 2, tolerance: float = 0.2) -> list[Detection]:
        """Candidates from the whole photo at the given quarter turns, plus tiles when `tiles` is
        True, or (None) when fewer than `want` plausible people were found or all are small
        relative to the photo. Duplicates merged, best first."""
        pyramid = pyramid or Pyramid(image)
        h, w = image.shape[:2]
        dets = []
        for q in turns:
            dets += self.detect_raw(image, None, q, pyramid=pyramid, source=f"{prefix}full@{90 * q}")
        merged = _merge_candidates(dets, tolerance)
        if tiles is None:
            good = [d for d in merged if d.score >= ACCEPT_SCORE]
            tiles = all(d.roi().size < TILE_TRIGGER * max(h, w) for d in good)
        if tiles:
            for i, region in enumerate(self._tiles(w, h, merged)):
                for q in (0, 2):
                    dets += self.detect_raw(image, region, q, pyramid=pyramid,
                                            source=f"{prefix}tile{i}@{90 * q}")
            merged = _merge_candidates(dets, tolerance)
        return merged

    @staticmethod
    def _tiles(w: int, h: int, found: list[Detection]) -> list[tuple]:
        """Overlapping square tiles: side half the photo's long side (at least its short side
        when the photo is elongated, at least 2x the largest ROI found), half-tile stride."""
        long_side = max(w, h)
        side = max(long_side / 2, min(w, h) * 0.75)
        sizes = [d.roi().size for d in found if d.score >= ACCEPT_SCORE]
        if sizes:
            side = max(min(side, 2.0 * max(sizes)), long_side / 4)
        side = min(side, long_side)

        def starts(extent):
            if extent <= side:
                return [(extent - side) / 2]
            n = int(math.ceil((extent - side) / (side / 2))) + 1
            return list(np.linspace(0, extent - side, n))
        tiles = [(x, y, side, side) for y in starts(h) for x in starts(w)]
        if len(tiles) <= 1:
            return []
        return tiles[:25]

    # ----------------------------------------------------------------- landmarks
    def landmarks_for_roi(self, image: np.ndarray, roi: Roi, pyramid: Pyramid | None = None,
                          with_mask: bool = True, source: str = "roi") -> Person:
        """The landmark model on the rotated square `roi` of `image` (RGB uint8). Returns a
        Person whatever the pose presence (check `pose_presence` >= 0.5). Use
        blazepose.roi_from_keypoints builds a ROI from keypoints a caller has."""
        h, w = image.shape[:2]
        crop_to_img = roi.crop_to_image(LM_SIZE)
        self.landmarker.set_tensor(self._lm_in, landmark_crop(pyramid or Pyramid(image), roi))
        self.landmarker.invoke()
        raw = self.landmarker.get_tensor(self._lm_out["landmarks"]).reshape(LM_COUNT, 5)
        flag = float(self.landmarker.get_tensor(self._lm_out["flag"]).ravel()[0])
        heat = self.landmarker.get_tensor(self._lm_out["heatmap"])[0]
        world = self.landmarker.get_tensor(self._lm_out["world"]).reshape(LM_COUNT, 3)[:33].astype(np.float64)

        xy = raw[:, :2].astype(np.float64) / LM_SIZE  # normalized in the crop
        xy = _refine_from_heatmap(xy, heat)
        pts = _apply(crop_to_img, xy * LM_SIZE)
        z = raw[:33, 2].astype(np.float64) / LM_SIZE * roi.size
        vis = _sigmoid(raw[:33, 3].astype(np.float64))
        pres = _sigmoid(raw[:33, 4].astype(np.float64))
        world = world_in_image_axes(world, roi.angle)

        mask = None
        if with_mask:
            seg = _sigmoid(self.landmarker.get_tensor(self._lm_out["segmentation"])[0, :, :, 0]).astype(np.float32)
            mask = cv2.warpAffine(seg, _to_index(crop_to_img), (w, h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            # The model segments every person in the crop; keep the part near this one's skeleton.
            mask *= _skeleton_region(pts[:33], vis, (h, w))
        return Person(pts[:33], vis, pres, z, world, mask, flag, flag, roi, source, pts[33:35])

    # ----------------------------------------------------------------- people
    def detect_people(self, image: np.ndarray, max_people: int = 2, refine: bool = True,
                      max_passes: int | None = None) -> list[Person]:
        """Up to `max_people` people in an RGB uint8 photo, best detection first.

        refine: run the landmark model a second time on the ROI its own auxiliary landmarks
        give (as mediapipe does from frame to frame), keeping it when the pose is still there."""
        image = np.ascontiguousarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("expected an RGB uint8 image (H, W, 3)")
        h, w = image.shape[:2]
        if max(h, w) > MAX_SIDE:  # the models see 224 / 256 px: work on a smaller copy
            f = MAX_SIDE / max(h, w)
            small = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
            people = self.detect_people(small, max_people, refine, max_passes)
            fx, fy = w / small.shape[1], h / small.shape[0]
            for p in people:
                p.landmarks_px = p.landmarks_px * [fx, fy]
                p.aux_px = p.aux_px * [fx, fy]
                p.z = p.z * fx
                p.box = Roi(p.box.center * [fx, fy], p.box.size * fx, p.box.angle)
                p.mask = cv2.resize(p.mask, (w, h), interpolation=cv2.INTER_LINEAR)
            return people
        found: list[Person] = []
        max_passes = max_passes if max_passes is not None else max_people + 1
        work = image
        for pass_index in range(max_passes):
            pyramid = Pyramid(work)
            prefix = f"masked{pass_index}:" if pass_index else ""
            cands = self.detect_candidates(work, pyramid=pyramid, prefix=prefix,
                                           want=max_people - len(found), tolerance=0.05,
                                           tiles=False if pass_index else None)
            threshold = MASKED_ACCEPT_SCORE if pass_index else ACCEPT_SCORE
            # Landmarks for the best candidates of every turn / tile, then the best quality first.
            trials = []
            for det in [d for d in cands if d.score >= threshold][:MAX_TRIALS]:
                if found and _roi_duplicate(det.roi(), found):
                    continue
                person = self.landmarks_for_roi(work, det.roi(), pyramid, source=det.source)
                if person.pose_presence < POSE_PRESENCE_MIN:
                    continue
                person.score = det.score
                quality = _quality(person)
                if quality >= (MASKED_MIN_QUALITY if pass_index else MIN_QUALITY):
                    trials.append((quality, person))
            added = 0
            for quality, person in sorted(trials, key=lambda t: -t[0]):
                if len(found) >= max_people:
                    break
                if not self._is_new(person, found, pass_index > 0):
                    continue
                if pass_index == 0 and found and not _apart(person, found):
                    continue  # a tangle: the next people come from the painted-out passes
                if refine:
                    person = self._refined(work, person, pyramid)
                    if not self._is_new(person, found, pass_index > 0):
                        continue
                person.quality = quality
                found.append(person)
                added += 1
            if len(found) >= max_people or added == 0 and pass_index > 0:
                break
            if not found:
                break  # nothing to paint out: another pass would see the same photo
            work = _paint_out(image, [p.mask for p in found])
        return found

    def _refined(self, image, person: Person, pyramid) -> Person:
        """The landmark model again on the ROI of the person's own alignment landmarks; kept
        when the pose is still there and did not jump to someone else."""
        roi2 = roi_from_alignment(person.aux_px[0], person.aux_px[1])
        again = self.landmarks_for_roi(image, roi2, pyramid, source=person.source + "+refined")
        if again.pose_presence >= POSE_PRESENCE_MIN and _landmark_distance(again, person) < 0.25:
            again.score = person.score
            return again
        return person

    @staticmethod
    def _is_new(person: Person, found: list[Person], masked: bool) -> bool:
        core = np.array(CORE)
        confident = person.visibility[core] >= CONFIDENT
        if confident.sum() < 4:
            return False
        for other in found:
            if _landmark_distance(person, other) < DUPLICATE_TOLERANCE:
                return False
            if person.mask is not None and other.mask is not None:
                a, b = person.mask > 0.5, other.mask > 0.5
                union = (a | b).sum()
                if union and (a & b).sum() / union > DUPLICATE_MASK_IOU:
                    return False
        if masked and found:
            union = np.zeros(found[0].mask.shape, bool)
            for other in found:
                union |= other.mask > 0.5
            pts = person.landmarks_px[core][confident]
            h, w = union.shape
            xi = np.clip(pts[:, 0].astype(int), 0, w - 1)
            yi = np.clip(pts[:, 1].astype(int), 0, h - 1)
            inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
            on_found = union[yi, xi] & inside
            if on_found.mean() > GHOST_ON_FOUND:
                return False
        return True


def _apart(person: Person, found: list[Person]) -> bool:
    """Clearly someone else: landmarks far from and mask hardly overlapping everyone found."""
    for other in found:
        if _landmark_distance(person, other) < APART_DISTANCE:
            return False
        if person.mask is not None and other.mask is not None:
            a, b = person.mask > 0.5, other.mask > 0.5
            if (a & b).sum() > APART_OVERLAP * max(1, min(a.sum(), b.sum())):
                return False
    return True


def _quality(p: Person) -> float:
    return float(p.score * p.pose_presence * p.visibility[np.array(CORE)].mean())


def _landmark_distance(a: Person, b: Person) -> float:
    """Mean distance of the core landmarks both see, as a share of b's size."""
    core = np.array(CORE)
    both = (a.visibility[core] >= CONFIDENT) & (b.visibility[core] >= CONFIDENT)
    if both.sum() < 3:
        both = np.ones(len(core), bool)
    d = np.linalg.norm(a.landmarks_px[core][both] - b.landmarks_px[core][both], axis=1).mean()
    return float(d / max(b.size(), 1e-6))


def _roi_duplicate(roi: Roi, found: list[Person]) -> bool:
    """The candidate's ROI is the one an already-found person's landmarks give."""
    for p in found:
        r = roi_from_alignment(p.aux_px[0], p.aux_px[1])
        ratio = roi.size / max(r.size, 1e-6)
        if np.linalg.norm(roi.center - r.center) < 0.1 * r.size and 0.8 < ratio < 1.25:
            return True
    return False


def _refine_from_heatmap(xy: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """mediapipe's RefineLandmarksFromHeatmap (kernel 7): each landmark moves to the
    sigmoid-weighted mean position of the heatmap window around it, when that window's peak
    confidence reaches 0.5."""
    hh, hw, n = heat.shape
    out = xy.copy()
    off = (HEATMAP_KERNEL - 1) // 2
    for i in range(min(n, len(xy))):
        col, row = int(xy[i, 0] * hw), int(xy[i, 1] * hh)
        if not (0 <= col < hw and 0 <= row < hh):
            continue
        r0, r1 = max(0, row - off), min(hh, row + off + 1)
        c0, c1 = max(0, col - off), min(hw, col + off + 1)
        conf = _sigmoid(heat[r0:r1, c0:c1, i].astype(np.float64))
        total = conf.sum()
        if conf.max() < HEATMAP_MIN_CONF or total <= 0:
            continue
        rows, cols = np.mgrid[r0:r1, c0:c1]
        out[i, 0] = (cols * conf).sum() / total / hw
        out[i, 1] = (rows * conf).sum() / total / hh
    return out


BONES = [(11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28),
         (27, 29), (27, 31), (28, 30), (28, 32), (15, 19), (16, 20), (11, 12), (23, 24), (11, 23), (12, 24)]
SKELETON_WIDTH = 0.09  # limb half-width around the bones, as a share of the person's size


def _skeleton_region(pts: np.ndarray, vis: np.ndarray, shape) -> np.ndarray:
    """(H, W) float32, 1 near the person's bones (thick lines, filled torso, a head disc), soft
    edges; the landmark model's segmentation is multiplied by it to keep one person."""
    h, w = shape
    size = float(np.linalg.norm(np.ptp(pts[[0, 11, 12, 23, 24, 27, 28]], axis=0)))
    size = max(size, 8.0)
    r = max(2, int(SKELETON_WIDTH * size))
    sc = 4  # draw at 1/4 resolution for speed
    small = np.zeros(((h + sc - 1) // sc, (w + sc - 1) // sc), np.uint8)
    p = np.round(pts / sc * 16).astype(np.int64)  # 4 fractional bits
    rs = max(1, r // sc)
    for a, b in BONES:
        cv2.line(small, tuple(map(int, p[a])), tuple(map(int, p[b])), 1, 2 * rs + 1, cv2.LINE_8, 4)
    cv2.fillPoly(small, [p[[11, 12, 24, 23]].astype(np.int32)], 1, cv2.LINE_8, 4)
    head = pts[:11].mean(axis=0)
    head_r = max(np.linalg.norm(pts[7] - pts[8]) * 0.9, 1.5 * r)
    cv2.circle(small, tuple(map(int, np.round(head / sc * 16))), int(head_r / sc * 16), 1, -1, cv2.LINE_8, 4)
    small = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rs + 1, 2 * rs + 1)))
    region = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(region, (0, 0), max(1.0, r / 3))


def _paint_out(image: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """The photo with the given people replaced by the mean colour of what no one covers
    (their masks thresholded at 0.3 and grown by 1 % of the photo's diagonal)."""
    h, w = image.shape[:2]
    union = np.zeros((h, w), np.uint8)
    for m in masks:
        if m is not None:
            union |= (m > 0.3).astype(np.uint8)
    r = max(2, int(0.01 * math.hypot(w, h)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    grown = cv2.dilate(union, kernel).astype(bool)
    background = image[~grown]
    fill = background.mean(axis=0) if len(background) else np.array([128, 128, 128])
    out = image.copy()
    out[grown] = np.round(fill).astype(np.uint8)
    return out


@functools.lru_cache(maxsize=1)
def detector() -> BlazePose:
    """The models, loaded on first use (FileNotFoundError or ImportError where they are missing)."""
    return BlazePose()
