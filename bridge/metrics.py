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
    """Mean joint error after Procrustes alignment: pose error without global placement or scale."""
    return mpjpe(procrustes_align(points, target), target)


def keypoint_error_px(points: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    errors = np.linalg.norm(points - target, axis=-1)
    return float(errors[mask].mean() if mask is not None else errors.mean())

