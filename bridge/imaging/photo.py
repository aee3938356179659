"""Photos in: any JPEG/PNG a camera or editor writes, as 8-bit RGB in the photo's own frame."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import BridgeError

MAX_PROCESSING_SIDE = 1024  # larger photos are downsized for detection and fitting
MIN_PHOTO_SIDE = 32  # pixels on the shorter side; fewer hold no body to fit
MAX_PHOTO_PIXELS = 100_000_000  # 100 megapixels (a 12000 x 8000 camera's): more is a decompression bomb or a scan
Image.MAX_IMAGE_PIXELS = MAX_PHOTO_PIXELS  # PIL refuses twice this outright and warns above it; we refuse above it


def too_large(path, size: tuple[int, int], what: str = "photo") -> BridgeError:
    width, height = size
    code = "photo_too_large" if what == "photo" else "strokes_too_large"
    return BridgeError(code, f"The {what} {path} is {width}x{height} pixels "
                       f"({width * height / 1e6:.0f} megapixels); the limit is {MAX_PHOTO_PIXELS / 1e6:.0f} megapixels.",
                       "Scale it down (the bridge works at 1024 pixels anyway), for example to 4000 pixels on the "
                       "longer side.")


def open_checked(path: Path, what: str = "photo") -> Image.Image:
    """Image.open, with images over MAX_PHOTO_PIXELS refused before their pixels are decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            image = None
    if image is None or image.width * image.height > MAX_PHOTO_PIXELS:
        if image is None:
            image = _unchecked(path)
        size = image.size
        image.close()
        raise too_large(path, size, what)
    return image


def _unchecked(path: Path) -> Image.Image:
    """Open without PIL's size check, only to read the size of an image to be refused."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        return Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
EXIF_FOCAL_35MM = 41989  # FocalLengthIn35mmFilm
EXIF_IFD = 0x8769


@dataclass
class Photo:
    rgb: np.ndarray  # (H, W, 3) uint8, upright as the photographer saw it
    path: Path
    focal_35mm: float | None  # from EXIF, when the camera wrote it

    @property
    def width(self) -> int:
        return self.rgb.shape[1]

    @property
    def height(self) -> int:
        return self.rgb.shape[0]


def _to_rgb8(image: Image.Image) -> np.ndarray:
    """Alpha composited on white, greyscale and palettes expanded, 16-bit scaled to 8."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if wide.max() > 255 else 255.0
        grey = np.clip(wide / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _focal_35mm(image: Image.Image) -> float | None:
    try:
        value = image.getexif().get_ifd(EXIF_IFD).get(EXIF_FOCAL_35MM)
        return float(value) if value else None
    except Exception:  # EXIF in the wild is often broken; a missing focal is not an error
        return None


def load_photo(path: str | Path) -> Photo:
    """Load a photo upright (EXIF orientation applied) or say clearly why it cannot be used."""
    path = Path(path)
    if not path.exists():
        raise BridgeError("photo_missing", f"The photo {path} does not exist.", "Check the path.")
    if path.is_dir():
        raise BridgeError("photo_not_file", f"{path} is a folder, not a photo.", "Give a JPEG or PNG file.")
    if path.stat().st_size == 0:
        raise BridgeError("photo_empty", f"The photo {path} is an empty file.", "Export the photo again.")
    try:
        with open_checked(path) as image:
            image.load()
            focal = _focal_35mm(image)
            image = ImageOps.exif_transpose(image)
            rgb = _to_rgb8(image)
    except UnidentifiedImageError:
        raise BridgeError("photo_unreadable", f"{path} is not an image this program can read.",
                          "Give a JPEG or PNG file.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BridgeError("photo_corrupt", f"The photo {path} is damaged ({exc}).",
                          "Export or download it again.") from None
    if min(rgb.shape[:2]) < MIN_PHOTO_SIDE:
        raise BridgeError("photo_too_small", f"The photo {path} is only {rgb.shape[1]}x{rgb.shape[0]} pixels.",
                          f"Use a photo at least {MIN_PHOTO_SIDE} pixels on its shorter side (a few hundred fit "
                          "far better).")
    return Photo(rgb=rgb, path=path, focal_35mm=focal)


def shrink_scale(width: int, height: int, max_side: int) -> float:
    """Factor that brings an image's longer side down to `max_side` (1 when it is no longer)."""
    return min(1.0, max_side / max(width, height))


def processing_scale(photo: Photo, max_side: int = MAX_PROCESSING_SIDE) -> float:
    """Factor from photo pixels to processing pixels (1 for photos that are small enough)."""
    return shrink_scale(photo.width, photo.height, max_side)
