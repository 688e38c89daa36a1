"""The visible seal picture: checked, converted and compressed once, reused per licence.

A department stamps thousands of licences with the same PNG. reportlab's
``drawImage`` would hash and zlib-compress the raw pixels again for every
document (~15 ms for a 400 px seal), so the image XObject and its soft mask
(the transparency) are built once per distinct picture and registered by
name in each new document, as ``drawImage`` itself does when it meets an image
a second time within one document.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from PIL import Image, UnidentifiedImageError
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfdoc import (
    PDFImageXObject,
    PDFObject,
    PDFObjectReference,
    xObjectName,
)

from signing.render._fonts import register_font
from signing.render.errors import SealImageError

__all__ = ["MAX_SEAL_BYTES", "MAX_SEAL_PIXELS", "PreparedSeal", "draw_seal", "prepare_seal"]

MAX_SEAL_BYTES: Final = 4 << 20
MAX_SEAL_PIXELS: Final = 2048 * 2048
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
_CACHE_SIZE: Final = 64
_cache: OrderedDict[bytes, PreparedSeal] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class PreparedSeal:
    """A seal picture as ready-made PDF image objects (colour + alpha mask)."""

    name: str
    image: Any  # reportlab PDFImageXObject
    mask_name: str | None
    mask: Any | None
    width: int
    height: int
    formatted: dict[tuple[str, Any], bytes] = field(default_factory=dict, compare=False)


class _Formatted(PDFObject):  # type: ignore[misc]
    """One document's entry for a cached image object, formatted once per object numbering.

    reportlab formats the image dictionaries anew in every document (~0.1 ms
    a licence); their bytes change only with the mask's object number,
    which is the same for every licence of a layout.
    """

    def __init__(self, seal: PreparedSeal, role: str, target: Any) -> None:
        self.seal = seal
        self.role = role
        self.target = target

    def format(self, document: Any) -> bytes:
        smask = getattr(self.target, "smask", None)
        key = (self.role, document.idToObjectNumberAndVersion[smask.name] if smask else None)
        formatted = self.seal.formatted.get(key)
        if formatted is None:
            formatted = self.target.format(document)
            self.seal.formatted[key] = formatted
        return formatted


def _decode(png: bytes) -> Image.Image:
    if not png.startswith(_PNG_MAGIC):
        raise SealImageError("the seal picture must be a PNG")
    try:
        with Image.open(io.BytesIO(png)) as probe:
            width, height = probe.size
            if probe.format != "PNG" or width < 1 or height < 1:
                raise SealImageError("the seal picture must be a non-empty PNG")
            if width * height > MAX_SEAL_PIXELS:
                raise SealImageError(f"seal picture of {width}x{height} pixels is refused")
            probe.load()
            return probe.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise SealImageError(f"unreadable seal PNG: {exc}") from None


def _prepare(png: bytes, digest: bytes) -> PreparedSeal:
    image = _decode(png)
    name = "Seal" + digest[:12].hex()
    register_font()  # also switches reportlab to binary (non-ASCII85) streams
    xobject = PDFImageXObject(name, ImageReader(image), mask="auto")
    mask = getattr(xobject, "_smask", None)
    mask_name = None
    if mask is not None:
        del xobject._smask
        mask_name = name + "Alpha"
        mask.name = mask_name
        xobject.smask = PDFObjectReference(xObjectName(mask_name))
    for target in (xobject, mask):
        if target is not None:
            _recompress(target)
    return PreparedSeal(name, xobject, mask_name, mask, image.width, image.height)


def _recompress(target: Any) -> None:
    """Flate at level 9 instead of reportlab's 6: the same pixels, ~10% fewer bytes (the
    400 px demo seal's soft mask 11,961 -> 10,819) in every licence, for ~50 ms once per
    picture (the object is cached); every verification hashes and decrypts those bytes."""
    if tuple(target._filters) == ("FlateDecode",):
        target.streamContent = zlib.compress(zlib.decompress(target.streamContent), 9)


def prepare_seal(png: bytes) -> PreparedSeal:
    """Validate and convert a seal PNG (cached by SHA-256, last 64 pictures)."""
    if not isinstance(png, bytes | bytearray) or len(png) > MAX_SEAL_BYTES:
        raise SealImageError(f"the seal picture must be PNG bytes of at most {MAX_SEAL_BYTES}")
    digest = hashlib.sha256(png).digest()
    with _lock:
        cached = _cache.get(digest)
        if cached is not None:
            _cache.move_to_end(digest)
            return cached
    prepared = _prepare(bytes(png), digest)
    with _lock:
        _cache[digest] = prepared
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return prepared


def draw_seal(canvas: Any, seal: PreparedSeal, box: tuple[float, float, float, float]) -> None:
    """Draw the seal centred in ``box`` (x1, y1, x2, y2 points), keeping its aspect ratio."""
    document = canvas._doc
    if not canvas.hasForm(seal.name):
        # reportlab stamps an object with its registration; register fresh
        # stand-ins (sharing the formatted bytes) so the cached originals stay clean.
        document.addForm(seal.name, _Formatted(seal, "image", seal.image))
        if seal.mask is not None and seal.mask_name is not None:
            document.Reference(_Formatted(seal, "mask", seal.mask), xObjectName(seal.mask_name))
    x1, y1, x2, y2 = box
    scale = min((x2 - x1) / seal.width, (y2 - y1) / seal.height)
    width, height = seal.width * scale, seal.height * scale
    canvas.saveState()
    canvas.translate(x1 + (x2 - x1 - width) / 2, y1 + (y2 - y1 - height) / 2)
    canvas.scale(width, height)
    canvas.doForm(seal.name)
    canvas.restoreState()
