"""The two EXIF fields the photo import needs, read with the standard library only."""
from __future__ import annotations

import struct
from pathlib import Path

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
FOCAL_35MM = 0xA405


def _tiff_fields(data: bytes) -> dict[int, int]:
    """Orientation and the 35 mm focal length from a TIFF-structured EXIF block."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None:
        return {}
    fields = {}

    def read_ifd(offset: int) -> None:
        (count,) = struct.unpack_from(order + "H", data, offset)
        for i in range(count):
            tag, kind, _, value = struct.unpack_from(order + "HHI4s", data, offset + 2 + 12 * i)
            if kind == 3:  # SHORT, stored in the first two bytes of the value field
                fields[tag] = struct.unpack(order + "H", value[:2])[0]
            elif kind == 4:  # LONG
                fields[tag] = struct.unpack(order + "I", value)[0]

    try:
        read_ifd(struct.unpack_from(order + "I", data, 4)[0])
        if EXIF_IFD in fields:
            read_ifd(fields[EXIF_IFD])
    except struct.error:  # a truncated block: keep what was read
        pass
    return fields


def _exif_block(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\xff\xd8":  # JPEG: walk the segments up to the image data
        at = 2
        while at + 4 <= len(data) and data[at] == 0xFF:
            marker, size = data[at + 1], struct.unpack_from(">H", data, at + 2)[0]
            if marker == 0xE1 and data[at + 4:at + 10] == b"Exif\0\0":
                return data[at + 10:at + 2 + size]
            if marker == 0xDA:
                break
            at += 2 + size
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        at = 8
        while at + 8 <= len(data):
            size, kind = struct.unpack_from(">I4s", data, at)
            if kind == b"eXIf":
                return data[at + 8:at + 8 + size]
            at += 12 + size
    return b""


def photo_exif(path) -> tuple[float | None, int]:
    """(35 mm-equivalent focal length or None, EXIF orientation 1-8) of a JPEG or PNG."""
    try:
        fields = _tiff_fields(_exif_block(Path(path)))
    except OSError:
        return None, 1
    focal = fields.get(FOCAL_35MM) or None
    orientation = fields.get(ORIENTATION, 1)
    return (float(focal) if focal else None), (orientation if 1 <= orientation <= 8 else 1)
