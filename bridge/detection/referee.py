"""Who in the photo is the referee: judo's referees wear a dark suit, its fighters a white or a
blue judogi (the IJF's refereeing and judogi rules). pairing.plausible_fighters leaves out one in
the suit's colour where the others wear judogi: without gis (training in plain clothes) a dark
shirt is no sign of a referee. Thresholds and what they were measured on: docs/decisions.md,
"The referee's suit".
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from ..imaging.masks import TORSO
from ..keypoints import CONFIDENT

SUIT_LUMINANCE = 0.3  # a suit: median luminance (sRGB, 0-1) under this ...
SUIT_SATURATION = 0.2  # ... and median saturation (HSV, 0-1) under this
WHITE_LUMINANCE = 0.45  # a white gi: grey (saturation under SUIT_SATURATION) and this bright
BLUE_HUE = (95.0, 135.0)  # a blue gi: OpenCV's hue (0-180) in this range ...
BLUE_SATURATION = 0.3  # ... and saturated
SHRINK = 0.25  # the torso's corners pulled this far towards its centre: the arms and the other body stay out
MIN_PIXELS = 10


class TorsoColour(NamedTuple):
    luminance: float  # median, sRGB 0-1
    saturation: float  # median, HSV 0-1
    hue: float  # median, OpenCV's 0-180

    def is_suit(self) -> bool:
        return self.luminance < SUIT_LUMINANCE and self.saturation < SUIT_SATURATION

    def is_judogi(self) -> bool:
        white = self.luminance >= WHITE_LUMINANCE and self.saturation < SUIT_SATURATION
        blue = BLUE_HUE[0] <= self.hue <= BLUE_HUE[1] and self.saturation >= BLUE_SATURATION
        return white or blue


def torso_colour(rgb: np.ndarray, scale: float, person) -> TorsoColour | None:
    """The colour of a person's torso (points and confidence in the photo's pixels; `rgb` the
    photo at `scale`), or None where its shoulders and hips are not all confident or it covers
    too few pixels."""
    if (person.confidence[TORSO] < CONFIDENT).any():
        return None
    polygon = person.points[TORSO] * scale
    polygon = polygon.mean(0) + (polygon - polygon.mean(0)) * (1.0 - SHRINK)
    height, width = rgb.shape[:2]
    x0, y0 = np.clip(np.floor(polygon.min(0)).astype(int), 0, [width, height])
    x1, y1 = np.clip(np.ceil(polygon.max(0)).astype(int) + 1, 0, [width, height])
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)  # only the torso's box, not the whole photo
    cv2.fillPoly(mask, [np.round(polygon - (x0, y0)).astype(np.int32)], 1)
    pixels = rgb[y0:y1, x0:x1][mask > 0]
    if len(pixels) < MIN_PIXELS:
        return None
    luminance = (pixels.astype(np.float64) / 255.0) @ np.array([0.2126, 0.7152, 0.0722])
    hsv = cv2.cvtColor(pixels.reshape(-1, 1, 3), cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.float64)
    return TorsoColour(float(np.median(luminance)), float(np.median(hsv[:, 1]) / 255.0), float(np.median(hsv[:, 0])))
