"""Accuracy measures shared by the tests and the benchmark."""
from __future__ import annotations

import numpy as np


def procrustes_align(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`points` moved onto `target` by the best similarity (rotation, scale, translation)."""
    mu_p, mu_t = points.mean(axis=0), target.mean(axis=0)
    p, t = points - mu_p, target - mu_t
    u, s, vt = np.linalg.svd(p.T @ t)
    d = np.sign(np.linalg.det(u @ vt))
    correction = np.diag([1.0, 1.0, d])
    rotation = u @ correction @ vt  # row vectors: p @ rotation
    scale = (s * np.diag(correction)).sum() / (p**2).sum()
    return scale * p @ rotation + mu_t


def mpjpe(points: np.ndarray, target: np.ndarray) -> float:
    return float(np.linalg.norm(points - target, axis=-1).mean())


def pa_mpjpe(points: np.ndarray, target: np.ndarray) -> float:
    """Mean point error after Procrustes alignment: pose (or, on vertices, pose and shape) error
    without global placement or scale."""
    return mpjpe(procrustes_align(points, target), target)


def keypoint_error_px(points: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean pixel distance over the points in `mask` (all without one); NaN when none is."""
    errors = np.linalg.norm(np.asarray(points, np.float64) - np.asarray(target, np.float64), axis=-1)
    chosen = errors if mask is None else errors[np.asarray(mask, bool)]
    return float(chosen.mean()) if chosen.size else float("nan")



def silhouette_iou(mask: np.ndarray, target: np.ndarray) -> float:
    union = np.logical_or(mask, target).sum()
    return float(np.logical_and(mask, target).sum() / union) if union else 1.0


def match_people(fitted_2d: list[np.ndarray], true_2d: np.ndarray) -> list[int]:
    """For each fitted person, the index of the true person it stands for: the pairing with the
    least total keypoint distance in the image (so a swapped role still scores its body)."""
    from scipy.optimize import linear_sum_assignment

    cost = np.array([[np.linalg.norm(f - t, axis=-1).mean() for t in true_2d] for f in fitted_2d])
    rows, cols = linear_sum_assignment(cost)
    matched = [0] * len(fitted_2d)
    for r, c in zip(rows, cols):
        matched[r] = int(c)
    return matched


def image_error_percent(rendered: np.ndarray, target: np.ndarray) -> float:
    """The paper's image error: squared differences summed, as a percentage of H x W x C."""
    difference = np.clip(rendered, 0, 1) - np.clip(target, 0, 1)
    return float((difference**2).sum() / difference.size * 100.0)


def silhouette_error(rendered: np.ndarray, mask: np.ndarray, weight: np.ndarray) -> float:
    """1 - IoU between the rendered silhouette (covered over half) and the mask, where it counts."""
    body, mask, counted = rendered > 0.5, mask > 0.5, weight > 0
    union = ((body | mask) & counted).sum()
    return float(1.0 - ((body & mask) & counted).sum() / union) if union else 0.0
