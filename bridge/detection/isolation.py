"""Each fighter on its own: GrabCut masks and the image the detector sees."""
from __future__ import annotations

import cv2
import numpy as np

from ..imaging.masks import dilate_mask, fill_hidden, margin_px, mask_box, skeleton_mask
from ..imaging.photo import shrink_scale
from ..keypoints import CONFIDENT
from .hints import UNPAINTED

GRABCUT_MAX_SIDE = 512  # GrabCut's cost grows with the pixel count; masks are upscaled after
# GrabCut looks only at the box of what is not surely background, padded by WORK_PAD of its longer
# side; its k-means starts from a fixed seed (see grabcut_mask). Both measured: docs/decisions.md.
WORK_PAD = 0.25
GRABCUT_SEED = 1


NEUTRAL_GREY = 128


def isolate_fighter(rgb: np.ndarray, mask: np.ndarray, other_mask: np.ndarray | None = None) -> np.ndarray:
    """The image the detector sees for one fighter: outside the fighter's mask (dilated a little, so
    hands and feet at its edge keep their outline) mid-grey, and the pixels where `other_mask` hides
    this fighter (inside its box) filled from around them, so the other fighter's limbs do not
    pull the detector away. Why grey and inpainting: docs/decisions.md, "Isolating a fighter"."""
    keep = dilate_mask(mask, margin_px(mask))
    isolated = np.full_like(rgb, NEUTRAL_GREY)
    isolated[keep] = rgb[keep]
    if other_mask is not None:
        box = mask_box(keep)
        hidden = np.zeros(mask.shape, np.uint8)
        if box is not None:
            x0, y0, x1, y1 = box
            hidden[y0:y1, x0:x1] = other_mask[y0:y1, x0:x1] & ~mask[y0:y1, x0:x1]
        isolated = fill_hidden(isolated, hidden, margin_px(mask))
    return isolated


# GrabCut's seeds around a skeleton, as fractions of the body's box diagonal (the box padding:
# of its longer side). Measured: docs/decisions.md, "Seeding GrabCut".
LIMB_WIDTH = 0.01  # sure-fighter line width along the limbs
BODY_REACH = 0.03  # flesh probably reaches this far around those lines
FLESH_LIMIT = 0.1  # no flesh lies further from the skeleton: beyond is surely background
BOX_PAD = 0.1  # keypoint box padding for the head, hands and feet


def _keypoint_box(points: np.ndarray, confidence: np.ndarray) -> tuple[float, float, float, float]:
    """The confident keypoints' box, padded (BOX_PAD) for the head, hands and feet that reach past
    the outermost keypoints."""
    confident = points[confidence >= CONFIDENT]
    if len(confident) == 0:
        raise ValueError("no confident keypoint to start GrabCut from")
    low, high = confident.min(axis=0), confident.max(axis=0)
    pad = max(high - low) * BOX_PAD
    return (*(low - pad), *(high + pad))


def _seed_labels(shape, rect, keypoints, other) -> np.ndarray:
    """GrabCut's starting labels. Outside the box: background. Inside: with keypoints, surely this
    fighter on its skeleton, probably within BODY_REACH of it, probably not further away, surely not
    beyond FLESH_LIMIT; with a rectangle alone, probably this fighter. The other fighter's skeleton
    is surely not this one, except where the two skeletons cross, and its flesh probably not."""
    labels = np.full(shape, cv2.GC_BGD, np.uint8)
    x0, y0, x1, y1 = np.round(rect if rect is not None else _keypoint_box(*keypoints)).astype(int)
    labels[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = cv2.GC_PR_FGD if keypoints is None else cv2.GC_PR_BGD
    diagonal = np.hypot(x1 - x0, y1 - y0)
    width, reach = max(1, round(LIMB_WIDTH * diagonal)), max(1, round(BODY_REACH * diagonal))
    own = theirs = np.zeros(shape, bool)
    if other is not None:
        theirs = skeleton_mask(shape, *other, width)
        labels[dilate_mask(theirs, reach) & (labels != cv2.GC_BGD)] = cv2.GC_PR_BGD
    if keypoints is not None:
        own = skeleton_mask(shape, *keypoints, width)
        labels[~dilate_mask(own, round(FLESH_LIMIT * diagonal))] = cv2.GC_BGD
        labels[dilate_mask(own, reach)] = cv2.GC_PR_FGD
    labels[theirs] = cv2.GC_BGD
    labels[own] = cv2.GC_FGD
    labels[own & theirs] = cv2.GC_PR_FGD
    return labels


def _work_box(labels: np.ndarray) -> tuple[int, int, int, int]:
    """The box GrabCut needs to look at: what is not surely background, padded by WORK_PAD of its
    longer side so that the background around the fighter is learnt. (Far background is surely
    background whatever GrabCut learns; sure background strokes out there go unused.)"""
    x0, y0, x1, y1 = mask_box(labels != cv2.GC_BGD) or (0, 0, labels.shape[1], labels.shape[0])
    pad = round(WORK_PAD * max(x1 - x0, y1 - y0))
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, labels.shape[1]), min(y1 + pad, labels.shape[0])


