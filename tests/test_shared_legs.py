"""A leg both fighters' detections claim stays with the fighter whose gi it shows."""
import numpy as np

from bridge.keypoints import CONFIDENT, INDEX, PersonTarget
from bridge.detection.shared_legs import drop_shared_legs

BLUE, WHITE, MAT = (40, 70, 200), (235, 235, 230), (90, 140, 60)
LEG = ("knee", "ankle", "heel", "big_toe", "small_toe")


def _person(hips_x: float, legs: dict[str, float]) -> PersonTarget:
    """An upright person 200 px tall: head and torso above x = hips_x, each leg straight down at
    its own x."""
    points = np.zeros((25, 2))
    confidence = np.zeros(25)

    def put(name, x, y):
        points[INDEX[name]] = (x, y)
        confidence[INDEX[name]] = 0.9

    put("nose", hips_x, 20)
    put("neck", hips_x, 40)
    put("mid_hip", hips_x, 110)
    for side, dx in (("right", -15), ("left", 15)):
        put(f"{side}_shoulder", hips_x + dx, 40)
        put(f"{side}_hip", hips_x + dx, 110)
        x = legs[side]
        for name, y in zip(LEG, (150, 190, 195, 200, 200)):
            put(f"{side}_{name}", x + (8 if "toe" in name else 0), y)
    return PersonTarget(points, confidence)


def _scene(colours):
    """Fighter 0 at x 50-110 in the first colour, fighter 1 at x 120-180 in the second; fighter
    1's detection put its right leg on fighter 0's left leg (x 95), as a detector run on a
    tangle does, and both GrabCut masks claim that leg."""
    rgb = np.full((210, 230, 3), MAT, np.uint8)
    masks = [np.zeros((210, 230), bool) for _ in range(2)]
    for index, (x0, x1) in enumerate(((50, 110), (120, 180))):
        rgb[10:205, x0:x1] = colours[index]
        masks[index][10:205, x0:x1] = True
    masks[1][110:205, 85:110] = True  # the other's leg, claimed
    targets = [_person(80, {"right": 65, "left": 95}), _person(150, {"right": 95, "left": 165})]
    return rgb, targets, masks


def _leg_confidence(target: PersonTarget, side: str) -> np.ndarray:
    return target.confidence[[INDEX[f"{side}_{name}"] for name in LEG]]


def test_the_fighter_whose_gi_the_leg_shows_keeps_it_and_the_other_loses_it():
    rgb, targets, masks = _scene((BLUE, WHITE))
    kept, dropped = drop_shared_legs(rgb, targets, masks, 1.0)
    assert dropped == [(1, "right")]
    assert (_leg_confidence(kept[1], "right") == 0).all()
    assert (_leg_confidence(kept[1], "left") >= CONFIDENT).all()
    assert np.array_equal(kept[0].confidence, targets[0].confidence)
    assert (_leg_confidence(targets[1], "right") >= CONFIDENT).all(), "the caller's targets are left as they were"


def test_the_same_gi_on_both_fighters_decides_nothing():
    rgb, targets, masks = _scene((WHITE, WHITE))
    kept, dropped = drop_shared_legs(rgb, targets, masks, 1.0)
    assert dropped == []
    assert all(np.array_equal(k.confidence, t.confidence) for k, t in zip(kept, targets))


def test_feet_side_by_side_are_two_legs():
    """Ankles and feet a few pixels apart but the knees apart (fighters standing foot to foot)."""
    rgb, targets, masks = _scene((BLUE, WHITE))
    knee = INDEX["right_knee"]
    targets[1].points[knee] += (40, 0)
    assert drop_shared_legs(rgb, targets, masks, 1.0)[1] == []
