"""What the artist says about a fighter besides keypoints: rectangles and stroke files.

Stroke files
------------
The artist paints strokes in Blender or any paint program and saves them as a PNG with
transparency, the same width and height as the photo. In Blender: Image Editor, Image > New with
the photo's size, Alpha on and a fully transparent colour; Paint mode, brush colours below at full
strength; Image > Save As, PNG, RGBA.
Each pixel says what it is by its colour; only pure colours are needed, so the file reads the
same whatever colour management or gamma the painting program applies:

    transparent (alpha below one half)     not painted: GrabCut decides
    green  (0, 1, 0)                       surely this fighter
    red    (1, 0, 0)                       surely not this fighter (background or the other fighter)
    cyan   (0, 1, 1)  = green plus blue    probably this fighter
    magenta (1, 0, 1) = red plus blue      probably not this fighter

Blue turns a sure stroke into a guess. Each channel is read as on (at least one half) or off,
and other colours (white, black, yellow, blue alone) count as not painted, so a PNG without
transparency works too when its unpainted parts are white or black. One stroke file belongs to
one fighter.
"""
from __future__ import annotations

import math
import numbers
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import BridgeError
from ..imaging.photo import open_checked

UNPAINTED = -1
# GrabCut label for each stroke colour, indexed by red * 4 + green * 2 + blue (channels on or off).
_STROKE_LABELS = np.array([
    UNPAINTED, UNPAINTED,  # black, blue
    cv2.GC_FGD, cv2.GC_PR_FGD,  # green, cyan
    cv2.GC_BGD, cv2.GC_PR_BGD,  # red, magenta
    UNPAINTED, UNPAINTED,  # yellow, white
], dtype=np.int8)
def load_strokes(path: str | Path, width: int, height: int) -> np.ndarray:
    """(H, W) int8 of cv2.GC_* labels, UNPAINTED (-1) where the artist painted nothing; the
    colours are described at the top of this module."""
    path = Path(path)
    if not path.is_file():
        raise BridgeError("strokes_missing", f"The stroke file {path} does not exist.", "Check the path.")
    try:
        with open_checked(path, "stroke file") as image:
            rgba = np.asarray(image.convert("RGBA"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BridgeError("strokes_unreadable", f"The stroke file {path} cannot be read as an image ({exc}).",
                          "Save the strokes as a PNG with transparency.") from None
    if rgba.shape[:2] != (height, width):
        raise BridgeError("strokes_wrong_size",
                          f"The stroke file {path} is {rgba.shape[1]}x{rgba.shape[0]} pixels but the photo is "
                          f"{width}x{height}.", "Paint the strokes on an image the size of the photo.")
    on = rgba >= 128
    labels = _STROKE_LABELS[on[..., 0] * 4 + on[..., 1] * 2 + on[..., 2]]
    labels[~on[..., 3]] = UNPAINTED
    return labels


RECT_LIMIT = 1e6  # pixels; a rectangle corner beyond this is no photo's


def check_rect_numbers(rect, name: str) -> tuple[float, float, float, float]:
    """Four finite numbers (x0, y0, x1, y1) in pixels; whether they lie in the photo is check_rect's."""
    try:
        values = tuple(rect)
    except TypeError:
        values = ()
    if len(values) != 4 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                                   and abs(v) <= RECT_LIMIT for v in values):
        raise BridgeError("bad_rect", f"The rectangle for {name} must be four finite pixel numbers X0,Y0,X1,Y1, "
                          f"not {rect!r}.", "Give the rectangle's corners in the photo's pixels, e.g. 100,50,400,600.")
    return tuple(float(v) for v in values)


def check_rect(rect, width: int, height: int, name: str) -> tuple[tuple[int, int, int, int], str | None]:
    """A rectangle (x0, y0, x1, y1) in pixels, corners in either order, clipped to the image, and a
    warning when clipping changed it; an empty one or one wholly outside the image is an error."""
    rect = check_rect_numbers(rect, name)
    x0, x1 = sorted((round(rect[0]), round(rect[2])))
    y0, y1 = sorted((round(rect[1]), round(rect[3])))
    clipped = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
    if clipped[0] >= clipped[2] or clipped[1] >= clipped[3]:
        raise BridgeError("rect_outside", f"The rectangle for {name} ({x0}, {y0}, {x1}, {y1}) covers no part of "
                          f"the {width}x{height} photo.", "Draw the rectangle around the fighter in the photo.")
    if clipped == (x0, y0, x1, y1):
        return clipped, None
    return clipped, f"The rectangle for {name} reached outside the photo; it was cut to {clipped}."
