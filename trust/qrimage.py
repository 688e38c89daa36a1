"""QR images of tokens: PNG and SVG out (``qrcode``), text back in (``zxing-cpp``).

Tokens are Base45, whose alphabet is exactly the QR alphanumeric set, so the
symbol is encoded in alphanumeric mode (5.5 bits per character); level M on
screens (presentation codes), Q on paper (document codes).

Reading accepts photos: scaled, rotated, blurred or noisy images decode as
long as zxing can find the finder patterns. Hostile images (bombs, truncated
files, non-images) end in :class:`QrImageError`, with the pixel count capped
before any decoding.

    >>> text = "LZ1:ABC"
    >>> read_qr(to_png(text)) == text
    True
"""

from __future__ import annotations

import io
import warnings
from typing import Final, Literal

import qrcode
import qrcode.constants
import qrcode.image.svg
import qrcode.util
import zxingcpp
from PIL import Image

from trust.errors import InputError

__all__ = ["Level", "QrImageError", "qr_version", "read_qr", "to_png", "to_svg"]

Level = Literal["L", "M", "Q", "H"]
MAX_PIXELS: Final = 25_000_000
MAX_IMAGE_BYTES: Final = 20 * 1024 * 1024
_ALPHANUMERIC: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_QR_ONLY: Final = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_LEVELS: Final = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


class QrImageError(InputError):
    """No readable QR code in the image, or not an image at all."""

    code = "qr.image"


def _symbol(text: str, level: Level, box_size: int, border: int) -> qrcode.QRCode:
    if level not in _LEVELS:
        raise InputError(f"unknown QR error-correction level {level!r}")
    qr = qrcode.QRCode(
        version=None, error_correction=_LEVELS[level], box_size=box_size, border=border
    )
    if _ALPHANUMERIC.issuperset(text):
        qr.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
    else:
        qr.add_data(text)  # not alphanumeric: let qrcode pick the mode
    try:
        qr.make(fit=True)
    except (ValueError, qrcode.exceptions.DataOverflowError) as exc:
        raise InputError(f"text does not fit a QR code: {exc}") from None
    return qr


def qr_version(text: str, level: Level = "M") -> int:
    """The smallest QR version (1-40) that holds ``text`` at ``level``."""
    return int(_symbol(text, level, 1, 0).version)


def to_png(text: str, *, level: Level = "M", box_size: int = 4, border: int = 4) -> bytes:
    """A black-on-white PNG with the standard four-module quiet zone."""
    image = _symbol(text, level, box_size, border).make_image(
        fill_color="black", back_color="white"
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def to_svg(text: str, *, level: Level = "M", box_size: int = 10, border: int = 4) -> bytes:
    """A single-path SVG (scales without blur in print and on the web page)."""
    image = _symbol(text, level, box_size, border).make_image(
        image_factory=qrcode.image.svg.SvgPathImage
    )
    return bytes(image.to_string(encoding="utf-8"))


def _open(data: bytes | Image.Image) -> Image.Image:
    if isinstance(data, Image.Image):
        image = data
    else:
        if not isinstance(data, bytes | bytearray) or len(data) > MAX_IMAGE_BYTES:
            raise QrImageError(f"image must be bytes of at most {MAX_IMAGE_BYTES}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(bytes(data)))
        except (
            OSError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombWarning,
            Image.DecompressionBombError,
        ) as exc:
            raise QrImageError(f"not a readable image: {exc}") from None
    width, height = image.size
    if width * height > MAX_PIXELS or width == 0 or height == 0:
        raise QrImageError(f"image of {width}x{height} pixels is refused")
    try:
        return image.convert("L")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise QrImageError(f"image cannot be decoded: {exc}") from None


def read_qr(data: bytes | Image.Image) -> str:
    """The text of the (first) QR code in an image file's bytes or a PIL image."""
    image = _open(data)
    results = zxingcpp.read_barcodes(image, formats=_QR_ONLY)
    for result in results:
        if result.valid and result.text:
            return str(result.text)
    raise QrImageError("no readable QR code in the image")
