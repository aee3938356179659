"""A picture that tells at a glance whether a fit is right: keypoints and outlines on the photo."""
from __future__ import annotations

import cv2
import numpy as np

from ..keypoints import LIMBS

DETECTED = (255, 200, 0)  # RGB: where the detector (or the keypoint file) put the joints
FITTED = (255, 40, 200)  # where the fitted body's joints project
OUTLINE_COLOURS = [(0, 255, 120), (255, 120, 0), (0, 160, 255)]


def _draw_skeleton(image, points, conf, colour, radius):
    scale = max(image.shape[:2]) / 512
    for a, b in LIMBS:
        if conf[a] > 0 and conf[b] > 0:
            cv2.line(image, tuple(np.round(points[a]).astype(int)), tuple(np.round(points[b]).astype(int)),
                     colour, max(1, round(1.5 * scale)), cv2.LINE_AA)
    for point, c in zip(points, conf):
        if c > 0:
            cv2.circle(image, tuple(np.round(point).astype(int)), max(2, round(radius * scale)), colour, -1, cv2.LINE_AA)


def draw_overlay(rgb: np.ndarray, people: list[dict]) -> np.ndarray:
    """rgb photo with, per person: the fitted silhouette's outline, the detected keypoints
    (yellow) and the fitted body's keypoints (magenta). Each person dict holds `mask`,
    `detected` (points, conf) and `fitted` (points)."""
    image = (rgb.astype(np.float32) * 0.75).astype(np.uint8)
    for i, person in enumerate(people):
        contours, _ = cv2.findContours(person["mask"], cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        thickness = max(1, round(max(rgb.shape[:2]) / 300))
        cv2.drawContours(image, contours, -1, OUTLINE_COLOURS[i % len(OUTLINE_COLOURS)], thickness, cv2.LINE_AA)
        points, conf = person["detected"]
        _draw_skeleton(image, points, conf, DETECTED, 3)
        _draw_skeleton(image, person["fitted"], conf, FITTED, 2)
    return image
