"""Where the strings of a text slot go: label, fitted lines, alignment.

Shared by the PDF page writer and the OFD page writer, so a licence type
lays out the same in both formats. Positions are PDF points with the origin
at the bottom-left (the OFD writer converts to millimetres from the top).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Any, Final

from signing.render._fonts import text_width
from signing.render._static import MM
from signing.render._text import fit_lines
from signing.types import LicenceType, Square, TextSpec

__all__ = ["LINE_HEIGHT", "Run", "place_text", "qr_caption", "text_slots"]

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


def format_value(value: Any, fmt: str) -> str:
    """A record value as printed: text as is, ISO dates as 2026年1月15日 or 2026.01.15."""
    text = "" if value is None else str(value)
    if fmt == "text":
        return text
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text  # e.g. 长期 (long-term) in a date slot
    if fmt == "date_cn":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.year:04d}.{day.month:02d}.{day.day:02d}"


def text_slots(licence_type: LicenceType, record: Mapping[str, Any], *, issuer_name: str,
               issued_on: date, licence_id: str) -> Iterator[tuple[TextSpec, str, str | None]]:
    """Every text of a licence page as (slot, value, colour override), in drawing order:
    title, static texts, box captions, fields, issuer, issue date, licence id. The PDF
    and OFD writers both draw exactly this sequence."""
    layout = licence_type.layout
    yield layout.title, layout.title.text or licence_type.name_zh, None
    for spec in layout.texts:
        yield spec, spec.text or "", None
    for box in layout.boxes:
        if box.caption:
            yield TextSpec(
                x_mm=box.x_mm + box.width_mm / 2, y_mm=box.y_mm + box.height_mm / 2 + 1.2,
                size=max(min(box.width_mm, box.height_mm) * 0.35, 4.0), align="center",
            ), box.caption, box.color  # fmt: skip
    fields = [(spec, format_value(record.get(spec.field), spec.format) if spec.field is not None
               else spec.text) for spec in layout.fields
              if spec.field is not None or spec.text is not None]
    if layout.flow:
        fields = _flowed(fields)
    for spec, value in fields:
        yield spec, value or "", None
    if layout.issuer is not None:
        yield layout.issuer, issuer_name, None
    if layout.issued_at is not None:
        yield layout.issued_at, format_value(issued_on.isoformat(), layout.issued_at.format), None
    yield layout.licence_id, licence_id, None


def _flowed(fields: list[tuple[TextSpec, str | None]]) -> list[tuple[TextSpec, str | None]]:
    """Move each row (the slots sharing a baseline) up by the lines the rows above did not
    use: a template reserves lines for the longest valid value, most values are shorter.
    Rows only move up, within the area the template reserved, so nothing can overflow."""
    out: list[tuple[TextSpec, str | None]] = []
    shift_mm = 0.0
    i = 0
    while i < len(fields):
        row_y = fields[i][0].y_mm
        row = []
        while i < len(fields) and fields[i][0].y_mm == row_y:
            row.append(fields[i])
            i += 1
        reserved = max(spec.lines for spec, _ in row)
        used = max(_lines_used(spec, value) for spec, value in row)
        line_mm = max(spec.size for spec, _ in row) * LINE_HEIGHT / MM
        out += [(replace(spec, y_mm=spec.y_mm - shift_mm) if shift_mm else spec, value)
                for spec, value in row]
        shift_mm += (reserved - used) * line_mm
    return out


def _lines_used(spec: TextSpec, value: str | None) -> int:
    if not value or spec.width_mm is None:
        return 1
    width = spec.width_mm * MM
    if spec.label:
        width -= (spec.label_width_mm * MM if spec.label_width_mm is not None
                  else _label_width(spec.label, spec.label_size or spec.size) + _LABEL_GAP_MM * MM)
    return len(fit_lines(value, spec.size, max(width, MM), spec.lines, spec.spacing)[1])


def qr_caption(qr: Square) -> TextSpec:
    """The slot of the caption under the QR code."""
    return TextSpec(x_mm=qr.x_mm + qr.size_mm / 2,
                    y_mm=qr.y_mm + qr.size_mm + qr.caption_size / MM + 0.8,
                    size=qr.caption_size, align="center")
