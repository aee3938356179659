"""Mask morphology shared by isolation, colours and the detectors: growing a mask, its box, a
margin that scales with the fighter, filling hidden pixels, and a person's skeleton drawn as a mask."""
from __future__ import annotations

import cv2
import numpy as np

from ..keypoints import CONFIDENT, INDEX, LIMBS
from .photo import shrink_scale

# Above this radius the disc's kernel costs more than a distance transform, whose cost does not
# grow with the radius (a 12-megapixel mask grown by 75 px: 3.4 s with the kernel, 0.2 s without).
KERNEL_RADIUS_LIMIT = 20


def dilate_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """The mask grown by `radius` pixels in every direction."""
    if radius > KERNEL_RADIUS_LIMIT:
        outside = (~mask.astype(bool)).astype(np.uint8)
        return cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= radius
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around a mask's pixels, x1 and y1 exclusive; None for an empty mask."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return None
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def margin_px(mask: np.ndarray, fraction: float = 0.03) -> int:
    """A margin that scales with the fighter: `fraction` of its box diagonal, at least 2 pixels."""
    box = mask_box(mask)
    if box is None:
        return 2
    x0, y0, x1, y1 = box
    return max(2, round(fraction * np.hypot(x1 - x0, y1 - y0)))


# MediaPipe sees a fighter at 256 px, so the filler needs no finer detail than a copy this size.
FILL_SIDE = 512


def fill_hidden(image: np.ndarray, hidden: np.ndarray, radius: int) -> np.ndarray:
    """`image` with its `hidden` pixels (uint8, non-zero) inpainted from around them (Telea).

    Why on a copy at most FILL_SIDE pixels: inpainting's cost grows with the pixels it fills times
    the square of its radius, both of which grow with the photo (docs/decisions.md, "Big photos")."""
    height, width = hidden.shape
    scale = shrink_scale(width, height, FILL_SIDE)
    if scale == 1.0:
        return cv2.inpaint(image, hidden, radius, cv2.INPAINT_TELEA)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # A small pixel that averages in any hidden pixel holds the other fighter's colours: fill it too.
    spread = cv2.resize((hidden > 0).astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA)
    small_hidden = (spread > 0).astype(np.uint8)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    filled = cv2.inpaint(small, small_hidden, max(1, round(radius * scale)), cv2.INPAINT_TELEA)
    back = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    out[hidden > 0] = back[hidden > 0]
    return out


TORSO = [INDEX[name] for name in ("right_shoulder", "left_shoulder", "left_hip", "right_hip")]


def skeleton_mask(shape: tuple[int, int], points: np.ndarray, confidence: np.ndarray, width: int) -> np.ndarray:
    """Bool mask of lines along the limbs whose two ends are confident, and the torso between
    shoulders and hips when all four are: pixels that are this person whatever its build."""
    drawn = np.zeros(shape, np.uint8)
    pixel = np.round(points).astype(np.int32)
    confident = confidence >= CONFIDENT
    for a, b in LIMBS:
        if confident[a] and confident[b]:
            cv2.line(drawn, tuple(pixel[a]), tuple(pixel[b]), 1, width)
    if confident[TORSO].all():
        cv2.fillConvexPoly(drawn, pixel[TORSO], 1)
    return drawn.astype(bool)
