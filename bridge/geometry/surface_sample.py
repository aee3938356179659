"""A body's vertices thinned to about one per cube of a given size, spread evenly over the surface.

Why: the joint stage of two fighters tests each body's surface against the other's every step,
and skinning all of a body's vertices (13,718 for Anny) with their gradients was most of that
step; a body poses a subset of its vertices alone (BodyModel.forward_sample), and this picks it
(docs/decisions.md, "Warm bridge").
"""
from __future__ import annotations

import numpy as np


def even_sample(vertices: np.ndarray, cell: float, parts: np.ndarray | None = None) -> np.ndarray:
    """Indices of one vertex per `cell`-sized cube (and, where `parts` labels the vertices, per
    part in it: an arm resting near the hip keeps its own): the member nearest the mean of those
    in it, in increasing order."""
    keys = np.floor(vertices / cell).astype(np.int64)
    if parts is not None:
        keys = np.concatenate([keys, np.asarray(parts, np.int64)[:, None]], axis=1)
    _, cluster = np.unique(keys, axis=0, return_inverse=True)
    cluster = cluster.reshape(-1)
    count = int(cluster.max()) + 1
    sums = np.zeros((count, 3))
    np.add.at(sums, cluster, vertices)
    mean = sums / np.bincount(cluster, minlength=count)[:, None]
    distance = np.linalg.norm(vertices - mean[cluster], axis=1)
    order = np.lexsort((distance, cluster))  # by cluster, nearest the mean first
    return np.sort(order[np.searchsorted(cluster[order], np.arange(count))])
