"""Who is in front where the two fighters overlap, read from the photo of a committed judo scene.

The bodies are the true ones (so their overlap is the true overlap) and the masks the true
visible regions, except that the fighter behind also claims the whole overlap, as GrabCut's
masks of two fighters in contact often do: counting mask pixels then names the wrong fighter,
the colours of the photo the right one."""
import json

import numpy as np
import pytest
from PIL import Image

from bridge.pair import overlap_front
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
    found, overlap = overlap_front(list(truth["vertices"]), body.faces.numpy(), truth["K"], width, height, masks, rgb)
    assert overlap.any()
    assert found == front, f"{info['roles'][found]} named in front; the photo shows {info['front']}"
