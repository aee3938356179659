"""Photo import: the camera reproduces the photo (size, focal length) and shows it behind."""
import numpy as np
import pytest

from blender_addon import import_photo


def test_photo_becomes_the_background_of_a_camera_with_its_size_and_focal(empty_scene, blender):
    state = import_photo(blender)
    scene = blender.context.scene
    camera = scene.camera
    assert camera is state.camera and camera.type == "CAMERA"
    assert (scene.render.resolution_x, scene.render.resolution_y) == (384, 512)
    assert camera.data.lens == 50.0 and state.focal_source == "EXIF"  # the sample's EXIF says 50 mm
    assert camera.data.sensor_fit == "VERTICAL"
    background = camera.data.background_images[0]
    assert background.image == state.photo and camera.data.show_background_images
    assert scene.render.film_transparent and scene.node_tree.nodes["Golden Score photo"].image == state.photo


def test_photo_without_exif_gets_the_default_focal_length(empty_scene, blender, tmp_path):
    image = blender.data.images.new("plain", 300, 200)
    image.filepath_raw = str(tmp_path / "plain.png")
    image.file_format = "PNG"
    image.save()
    state = import_photo(blender, tmp_path / "plain.png")
    assert state.camera.data.lens == 50.0 and "default" in state.focal_source
    assert state.camera.data.sensor_fit == "HORIZONTAL"


def test_camera_intrinsics_round_trip(empty_scene, blender, addon):
    import_photo(blender)
    scene = blender.context.scene
    coordinates = addon.coordinates
    K = np.array([[800.0, 0, 180.0], [0, 800.0, 270.0], [0, 0, 1]])
    coordinates.set_intrinsics(scene.camera.data, scene, K, 384, 512)
    np.testing.assert_allclose(coordinates.intrinsics(scene.camera.data, scene), K, atol=1e-4)


@pytest.mark.parametrize("orientation", [3, 6, 7, 8])
def test_turned_photo_is_shown_upright_as_the_bridge_reads_it(empty_scene, blender, tmp_path, orientation):
    from PIL import Image, ImageOps

    rng = np.random.default_rng(orientation)
    pixels = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"turned_{orientation}.png"
    Image.fromarray(pixels).save(path, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), dtype=np.float32) / 255
    state = import_photo(blender, path)
    width, height = state.photo.size
    assert (width, height) == (expected.shape[1], expected.shape[0])
    assert (blender.context.scene.render.resolution_x, blender.context.scene.render.resolution_y) == (width, height)
    shown = np.empty(width * height * 4, dtype=np.float32)
    state.photo.pixels.foreach_get(shown)
    shown = np.flipud(shown.reshape(height, width, 4))[..., :3]
    assert np.abs(shown - expected).max() < 2 / 255
    assert state.photo_path == str(path)  # the bridge reads the file and turns it the same way


@pytest.mark.parametrize("kind", ["missing", "not an image"])
def test_a_photo_that_cannot_be_read_leaves_no_image_behind(empty_scene, blender, tmp_path, kind):
    path = tmp_path / "photo.jpg"
    if kind == "not an image":
        path.write_bytes(b"this is not a JPEG")
    images = set(blender.data.images)
    with pytest.raises(RuntimeError, match="does not exist|no pixels"):  # the operator's one-line error
        blender.ops.golden_score.import_photo(filepath=str(path))
    assert set(blender.data.images) == images  # no orphan image datablock
    assert blender.context.scene.camera is None
