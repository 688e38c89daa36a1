"""The QR symbol as a 1-bit PNG, eight pixels per module, for the OFD page's ImageObject.

Why a picture and not a path: the symbol of a 亮证 token has ~1,400 runs of
dark modules; formatting them as path text took ~1 ms and ~32 KB that were
then deflated, hashed and encrypted again for every licence. A module row
from :func:`qr_matrix` is one byte per module, 0x00 dark and 0xFF light, which
is exactly that row at eight 1-bit pixels per module (1-bit grey: 0 black):
the PNG needs no packing. The seven repeats of each row are PNG filter
"Up" rows of zeros, which deflate to almost nothing. At eight pixels per module
a 20 mm symbol is a ~740 dpi picture, so a viewer that smooths pictures when
scaling (OFD has no "do not interpolate" flag, unlike a PDF image mask) still
draws square modules (tests/test_ofd_render.py reads the symbol back from
ofd.js's rendering).
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

__all__ = ["QR_PNG_SCALE", "qr_png"]

QR_PNG_SCALE: Final = 8  # pixels per module: one module byte is eight 1-bit pixels
_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_NONE: Final = b"\x00"  # PNG filter type 0: the row as is
_UP: Final = 2  # PNG filter type 2: each byte minus the byte above; zeros repeat the row
_END: Final = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(data, zlib.crc32(kind)))


def qr_png(rows: list[bytes]) -> bytes:
    """A PNG of the module rows (one byte per module, 0 dark, 255 light), 8 px per module."""
    n = len(rows)
    if n == 0 or any(len(row) != n for row in rows):
        raise ValueError("a QR symbol is a non-empty square of modules")
    side = n * QR_PNG_SCALE
    repeat = (bytes([_UP]) + bytes(n)) * (QR_PNG_SCALE - 1)
    raw = b"".join([_NONE + row + repeat for row in rows])
    z = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)  # runs of equal bytes only
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grey, no interlace
    return (_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", z.compress(raw) + z.flush())
            + _END)
