"""Where the strings of a text slot go: label, fitted lines, alignment.

Shared by the PDF page writer and the OFD page writer, so a licence type
lays out the same in both formats. Positions are PDF points with the origin
at the bottom-left (the OFD writer converts to millimetres from the top).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from signing.render._fonts import text_width
from signing.render._static import MM
from signing.render._text import fit_lines
from signing.types import TextSpec

__all__ = ["LINE_HEIGHT", "Run", "place_text"]

LINE_HEIGHT: Final = 1.32
_LABEL_GAP_MM: Final = 1.0


@dataclass(frozen=True, slots=True)
class Run:
    """One string at one place; ``starts`` opens a colour group (label, or the value)."""

    x: float
    y: float
    text: str
    size: float
    bold: bool
    char_space: float
    colour: str
    starts: bool


@lru_cache(maxsize=1024)
def _label_width(label: str, size: float) -> float:
    """Labels repeat on every licence of a type: measure each once."""
    return text_width(label, size)


def place_text(spec: TextSpec, value: str, page_height: float, colour: str,
               label_colour: str) -> list[Run]:
    """The runs of one slot: its label, then the value fitted to the slot's width."""
    runs: list[Run] = []
    x = spec.x_mm * MM
    y = page_height - spec.y_mm * MM
    width = spec.width_mm * MM if spec.width_mm is not None else None
    if spec.label:
        label_size = spec.label_size or spec.size
        runs.append(Run(x, y, spec.label, label_size, False, 0, label_colour, True))
        if spec.label_width_mm is not None:
            offset = spec.label_width_mm * MM
        else:
            offset = _label_width(spec.label, label_size) + _LABEL_GAP_MM * MM
        x += offset
        if width is not None:
            width = max(width - offset, MM)
    if not value:
        return runs
    size, lines = fit_lines(value, spec.size, width, spec.lines, spec.spacing)
    for i, line in enumerate(lines):
        line_y = y - i * size * LINE_HEIGHT
        line_x = x
        if not (spec.align == "left" or spec.label):
            line_width = text_width(line, size, spec.spacing)
            line_x = x - (line_width / 2 if spec.align == "center" else line_width)
        runs.append(Run(line_x, line_y, line, size, spec.bold, spec.spacing, colour, i == 0))
    return runs
