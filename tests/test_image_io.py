import numpy as np
import pytest
from PIL import Image

from bridge.errors import BridgeError
from bridge.imaging.photo import load_photo, processing_scale
from conftest import SAMPLE


def test_exif_orientation_is_applied_and_focal_read(tmp_path):
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = 255  # left half white
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to view
    exif.get_ifd(0x8769)[41989] = 35
    path = tmp_path / "turned.jpg"
    image.save(path, exif=exif, quality=95)
    photo = load_photo(path)
    assert (photo.width, photo.height) == (40, 80)
    assert photo.rgb[:40].mean() > 200 and photo.rgb[40:].mean() < 50  # white half now on top
    assert photo.focal_35mm == 35


def test_alpha_greyscale_and_16_bit_become_rgb8(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:20, :, 3] = 255  # bottom half transparent
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    photo = load_photo(tmp_path / "alpha.png")
    assert photo.rgb.shape == (40, 40, 3) and photo.rgb.dtype == np.uint8
    assert tuple(photo.rgb[5, 5]) == (255, 0, 0) and tuple(photo.rgb[35, 5]) == (255, 255, 255)

    Image.fromarray(np.full((40, 40), 90, np.uint8)).save(tmp_path / "grey.png")
    assert tuple(load_photo(tmp_path / "grey.png").rgb[0, 0]) == (90, 90, 90)

    Image.fromarray(np.full((40, 40), 65535, np.uint16)).save(tmp_path / "deep.png")
    assert load_photo(tmp_path / "deep.png").rgb.max() == 255


@pytest.mark.parametrize("content, code", [
    (b"", "photo_empty"),
    (b"hello, not an image", "photo_unreadable"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "photo_unreadable"),  # a PNG signature, no image after it
    ((SAMPLE / "photo.jpg").read_bytes()[:3000], "photo_corrupt"),  # a real JPEG cut short
])
def test_bad_files_say_what_is_wrong(tmp_path, content, code):
    path = tmp_path / "bad.img"
    path.write_bytes(content)
    with pytest.raises(BridgeError) as err:
        load_photo(path)
    assert err.value.code == code
    assert str(path) in err.value.message and err.value.hint


def test_large_photos_are_processed_smaller():
    from bridge.imaging.photo import Photo

    big = Photo(rgb=np.zeros((3000, 4000, 3), np.uint8), path=None, focal_35mm=None)
    assert processing_scale(big) == pytest.approx(1024 / 4000)
    assert processing_scale(Photo(rgb=np.zeros((500, 400, 3), np.uint8), path=None, focal_35mm=None)) == 1.0
