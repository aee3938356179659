"""Which detected people are the two fighters: the fighters touch, a referee stands apart."""
from types import SimpleNamespace

import numpy as np

from bridge.detection.pairing import box_gap, fighters_in_contact


def _person(x0, name, width=100.0, height=300.0):
    """A standing person's keypoints filling the box from x0, all confident."""
    rng = np.random.default_rng(len(name))
    points = np.column_stack([x0 + rng.uniform(0, width, 25), 100 + rng.uniform(0, height, 25)])
    points[0] = (x0, 100)
    points[1] = (x0 + width, 100 + height)
    return SimpleNamespace(points=points, confidence=np.ones(25), name=name)


def test_a_referee_more_prominent_than_a_fighter_is_left_out():
    tori, referee, uke = _person(100, "tori"), _person(600, "referee"), _person(180, "uke")
    chosen = fighters_in_contact([tori, referee, uke])  # the detector ranked the referee second
    assert [p.name for p in chosen] == ["tori", "uke"]


def test_the_two_most_prominent_stay_when_they_touch():
    tori, uke, referee = _person(100, "tori"), _person(180, "uke"), _person(150, "referee")
    assert [p.name for p in fighters_in_contact([tori, uke, referee])] == ["tori", "uke"]


def test_two_people_apart_with_nobody_else_are_both_kept():
    a, b = _person(100, "a"), _person(600, "b")
    assert box_gap(a, b) > 1.0 and [p.name for p in fighters_in_contact([a, b])] == ["a", "b"]
