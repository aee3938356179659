"""Fighters apart: stroke files, rectangles, GrabCut seeded by keypoints, the detector's view."""
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from bridge.errors import BridgeError
from bridge.detection.fighters import FighterHints, KnownMask, find_fighters
from bridge.imaging.photo import Photo, load_photo
from bridge.detection.hints import UNPAINTED, check_rect, load_strokes
from bridge.detection.isolation import NEUTRAL_GREY, grabcut_mask, isolate_fighter
from bridge.imaging.masks import dilate_mask, margin_px, mask_box
from conftest import SAMPLE


@pytest.fixture(scope="module")
def sample():
    """Photo, mask and true keypoints (confidence 1) of the sample fighter."""
    truth = np.load(SAMPLE / "truth.npz")["keypoints2d"][0]
    mask = np.asarray(Image.open(SAMPLE / "mask_0.png")) > 127
    return load_photo(SAMPLE / "photo.jpg").rgb, mask, (truth, np.ones(25))


@pytest.fixture(scope="module")
def overlapping(sample):
    """Two copies of the sample fighter, the mirrored one in front and 100 px to the right:
    the photo, the back and front fighters' visible masks, and their keypoints."""
    rgb, mask, (points, conf) = sample
    shift = 100
    front_mask = np.zeros_like(mask)
    front_mask[:, shift:] = mask[:, ::-1][:, :-shift]
    photo = rgb.copy()
    photo[:, shift:][front_mask[:, shift:]] = rgb[:, ::-1][:, :-shift][front_mask[:, shift:]]
    front_points = np.column_stack([rgb.shape[1] - points[:, 0] + shift, points[:, 1]])
    return photo, mask & ~front_mask, front_mask, (points, conf), (front_points, conf)


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def _save_rgba(path, rgba):
    Image.fromarray(np.asarray(rgba, np.uint8), "RGBA").save(path)


def test_stroke_colours_give_grabcut_labels(tmp_path):
    colours = [(0, 255, 0, 255), (0, 255, 255, 255), (255, 0, 0, 255), (255, 0, 255, 255),
               (0, 255, 0, 0), (255, 255, 255, 255), (0, 0, 0, 255), (20, 200, 30, 200)]
    _save_rgba(tmp_path / "strokes.png", [colours])
    labels = load_strokes(tmp_path / "strokes.png", len(colours), 1)
    assert labels.tolist() == [[cv2.GC_FGD, cv2.GC_PR_FGD, cv2.GC_BGD, cv2.GC_PR_BGD,
                                UNPAINTED, UNPAINTED, UNPAINTED, cv2.GC_FGD]]


def test_stroke_file_errors_name_the_file(tmp_path):
    _save_rgba(tmp_path / "small.png", np.zeros((10, 20, 4)))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    cases = [("small.png", "strokes_wrong_size"), ("broken.png", "strokes_unreadable"), ("none.png", "strokes_missing")]
    for name, code in cases:
        with pytest.raises(BridgeError) as err:
            load_strokes(tmp_path / name, 384, 512)
        assert err.value.code == code and str(tmp_path / name) in err.value.message
    with pytest.raises(BridgeError) as err:
        load_strokes(tmp_path / "small.png", 384, 512)
    assert "20x10" in err.value.message and "384x512" in err.value.message


def test_rectangles_are_clipped_with_a_warning_or_refused():
    assert check_rect((10, 20, 110, 220), 384, 512, "tori") == ((10, 20, 110, 220), None)
    assert check_rect((110, 220, 10, 20), 384, 512, "tori") == ((10, 20, 110, 220), None)
    clipped, warning = check_rect((-30, 400, 100, 600), 384, 512, "uke")
    assert clipped == (0, 400, 100, 512) and "uke" in warning
    for rect in [(400, 0, 500, 100), (10, 10, 10, 100), (-50, -50, -1, -1)]:
        with pytest.raises(BridgeError) as err:
            check_rect(rect, 384, 512, "tori")
        assert err.value.code == "rect_outside" and "tori" in err.value.message


def test_grabcut_from_keypoints_finds_the_fighter(sample):
    rgb, mask, keypoints = sample
    assert iou(grabcut_mask(rgb, keypoints=keypoints), mask) > 0.8


def test_strokes_correct_grabcut_from_a_rectangle(sample, tmp_path):
    rgb, mask, _ = sample
    x0, y0, x1, y1 = mask_box(mask)
    rect = (x0 - 15, y0 - 15, x1 + 15, y1 + 15)
    alone = grabcut_mask(rgb, rect=rect)
    strokes = np.full(mask.shape, UNPAINTED, np.int8)
    scribbles = np.zeros(mask.shape, bool)
    scribbles[::24] = True  # a red line across the background every 24 rows
    strokes[scribbles & ~cv2.dilate(mask.astype(np.uint8), np.ones((9, 9))).astype(bool)] = cv2.GC_BGD
    strokes[200:210, 180:190] = cv2.GC_BGD  # a sure stroke wins even on the fighter's belly
    helped = grabcut_mask(rgb, rect=rect, strokes=strokes)
    assert not helped[200:210, 180:190].any()
    assert iou(helped, mask) > iou(alone, mask) + 0.2


