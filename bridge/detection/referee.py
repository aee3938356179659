"""Who in the photo is the referee: judo's referees wear a dark suit, its fighters a white or a
blue judogi (the IJF's refereeing and judogi rules). Where more people were found than fighters
asked for, one whose torso shows the suit's colour (dark and grey) is not taken for a fighter
where the two most prominent others wear judogi (pairing.plausible_fighters): without gis
(training in plain clothes) a dark shirt is no sign of a referee. What was measured: docs/decisions.md, "The referee's suit".
"""
from __future__ import annotations

import cv2
import numpy as np

from ..keypoints import CONFIDENT, INDEX

# The suit: median luminance (sRGB, 0-1) under this and median saturation (HSV, 0-1) under this,
# over the torso. On the tune split referees measured 0.09-0.24 and 0.05-0.09; the darkest grey
# fighter (a white gi in shade, a grey shirt) 0.35-0.52, blue gis 0.5-0.9 in saturation.
SUIT_LUMINANCE = 0.3
SUIT_SATURATION = 0.2
# A judogi: white (median luminance at least this, grey) or blue (OpenCV hue in this range, 0-180,
# and saturated). The tune split's white gis measured 0.6-0.88 (0.46 in shade), its blue ones
# hue 100-125 and saturation 0.5-0.9.
WHITE_LUMINANCE = 0.45
BLUE_HUE = (95.0, 135.0)
BLUE_SATURATION = 0.3
TORSO = ("right_shoulder", "left_shoulder", "left_hip", "right_hip")
SHRINK = 0.25  # the torso's corners pulled this far towards its centre: the arms and the other body stay out
MIN_PIXELS = 10


def torso_colour(rgb: np.ndarray, points: np.ndarray, confidence: np.ndarray) -> tuple[float, float, float] | None:
    """Median luminance and saturation (0-1) and hue (OpenCV's, 0-180) of the torso of a person
    (BODY_25 points in `rgb`'s pixels), or None where its shoulders and hips are not all confident
    or it covers too few pixels."""
    corners = [INDEX[name] for name in TORSO]
    if (confidence[corners] < CONFIDENT).any():
        return None
    polygon = points[corners]
    polygon = polygon.mean(0) + (polygon - polygon.mean(0)) * (1.0 - SHRINK)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    pixels = rgb[mask > 0]
    if len(pixels) < MIN_PIXELS:
        return None
    luminance = (pixels.astype(np.float64) / 255.0) @ np.array([0.2126, 0.7152, 0.0722])
    hsv = cv2.cvtColor(pixels.reshape(-1, 1, 3), cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.float64)
    return float(np.median(luminance)), float(np.median(hsv[:, 1]) / 255.0), float(np.median(hsv[:, 0]))


def looks_like_referee(rgb: np.ndarray, scale: float, person) -> bool:
    """Whether a person (points and confidence in the photo's pixels; `rgb` the photo at `scale`)
    wears the referee's dark suit."""
    colour = torso_colour(rgb, person.points * scale, person.confidence)
    return colour is not None and colour[0] < SUIT_LUMINANCE and colour[1] < SUIT_SATURATION


def wears_judogi(rgb: np.ndarray, scale: float, person) -> bool:
    """Whether a person's torso shows a judogi's colour: white (bright and grey) or blue."""
    colour = torso_colour(rgb, person.points * scale, person.confidence)
    if colour is None:
        return False
    luminance, saturation, hue = colour
    white = luminance >= WHITE_LUMINANCE and saturation < SUIT_SATURATION
    blue = BLUE_HUE[0] <= hue <= BLUE_HUE[1] and saturation >= BLUE_SATURATION
    return white or blue
