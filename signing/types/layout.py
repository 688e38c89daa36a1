"""The layout template of a licence type, as frozen dataclasses.

Coordinates are millimetres from the page's top-left corner (what a designer
measures on a printed specimen); ``y_mm`` of a text is its baseline. The
definition file is checked against ``type-definition.schema.json`` before
these are built, so construction here only converts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Box", "Layout", "Square", "TextSpec"]

Align = Literal["left", "center", "right"]
ValueFormat = Literal["text", "date_cn", "date_dot"]


@dataclass(frozen=True)
class TextSpec:
    """A positioned text: static ``text``, a record ``field``, or a render value."""

    x_mm: float
    y_mm: float
    size: float
    text: str | None = None
    field: str | None = None
    label: str | None = None
    label_width_mm: float | None = None
    label_size: float | None = None
    width_mm: float | None = None
    lines: int = 1
    align: Align = "left"
    color: str | None = None
    bold: bool = False
    format: ValueFormat = "text"
    spacing: float = 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TextSpec:
        return cls(**data)


@dataclass(frozen=True)
class Box:
    """A rectangle (photo frame, band); ``caption`` is printed centred in it."""

    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float
    color: str | None = None
    fill: str | None = None
    caption: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Box:
        return cls(**data)


@dataclass(frozen=True)
class Square:
    """Where the seal image or the QR code goes (top-left corner and side)."""

    x_mm: float
    y_mm: float
    size_mm: float
    caption: str | None = None
    caption_size: float = 5.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Square:
        return cls(**data)


@dataclass(frozen=True)
class Layout:
    """Page size, decoration and every positioned element of one licence type."""

    width_mm: float
    height_mm: float
    title: TextSpec
    fields: tuple[TextSpec, ...]
    seal: Square
    qr: Square
    licence_id: TextSpec
    issuer: TextSpec | None = None
    issued_at: TextSpec | None = None
    texts: tuple[TextSpec, ...] = ()
    boxes: tuple[Box, ...] = ()
    band: Box | None = None
    background: str | None = None
    guilloche_color: str | None = None
    guilloche_spacing_mm: float = 3.0
    border_color: str | None = None
    border_width_mm: float = 0.0
    border_inset_mm: float = 0.0
    border_double: bool = False
    label_color: str = "#444444"
    value_color: str = "#111111"
    # Rows of fields (same baseline) move up by the lines earlier rows leave unused, so
    # short values leave no gaps; nothing moves down (templates set it).
    flow: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Layout:
        """Build from the (already schema-checked) ``layout`` object."""
        border = data.get("border", {})
        guilloche = data.get("guilloche", {})

        def opt_text(key: str) -> TextSpec | None:
            return TextSpec.from_json(data[key]) if key in data else None

        return cls(
            width_mm=float(data["page"]["width_mm"]),
            height_mm=float(data["page"]["height_mm"]),
            title=TextSpec.from_json(data["title"]),
            fields=tuple(TextSpec.from_json(f) for f in data["fields"]),
            seal=Square.from_json(data["seal"]),
            qr=Square.from_json(data["qr"]),
            licence_id=TextSpec.from_json(data["licence_id"]),
            issuer=opt_text("issuer"),
            issued_at=opt_text("issued_at"),
            texts=tuple(TextSpec.from_json(t) for t in data.get("texts", ())),
            boxes=tuple(Box.from_json(b) for b in data.get("boxes", ())),
            band=Box.from_json(data["band"]) if "band" in data else None,
            background=data.get("background"),
            guilloche_color=guilloche.get("color"),
            guilloche_spacing_mm=float(guilloche.get("spacing_mm", 3.0)),
            border_color=border.get("color"),
            border_width_mm=float(border.get("width_mm", 0.0)),
            border_inset_mm=float(border.get("inset_mm", 0.0)),
            border_double=bool(border.get("double", False)),
            label_color=data.get("label_color", "#444444"),
            value_color=data.get("value_color", "#111111"),
            flow=bool(data.get("flow", False)),
        )
