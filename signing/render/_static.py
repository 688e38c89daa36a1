"""Page decoration (background, guilloche, borders, frames) built once per layout.

Decoration depends only on the layout, yet its ~700 guilloche curves cost
milliseconds to draw through reportlab and again to compress in every file.
So it is formatted and zlib-compressed once per layout into a Form XObject
that each licence registers (a shallow copy sharing the bytes) and paints
with one ``Do`` operator.
"""

from __future__ import annotations

import copy
import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFObject, PDFStream

from signing.types import Layout

__all__ = ["MM", "decoration_operators", "draw_decoration", "rgb"]

MM: Final = 72.0 / 25.4  # points per millimetre


@lru_cache(maxsize=256)
def rgb(colour: str) -> tuple[float, float, float]:
    """``#RRGGBB`` as reportlab/PDF 0..1 components."""
    value = int(colour[1:], 16)
    return ((value >> 16) / 255.0, ((value >> 8) & 0xFF) / 255.0, (value & 0xFF) / 255.0)


def _fill(colour: str) -> str:
    r, g, b = rgb(colour)
    return f"{r:.3f} {g:.3f} {b:.3f} rg"


def _stroke(colour: str) -> str:
    r, g, b = rgb(colour)
    return f"{r:.3f} {g:.3f} {b:.3f} RG"


def _waves(width: float, height: float, spacing: float, colour: str) -> list[str]:
    """Two interleaved families of sine-like curves: a cheap guilloche."""
    half = spacing * 3.0  # half wavelength
    amp = spacing * 0.55
    k = half / math.pi  # control-point offset for a smooth half wave
    ops = [f"q {_stroke(colour)} 0.25 w"]
    rows = int(height / spacing) + 2
    for phase in (1.0, -1.0):
        for row in range(rows):
            y0 = row * spacing
            x = -half * (row % 2)
            ops.append(f"{x:.2f} {y0:.2f} m")
            sign = phase
            while x < width:
                peak = y0 + sign * amp
                end = x + half
                ops.append(f"{x + k:.2f} {peak:.2f} {end - k:.2f} {peak:.2f} {end:.2f} {y0:.2f} c")
                x += half
                sign = -sign
            ops.append("S")
    ops.append("Q")
    return ops


def decoration_operators(layout: Layout) -> str:
    """Everything drawn under the text, as PDF content operators (origin bottom-left)."""
    width, height = layout.width_mm * MM, layout.height_mm * MM
    ops: list[str] = []
    if layout.background:
        ops.append(f"q {_fill(layout.background)} 0 0 {width:.2f} {height:.2f} re f Q")
    if layout.guilloche_color:
        ops += _waves(width, height, layout.guilloche_spacing_mm * MM, layout.guilloche_color)
    if layout.band is not None:
        band = layout.band
        ops.append(
            f"q {_fill(band.fill or '#000000')} {band.x_mm * MM:.2f} "
            f"{height - (band.y_mm + band.height_mm) * MM:.2f} "
            f"{band.width_mm * MM:.2f} {band.height_mm * MM:.2f} re f Q"
        )
    if layout.border_color:
        line = layout.border_width_mm * MM
        insets = [layout.border_inset_mm * MM]
        if layout.border_double:
            insets.append(insets[0] + 3 * line)
        for i, inset in enumerate(insets):
            lw = line if i == 0 else line * 0.4
            ops.append(
                f"q {_stroke(layout.border_color)} {lw:.3f} w {inset:.2f} {inset:.2f} "
                f"{width - 2 * inset:.2f} {height - 2 * inset:.2f} re S Q"
            )
    for box in layout.boxes:
        paint = []
        if box.fill:
            paint.append(_fill(box.fill))
        if box.color:
            paint.append(_stroke(box.color) + " 0.4 w")
        op = "B" if box.fill and box.color else ("f" if box.fill else "S")
        bottom = height - (box.y_mm + box.height_mm) * MM
        ops.append(
            f"q {' '.join(paint)} {box.x_mm * MM:.2f} {bottom:.2f} "
            f"{box.width_mm * MM:.2f} {box.height_mm * MM:.2f} re {op} Q"
        )
    return "\n".join(ops)


class _FlateForm(PDFObject):  # type: ignore[misc]
    """A Form XObject whose content is already Flate-compressed (reportlab keeps it as is)."""

    def __init__(self, compressed: bytes, bbox: tuple[float, float, float, float]) -> None:
        self.compressed = compressed
        self.bbox = bbox
        # Shared by the per-document shallow copies: the formatted object has
        # no references, so its bytes are the same in every document.
        self.formatted: list[bytes] = []

    def format(self, document: Any) -> bytes:
        if not self.formatted:
            self.formatted.append(self._format(document))
        return self.formatted[0]

    def _format(self, document: Any) -> bytes:
        entries = {
            "Type": PDFName("XObject"),
            "Subtype": PDFName("Form"),
            "BBox": PDFArray(list(self.bbox)),
            "Resources": PDFDictionary({}),
            "Filter": PDFArray([PDFName("FlateDecode")]),
            "Length": len(self.compressed),
        }
        stream = PDFStream(PDFDictionary(entries), self.compressed)
        formatted: bytes = stream.format(document)
        return formatted


@dataclass(frozen=True)
class _Decoration:
    name: str
    form: _FlateForm


@lru_cache(maxsize=64)
def _decoration(layout: Layout) -> _Decoration:
    ops = decoration_operators(layout).encode("ascii")
    bbox = (0.0, 0.0, layout.width_mm * MM, layout.height_mm * MM)
    name = f"Deco{zlib.crc32(ops):08x}"
    return _Decoration(name, _FlateForm(zlib.compress(ops, 9), bbox))


def draw_decoration(canvas: Any, layout: Layout) -> None:
    """Paint the layout's decoration on the current page (first, under everything)."""
    deco = _decoration(layout)
    if not canvas.hasForm(deco.name):
        canvas._doc.addForm(deco.name, copy.copy(deco.form))
    canvas.doForm(deco.name)
