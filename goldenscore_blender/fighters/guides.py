"""What the artist edits in the camera view to steer detection and fitting: keypoint empties,
a box around each fighter, and stroke images painted over the photo.

Guides hang from the photo camera at a fixed depth, so dragging one in the camera view moves it
across the photo, and its pixel is where it projects through the camera.
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import bpy
import numpy as np

from ..coordinates import camera_local_point, pixels
from ..results import BODY_25
from .build import ROLE_PROP, scene_collection

GUIDE_DEPTH = 1.0  # metres in front of the camera
KEYPOINT_PROP = "golden_score_keypoint"
PIXEL_PROP = "golden_score_pixel"  # where the bridge put the keypoint; moving it away marks it sure
CONFIDENCE_PROP = "golden_score_confidence"
BOX_PROP = "golden_score_box"
ROLE_COLOUR_TAGS = {"tori": "COLOR_05", "uke": "COLOR_03"}  # blue and yellow in the outliner
STROKE_GUIDE_ALPHA = 0.4  # the photo under the strokes; below one half it counts as unpainted
MOVED_PIXELS = 0.5


def guide_collection(scene, role: str):
    collection = bpy.data.collections.get(f"{role.capitalize()} guides")
    if collection is None:
        collection = bpy.data.collections.new(f"{role.capitalize()} guides")
        collection.color_tag = ROLE_COLOUR_TAGS.get(role, "NONE")
    parent = scene_collection(scene)
    if collection.name not in parent.children:
        parent.children.link(collection)
    return collection


def _guides(scene, role: str, prop: str) -> list:
    return [obj for obj in scene.objects if obj.get(ROLE_PROP) == role and prop in obj]


def keypoint_empties(scene, role: str) -> list:
    return sorted(_guides(scene, role, KEYPOINT_PROP), key=lambda obj: obj[KEYPOINT_PROP])


def fighter_box(scene, role: str):
    boxes = _guides(scene, role, BOX_PROP)
    return boxes[0] if boxes else None


def _hang_from_camera(obj, camera, collection) -> None:
    collection.objects.link(obj)
    obj.parent = camera
    obj.show_in_front = True


def build_keypoint_guides(scene, camera, role: str, points, confidence) -> None:
    """One empty per BODY_25 keypoint of `role`, replacing earlier ones. Points the detector
    missed (confidence 0) are drawn as crosses where the fitted body puts them."""
    for old in keypoint_empties(scene, role):
        bpy.data.objects.remove(old)
    collection = guide_collection(scene, role)
    for index, (name, pixel, sure) in enumerate(zip(BODY_25, points, confidence)):
        empty = bpy.data.objects.new(f"{role} {name}", None)
        empty.empty_display_type = "SPHERE" if sure > 0 else "PLAIN_AXES"
        empty.empty_display_size = 0.004 * GUIDE_DEPTH
        empty.location = camera_local_point(camera, scene, pixel, GUIDE_DEPTH).tolist()
        empty[ROLE_PROP] = role
        empty[KEYPOINT_PROP] = index
        empty[PIXEL_PROP] = [float(pixel[0]), float(pixel[1])]
        empty[CONFIDENCE_PROP] = float(sure)
        _hang_from_camera(empty, camera, collection)


def guide_keypoints(scene, camera, role: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(25, 2) pixels and (25,) confidences of the keypoint empties as they are now; an
    empty the artist moved counts as sure."""
    empties = keypoint_empties(scene, role)
    if len(empties) != len(BODY_25):
        return None
    points = pixels(camera, scene, [obj.matrix_world.translation for obj in empties])
    confidence = np.array([obj[CONFIDENCE_PROP] for obj in empties], dtype=float)
    moved = np.linalg.norm(points - np.array([obj[PIXEL_PROP] for obj in empties]), axis=1) > MOVED_PIXELS
    confidence[moved] = 1.0
    return points, confidence


def write_keypoint_file(path: Path, people: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """OpenPose JSON (BODY_25), which the bridge reads with --keypoints."""
    body = {"version": 1.3, "people": [
        {"pose_keypoints_2d": np.column_stack([points, confidence]).ravel().round(3).tolist()}
        for points, confidence in people]}
    Path(path).write_text(json.dumps(body))


def build_box(scene, camera, role: str, rect) -> bpy.types.Object:
    """A wire rectangle over the photo around `role` (X0, Y0, X1, Y1 pixels), replacing an older one."""
    old = fighter_box(scene, role)
    if old is not None:
        mesh = old.data
        bpy.data.objects.remove(old)
        bpy.data.meshes.remove(mesh)
    x0, y0, x1, y1 = rect
    corners = [camera_local_point(camera, scene, p, GUIDE_DEPTH) for p in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
    mesh = bpy.data.meshes.new(f"{role} box")
    mesh.from_pydata([c.tolist() for c in corners], [(0, 1), (1, 2), (2, 3), (3, 0)], [])
    box = bpy.data.objects.new(f"{role.capitalize()} box", mesh)
    box.display_type = "WIRE"
    box[ROLE_PROP] = role
    box[BOX_PROP] = True
    _hang_from_camera(box, camera, guide_collection(scene, role))
    return box


def box_rect(scene, camera, role: str) -> tuple[float, float, float, float] | None:
    """The pixel rectangle the fighter's box covers now (after any move or scale)."""
    box = fighter_box(scene, role)
    if box is None:
        return None
    corners = pixels(camera, scene, [box.matrix_world @ v.co for v in box.data.vertices])
    return (*corners.min(axis=0).tolist(), *corners.max(axis=0).tolist())


def keypoint_rect(points, confidence, width: int, height: int, margin: float = 0.15):
    """A box around the sure keypoints, widened by `margin` and kept inside the photo."""
    sure = np.asarray(points)[np.asarray(confidence) > 0]
    low, high = sure.min(axis=0), sure.max(axis=0)
    pad = (high - low) * margin
    low, high = np.maximum(low - pad, 0), np.minimum(high + pad, [width, height])
    return (*low.tolist(), *high.tolist())


def stroke_image_name(role: str) -> str:
    return f"{role.capitalize()} strokes"


def stroke_image(photo, role: str, create: bool = False):
    """The image the artist paints `role`'s strokes on: the photo, faint, under transparent paint."""
    image = bpy.data.images.get(stroke_image_name(role))
    if image is None and create:
        width, height = photo.size
        image = bpy.data.images.new(stroke_image_name(role), width, height, alpha=True)
        faint = np.empty(width * height * 4, dtype=np.float32)
        photo.pixels.foreach_get(faint)
        faint[3::4] = STROKE_GUIDE_ALPHA
        image.pixels.foreach_set(faint)
        image.pack()
    return image


def write_stroke_file(image, path: Path) -> bool:
    """The strokes as the PNG the bridge reads (same size as the photo, top row first);
    False when nothing is painted yet."""
    width, height = image.size
    rgba = np.empty(width * height * 4, dtype=np.float32)
    image.pixels.foreach_get(rgba)
    rgba = np.flipud(rgba.reshape(height, width, 4))
    if not (rgba[..., 3] >= 0.5).any():
        return False
    data = (np.clip(rgba, 0, 1) * 255 + 0.5).astype(np.uint8)
    rows = b"".join(b"\x00" + row.tobytes() for row in data)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                           + chunk(b"IEND", b""))
    return True
