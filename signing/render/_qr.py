"""The printed QR code as vector rectangles (error correction level M).

zxing-cpp (C++) builds the module matrix in ~0.2 ms where the pure-Python
``qrcode`` package needs ~5 ms, a whole rendering budget. Dark runs of each
row become one rectangle each, all filled as one path, so the symbol stays
sharp at any zoom and costs a few hundred bytes.
"""

from __future__ import annotations

from typing import Final

import zxingcpp

from signing.render.errors import RenderInputError

__all__ = ["MAX_QR_PAYLOAD", "QUIET_MODULES", "qr_matrix", "qr_operators"]

MAX_QR_PAYLOAD: Final = 2000
QUIET_MODULES: Final = 2  # printed on a white square; the page margin adds the rest


def qr_matrix(payload: str) -> list[bytes]:
    """Rows of the symbol, one byte per module: 0 is dark."""
    if not payload or len(payload) > MAX_QR_PAYLOAD:
        raise RenderInputError(f"QR payload must have 1..{MAX_QR_PAYLOAD} characters")
    if not (payload.isascii() and payload.isprintable()):
        raise RenderInputError("QR payload must be printable ASCII (a URL or a Base45 token)")
    try:
        barcode = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    except ValueError as exc:
        raise RenderInputError(f"QR payload cannot be encoded: {exc}") from None
    image = barcode.to_image(scale=1, add_quiet_zones=False)
    view = memoryview(image)  # type: ignore[arg-type]  # the stubs omit the buffer protocol
    if view.ndim != 2 or view.shape is None:
        raise RenderInputError("QR encoder returned an unexpected image")
    rows, cols = view.shape
    data = view.tobytes()
    return [data[r * cols : (r + 1) * cols] for r in range(rows)]


def qr_operators(payload: str, x_pt: float, y_pt: float, size_pt: float) -> str:
    """PDF content operators drawing the symbol in the square at (x, y) bottom-left."""
    rows = qr_matrix(payload)
    n = len(rows)
    module = size_pt / (n + 2 * QUIET_MODULES)
    origin_x = x_pt + QUIET_MODULES * module
    origin_y = y_pt + QUIET_MODULES * module
    ops = [f"q 1 1 1 rg {x_pt:.3f} {y_pt:.3f} {size_pt:.3f} {size_pt:.3f} re f"]
    ops.append(f"0 0 0 rg {module:.5f} 0 0 {module:.5f} {origin_x:.3f} {origin_y:.3f} cm")
    for r, row in enumerate(rows):
        y = n - 1 - r
        c = 0
        while c < n:
            if row[c] == 0:
                start = c
                while c < n and row[c] == 0:
                    c += 1
                ops.append(f"{start} {y} {c - start} 1 re")
            else:
                c += 1
    ops.append("f Q")
    return "\n".join(ops)