def test_other_fighters_keypoints_pull_the_two_apart(overlapping):
    photo, back_mask, front_mask, back, front = overlapping
    alone = grabcut_mask(photo, keypoints=back)
    apart = grabcut_mask(photo, keypoints=back, other=front)
    assert iou(apart, back_mask) > 0.75 and iou(apart, back_mask) > iou(alone, back_mask) + 0.2
    assert iou(grabcut_mask(photo, keypoints=front, other=back), front_mask) > 0.6


def test_large_photo_cut_small_and_mask_scaled_back(sample):
    rgb, mask, (points, conf) = sample
    big = cv2.resize(rgb, (rgb.shape[1] * 3, rgb.shape[0] * 3), interpolation=cv2.INTER_CUBIC)
    big_mask = cv2.resize(mask.astype(np.uint8), big.shape[1::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
    found = grabcut_mask(big, keypoints=(points * 3, conf))
    assert found.shape == big_mask.shape and iou(found, big_mask) > 0.8


@pytest.mark.parametrize("radius", [5, 60])
def test_a_mask_grows_by_a_disc_of_the_radius(radius):
    """Small radii use a disc kernel, large ones a distance transform (fast on big photos): the
    same disc either way."""
    mask = np.zeros((301, 301), bool)
    mask[150, 150] = True
    grown = dilate_mask(mask, radius)
    rows, cols = np.nonzero(grown)
    assert rows.min() == cols.min() == 150 - radius and rows.max() == cols.max() == 150 + radius
    assert grown.sum() == pytest.approx(np.pi * radius**2, rel=0.15)  # a disc: its square is 30-55% more


@pytest.mark.parametrize("scale", [1, 3])
def test_isolated_fighter_on_grey_with_the_hidden_part_filled(overlapping, scale):
    """scale 3: a photo larger than the fill works on, filled on a smaller copy and scaled back."""
    photo, back_mask, front_mask, *_ = overlapping
    if scale > 1:
        size = (photo.shape[1] * scale, photo.shape[0] * scale)
        photo = cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC)
        back_mask, front_mask = (cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
                                 for m in (back_mask, front_mask))
    isolated = isolate_fighter(photo, back_mask, front_mask)
    assert (isolated[back_mask] == photo[back_mask]).all()
    far = np.zeros_like(back_mask)
    far[:, -5:] = True
    assert (isolated[far & ~front_mask] == NEUTRAL_GREY).all()
    hidden = front_mask & ~back_mask
    x0, y0, x1, y1 = mask_box(back_mask)
    hidden[:, x1 + 20:] = False
    assert np.abs(isolated[hidden].astype(int) - photo[hidden]).mean() > 20
    kept = dilate_mask(back_mask, margin_px(back_mask))
    assert (isolate_fighter(photo, back_mask, None)[hidden & ~kept] == NEUTRAL_GREY).all()



def test_a_warm_fit_keeps_a_mask_while_its_keypoints_barely_move(overlapping, tmp_path):
    """Fit after a nudged keypoint reuses the fighter's mask (GrabCut is most of a warm Fit's
    detection time); a limb moved elsewhere gets a mask cut anew."""
    photo_rgb, back_mask, _, back, front = overlapping
    marker = np.zeros_like(back_mask)
    marker[:40, :40] = True  # a mask GrabCut would never cut: seen only where it was kept
    known = {"tori": KnownMask(marker, back[0].copy(), back[1]), "uke": KnownMask(marker, front[0].copy(), front[1])}

    def masks(people):
        path = tmp_path / "keypoints.json"
        path.write_text(json.dumps({"people": [{"pose_keypoints_2d": np.column_stack([p, c]).ravel().tolist()}
                                               for p, c in people]}))
        rects = {role: FighterHints(rect=tuple(np.r_[p.min(0) - 10, p.max(0) + 10]))
                 for role, (p, _) in zip(("tori", "uke"), people)}
        found, _ = find_fighters(Photo(photo_rgb, tmp_path / "photo.png", None), 2, path, rects, known_masks=known)
        return {f.role: f.mask for f in found}

    nudged = back[0].copy()
    nudged[4] += (3.0, -2.0)
    kept = masks([(nudged, back[1]), front])
    assert (kept["tori"] == marker).all() and (kept["uke"] == marker).all()
    moved = back[0].copy()
    moved[4] += (0.0, 80.0)  # the wrist put somewhere else: a correction, not a nudge
    cut = masks([(moved, back[1]), front])
    assert iou(cut["tori"], back_mask) > 0.5 and (cut["uke"] == marker).all()