def _scaled_keypoints(keypoints, scale: float):
    return None if keypoints is None else (keypoints[0] * scale, keypoints[1])


def grabcut_mask(rgb: np.ndarray, rect=None, keypoints=None, strokes: np.ndarray | None = None, other=None,
                 iterations: int = 5) -> np.ndarray:
    """(H, W) bool mask of one fighter by GrabCut.

    Seeded from `rect` (x0, y0, x1, y1, checked with check_rect) or from `keypoints` (points (25, 2),
    confidence (25,)): see _seed_labels. `other` is the other fighter's keypoints, so that two
    fighters in contact come apart; `strokes` (load_strokes) override the seeds where painted, and
    their sure strokes override the result. Photos larger than GRABCUT_MAX_SIDE are cut at that
    size and the mask scaled back up."""
    if rect is None and keypoints is None:
        raise ValueError("grabcut_mask needs a rectangle or keypoints to start from")
    height, width = rgb.shape[:2]
    scale = shrink_scale(width, height, GRABCUT_MAX_SIDE)
    size = (round(width * scale), round(height * scale))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else rgb
    labels = _seed_labels(small.shape[:2], None if rect is None else np.asarray(rect, float) * scale,
                          _scaled_keypoints(keypoints, scale), _scaled_keypoints(other, scale))
    if strokes is not None:
        small_strokes = cv2.resize(strokes, size, interpolation=cv2.INTER_NEAREST) if scale < 1.0 else strokes
        painted = small_strokes != UNPAINTED
        labels[painted] = small_strokes[painted]
    if not np.isin(labels, (cv2.GC_BGD, cv2.GC_PR_BGD)).any():  # GrabCut must learn the background somewhere
        labels[[0, -1], :] = labels[:, [0, -1]] = cv2.GC_PR_BGD
    x0, y0, x1, y1 = _work_box(labels)
    window = np.ascontiguousarray(labels[y0:y1, x0:x1])
    background_model, foreground_model = np.zeros((1, 65)), np.zeros((1, 65))
    # GrabCut starts its colour models by k-means on OpenCV's global random generator, so the mask
    # depended on whatever ran before: seoi-nage's uke re-detected (bridge.detection.candidates) at 9 or 103 px
    # from the truth from one run to the next. A fixed seed gives one photo one mask.
    cv2.setRNGSeed(GRABCUT_SEED)
    cv2.grabCut(cv2.cvtColor(small[y0:y1, x0:x1], cv2.COLOR_RGB2BGR), window, None, background_model,
                foreground_model, iterations, cv2.GC_INIT_WITH_MASK)
    labels[y0:y1, x0:x1] = window
    fighter = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    if scale < 1.0:
        fighter = cv2.resize(fighter, (width, height), interpolation=cv2.INTER_LINEAR)
    fighter = fighter >= 0.5
    if strokes is not None:
        fighter[strokes == cv2.GC_FGD] = True
        fighter[strokes == cv2.GC_BGD] = False
    return fighter
