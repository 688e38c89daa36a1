"""The printed QR code: a 1-bit image mask, one sample per module (error correction level M).

Why an image mask and not vector rectangles: the module matrix is packed
into bits and drawn scaled in one inline image, ~60 µs and ~1 KB of content,
where formatting one ``re`` operator per dark run cost ~0.85 ms (a tenth of
an issuance) and ~5 KB that were then compressed for every licence. Image
masks are not interpolated unless they ask to be (``/Interpolate`` is
absent), so the modules stay square-edged at any zoom. Near the smallest
resolution at which zxing reads a card's symbol at all (~1.5-2 px per
module), the mask and the rectangles each fail at some scales where the
other still reads: over 8 tokens on two card layouts, rendered by PDFium
and MuPDF at 115-216 dpi, the mask was read in 117 of 192 cases, the
rectangles in 105, and at 180 dpi and above both in every case (poppler:
DL card 140 dpi vs 140-160).

Why a fixed mask pattern for 亮证 tokens: choosing the best of the eight QR
masks is ~0.6 ms of zxing's ~0.7 ms encoding. Any mask is a valid symbol
(its number is in the format information), and the choice only matters for
low-entropy data (long runs, finder-like patterns). A token is Base45 of a
signed COSE structure, i.e. near-random, so every mask scores about alike:
over 150 token-shaped payloads the fixed mask's penalty (ISO/IEC 18004
§7.8.3, as the ``qrcode`` package computes it) averaged 1.08x the best of the
eight and never exceeded 1.27x (``tests/test_render_qr.py`` holds this).
Other payloads (e.g. a verification URL) still get the full mask search.
"""

from __future__ import annotations

from typing import Final

import zxingcpp

from signing.render.errors import RenderInputError
from trust.token.codec import PREFIX as TOKEN_PREFIX

__all__ = ["MAX_QR_PAYLOAD", "QUIET_MODULES", "TOKEN_MASK", "qr_matrix", "qr_operators"]

MAX_QR_PAYLOAD: Final = 2000
QUIET_MODULES: Final = 2  # printed on a white square; the page margin adds the rest
TOKEN_MASK: Final = 3
_BITS: Final = bytes.maketrans(b"\x00\xff", b"01")  # dark module -> 0: the mask paints it


def qr_matrix(payload: str) -> list[bytes]:
    """Rows of the symbol, one byte per module: 0 is dark, 255 light."""
    if not payload or len(payload) > MAX_QR_PAYLOAD:
        raise RenderInputError(f"QR payload must have 1..{MAX_QR_PAYLOAD} characters")
    if not (payload.isascii() and payload.isprintable()):
        raise RenderInputError("QR payload must be printable ASCII (a URL or a Base45 token)")
    options: dict[str, object] = {"ec_level": "M"}
    if payload.startswith(TOKEN_PREFIX):
        options["data_mask"] = TOKEN_MASK
    try:
        barcode = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, **options)
    except ValueError as exc:
        raise RenderInputError(f"QR payload cannot be encoded: {exc}") from None
    image = barcode.to_image(scale=1, add_quiet_zones=False)
    view = memoryview(image)  # type: ignore[arg-type]  # the stubs omit the buffer protocol
    if view.ndim != 2 or view.shape is None or view.shape[0] != view.shape[1]:
        raise RenderInputError("QR encoder returned an unexpected image")
    n = view.shape[0]
    data = view.tobytes()
    if data.translate(None, b"\x00\xff"):
        raise RenderInputError("QR encoder returned grey pixels")
    return [data[r * n : (r + 1) * n] for r in range(n)]


def _packed_rows(rows: list[bytes]) -> bytes:
    """The rows as image-mask samples, 1 bit each, every row padded to whole bytes."""
    n = len(rows)
    width = (n + 7) // 8
    pad = "1" * (width * 8 - n)
    return b"".join(
        int(row.translate(_BITS).decode() + pad, 2).to_bytes(width, "big") for row in rows
    )


def qr_operators(payload: str, x_pt: float, y_pt: float, size_pt: float) -> str:
    """PDF content operators drawing the symbol in the square at (x, y) bottom-left."""
    rows = qr_matrix(payload)
    n = len(rows)
    module = size_pt / (n + 2 * QUIET_MODULES)
    side = n * module
    origin_x = x_pt + QUIET_MODULES * module
    origin_y = y_pt + QUIET_MODULES * module
    return (
        f"q 1 1 1 rg {x_pt:.3f} {y_pt:.3f} {size_pt:.3f} {size_pt:.3f} re f\n"
        f"0 0 0 rg {side:.5f} 0 0 {side:.5f} {origin_x:.3f} {origin_y:.3f} cm\n"
        f"BI /W {n} /H {n} /IM true /BPC 1 /F /AHx ID\n{_packed_rows(rows).hex()}>\nEI Q"
    )
