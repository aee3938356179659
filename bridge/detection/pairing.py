"""Which detected people are the two fighters: judo fighters touch, a referee or a spectator
stands apart. The one owner of that rule (the consensus and the second look use it)."""
from __future__ import annotations

import numpy as np

from ..keypoints import CONFIDENT
from .referee import torso_colour

# Two people whose keypoint boxes lie further apart than this (box_gap) are not in contact.
APART = 0.25
# The two fighters' keypoint boxes overlap, by at least this share of the smaller box; a referee's
# stand apart, or reach in with an arm only (measured in docs/decisions.md, "The second look" and
# "The referee's arm").
OVERLAP = 0.1
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


def box_overlap(a, b) -> float:
    """The area two people's keypoint boxes share, as a share of the smaller box (0: apart)."""
    box_a, box_b = _box(a.points, a.confidence), _box(b.points, b.confidence)
    sides = np.maximum(0.0, np.minimum(box_a[2:], box_b[2:]) - np.maximum(box_a[:2], box_b[:2]))
    smaller = min(np.prod(box_a[2:] - box_a[:2]), np.prod(box_b[2:] - box_b[:2]))
    return float(np.prod(sides) / max(smaller, 1e-6))


def in_contact(a, b) -> bool:
    """Whether two people touch as fighters do: their keypoint boxes overlap (OVERLAP)."""
    return box_overlap(a, b) >= OVERLAP


def fighters_in_contact(people: list) -> list:
    """Of distinct people (most prominent first), the two fighters: the two most prominent if they
    are in contact (in_contact), else the most prominent pair among the first CONSIDERED that is;
    failing that the two most prominent unless they stand apart (APART) while another pair is
    nearer; then the closest pair, the more prominent first."""
    if len(people) <= 2:
        return people
    considered = range(min(len(people), CONSIDERED))
    touching = [(i + j, i, j) for i in considered for j in considered if i < j and in_contact(people[i], people[j])]
    if touching:
        _, i, j = min(touching)
        return [people[i], people[j]]
    if box_gap(people[0], people[1]) <= APART:
        return people[:2]
    pairs = [(box_gap(people[i], people[j]), i + j, i, j) for i in range(min(len(people), CONSIDERED))
             for j in range(i + 1, min(len(people), CONSIDERED))]
    gap, _, i, j = min(pairs)
    return [people[i], people[j]] if gap <= APART else people[:2]


def plausible_fighters(rgb: np.ndarray, scale: float, people: list, count: int = 2) -> list:
    """Distinct people (most prominent first) that may be the `count` fighters: those in a
    referee's suit (referee.py) left out where the `count` most prominent others wear judogi;
    else all of them (a fighter in a dark shirt stays a fighter)."""
    if len(people) <= count:
        return people
    colours = [torso_colour(rgb, scale, person) for person in people]
    kept = [(person, colour) for person, colour in zip(people, colours) if colour is None or not colour.is_suit()]
    if len(kept) < count or not all(colour is not None and colour.is_judogi() for _, colour in kept[:count]):
        return people
    return [person for person, _ in kept]
