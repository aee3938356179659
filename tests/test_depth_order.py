"""Who is in front where the two fighters overlap, read from the photo of a committed judo scene.

The bodies are the true ones (so their overlap is the true overlap) and the masks the true
visible regions, except that the fighter behind also claims the whole overlap, as GrabCut's
masks of two fighters in contact often do: counting mask pixels then names the wrong fighter,
the colours of the photo the right one."""
import json

import numpy as np
import pytest
from PIL import Image

from bridge.fitting.pair import photo_front, silhouette_overlap
from conftest import ROOT

SCENES = ROOT / "assets" / "scenes"


# osoto-gari: the bodies' depths agree with the photo; ouchi-gari: they do not, and the photo wins.
@pytest.mark.parametrize("name", ["osoto-gari_kuzushi_s31", "ouchi-gari_throw_s12"])
def test_the_photo_names_the_front_fighter_when_the_one_behind_claims_the_overlap(body, name):
    folder = SCENES / name
    truth, info = np.load(folder / "truth.npz"), json.loads((folder / "truth.json").read_text())
    rgb = np.asarray(Image.open(folder / "photo.jpg").convert("RGB"))
    labels = np.asarray(Image.open(folder / "labels.png"))
    whole = [np.asarray(Image.open(folder / f"mask_{i}.png")) > 127 for i in range(2)]
    front = info["roles"].index(info["front"])
    masks = [labels == i + 1 for i in range(2)]
    masks[1 - front] = masks[1 - front] | (whole[0] & whole[1])
    height, width = rgb.shape[:2]
    overlap = silhouette_overlap(list(truth["vertices"]), body.faces.numpy(), truth["K"], width, height)
    assert overlap.any()
    found = photo_front(rgb, masks, overlap)
    assert found == front, f"{found} named in front; the photo shows {info['front']}"


def test_the_body_seen_at_each_pixel_is_the_one_the_render_shows(body):
    """frontmost_body, which the benchmark's pixel order rests on, agrees with the scene's own
    render (labels.png, Blender's Cycles) where the true bodies overlap: tomoe-nage, where each
    fighter is in front somewhere."""
    from bridge.refinement.render import frontmost_body

    folder = SCENES / "tomoe-nage_throw_s36"
    truth = np.load(folder / "truth.npz")
    labels = np.asarray(Image.open(folder / "labels.png")).astype(int) - 1
    both = np.logical_and.reduce([np.asarray(Image.open(folder / f"mask_{i}.png")) > 127 for i in range(2)])
    height, width = labels.shape
    seen = frontmost_body(truth["K"], list(truth["vertices"]), body.faces.numpy(), width, height)
    assert set(np.unique(seen[both])) == {0, 1}
    assert (seen[both] == labels[both]).mean() > 0.9
    assert (seen[labels == -1] == -1).mean() > 0.99  # the background is nobody
