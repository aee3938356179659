"""Which detected people are the two fighters: judo fighters touch, a referee or a spectator
stands apart. The one owner of that rule (the consensus and the second look use it)."""
from __future__ import annotations

import numpy as np

from ..keypoints import CONFIDENT

# Two people whose keypoint boxes lie further apart than this (box_gap) are not in contact.
APART = 0.25
# The two fighters' keypoint boxes overlap; a referee's stand apart (measured in docs/decisions.md,
# "The second look").
TOUCHING = 0.0
CONSIDERED = 4  # the most prominent people among which the pair is sought


def _box(points: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    confident = points[confidence >= CONFIDENT]
    return np.concatenate([confident.min(0), confident.max(0)])


def box_gap(a, b) -> float:
    """The gap between two people's (anything with points and confidence) keypoint boxes, in their
    mean box diagonal (0: overlapping)."""
    box_a, box_b = _box(a.points, a.confidence), _box(b.points, b.confidence)
    gap = np.maximum(0.0, np.maximum(box_a[:2] - box_b[2:], box_b[:2] - box_a[2:]))
    size = (np.linalg.norm(box_a[2:] - box_a[:2]) + np.linalg.norm(box_b[2:] - box_b[:2])) / 2
    return float(np.linalg.norm(gap) / max(size, 1e-6))


def fighters_in_contact(people: list) -> list:
    """Of distinct people (most prominent first), the two fighters: the two most prominent, unless
    they stand apart (APART) while another pair among the first CONSIDERED is in contact; then the
    closest pair, the more prominent first."""
    if len(people) <= 2:
        return people
    if box_gap(people[0], people[1]) <= APART:
        return people[:2]
    pairs = [(box_gap(people[i], people[j]), i + j, i, j) for i in range(min(len(people), CONSIDERED))
             for j in range(i + 1, min(len(people), CONSIDERED))]
    gap, _, i, j = min(pairs)
    return [people[i], people[j]] if gap <= APART else people[:2]
