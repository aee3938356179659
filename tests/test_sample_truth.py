"""The bundled sample photo and its ground truth agree with each other and with bridge.geometry.camera.

The files come from `python tools/render_scene.py --out assets/sample` (Blender Cycles); these
checks need neither Blender nor a GPU.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.geometry import camera  # noqa: E402

SAMPLE = ROOT / "assets" / "sample"
WIDTH, HEIGHT = 384, 512


@pytest.fixture(scope="module")
def truth():
    with np.load(SAMPLE / "truth.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def mask():
    return np.asarray(Image.open(SAMPLE / "mask_0.png").convert("L")) > 127


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    padded = np.pad(mask, radius)
    out = np.zeros_like(mask)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out |= padded[dy:dy + mask.shape[0], dx:dx + mask.shape[1]]
    return out


def test_photo_size_and_focal():
    with Image.open(SAMPLE / "photo.jpg") as photo:
        assert photo.size == (WIDTH, HEIGHT)
        focal = photo.getexif().get_ifd(0x8769).get(41989)
    info = json.loads((SAMPLE / "truth.json").read_text())
    assert (info["width"], info["height"]) == (WIDTH, HEIGHT)
    assert focal == pytest.approx(info["focal_35mm"])


def test_arrays_fit_together(truth, mask):
    people = truth["pose"].shape[0]
    assert truth["keypoints2d"].shape == (people, 25, 2)
    assert truth["keypoints3d"].shape == (people, 25, 3)
    assert truth["vertices"].shape[0] == people and truth["vertices"].shape[2] == 3
    assert truth["shape"].shape == (people, 6) and truth["transl"].shape == (people, 3)
    assert truth["visibility"].shape == (people, 25)
    assert mask.shape == (HEIGHT, WIDTH)
    info = json.loads((SAMPLE / "truth.json").read_text())
    np.testing.assert_allclose(truth["K"], camera.intrinsics(WIDTH, HEIGHT, info["focal_35mm"]))
    rotation = truth["world_from_camera"][:3, :3]
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-9)
    assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_keypoints2d_are_the_projection(truth):
    projected = camera.project(truth["K"], truth["keypoints3d"].astype(np.float64))
    np.testing.assert_allclose(truth["keypoints2d"], projected, atol=1e-3)


def test_vertices_project_inside_the_mask(truth, mask):
    uv = camera.project(truth["K"], truth["vertices"][0].astype(np.float64))
    cols, rows = np.floor(uv).astype(int).T
    in_image = (cols >= 0) & (cols < WIDTH) & (rows >= 0) & (rows < HEIGHT)
    assert in_image.all(), "the whole body is in frame"
    inside = dilate(mask, 2)[rows, cols]
    assert inside.mean() >= 0.98
    # and the mask is no bigger than the body: nearly every mask pixel has a vertex near it
    hit = np.zeros_like(mask)
    hit[rows, cols] = True
    assert (mask & ~dilate(hit, 3)).sum() <= 0.02 * mask.sum()


def test_body_stands_on_the_floor(truth):
    world = truth["vertices"][0].astype(np.float64) @ truth["world_from_camera"][:3, :3].T
    world += truth["world_from_camera"][:3, 3]
    assert world[:, 2].min() == pytest.approx(0.0, abs=2e-3)
    assert truth["keypoints3d"][0, :, 2].min() > 0.5, "in front of the camera"


def test_visible_keypoints_lie_in_the_mask(truth, mask):
    for (x, y), seen in zip(truth["keypoints2d"][0], truth["visibility"][0]):
        if seen:
            assert mask[int(y), int(x)]


def test_truth_matches_the_body_model(truth):
    """The stored pose, shape and transl still give the stored vertices and keypoints: if the body
    model's conventions change, the sample must be rendered again."""
    pytest.importorskip("anny")
    torch = pytest.importorskip("torch")
    from bridge.body.anny_body import AnnyBody

    body = AnnyBody.shared()
    with torch.no_grad():
        out = body.forward(torch.as_tensor(truth["shape"], dtype=body.dtype),
                           torch.as_tensor(truth["pose"], dtype=body.dtype),
                           torch.as_tensor(truth["transl"], dtype=body.dtype))
    np.testing.assert_allclose(out.vertices.numpy(), truth["vertices"], atol=1e-4)
    np.testing.assert_allclose(out.keypoints.numpy(), truth["keypoints3d"], atol=1e-4)


def test_labels_agree_with_the_mask(mask):
    labels = np.asarray(Image.open(SAMPLE / "labels.png"))
    assert labels.shape == (HEIGHT, WIDTH)
    np.testing.assert_array_equal(labels == 1, mask)  # one fighter: nobody stands in front
