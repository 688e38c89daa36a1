"""Layout templates: place a type's fields from an ordered list, no coordinates.

A hundred hand-placed layouts cannot be reviewed; a template can. A type says
``"layout": {"template": "certificate-a4", "fields": ["name", "id_number", ...]}``
and :func:`resolve_layout` expands it, once when the type loads, into the same
explicit layout a hand-written type has (``type-definition.schema.json``
``$defs/layout``). The PDF and the OFD writers therefore draw template types
exactly as they draw the others, through ``signing/render/_place.py``.

Labels come from the type's ``labels``. Each field gets as many lines as its
longest valid value needs (the schema's ``maxLength``, ``enum``, date format),
estimated pessimistically (every character a full CJK em); short fields share
a row two by two where the template allows. When the fields do not fit, the
font shrinks step by step, then the longest fields lose lines (the renderer
then shrinks and finally cuts such a value with "…"): nothing is ever placed
outside the template's content area, and a list that cannot fit even so is
refused when the type loads.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from signing.types.errors import LicenceTypeDefinitionError

__all__ = ["TEMPLATES", "resolve_layout"]

_PT_MM: Final = 25.4 / 72.0  # millimetres per point
_LINE_HEIGHT: Final = 1.32  # as signing/render/_place.LINE_HEIGHT
_ASCENT: Final = 0.9  # first baseline below the top of the content area, in ems
_ASCII_EM: Final = 0.62  # widest common ASCII advance of the font (digits 0.55, A 0.61)
_DATE_CN_EM: Final = 4 * 0.55 + 2 * 2 * 0.55 + 3  # 2026年12月31日
_DATE_DOT_EM: Final = 10 * 0.55
_DEFAULT_CHARS: Final = 40  # a string without maxLength, enum or const
_SIZE_STEP: Final = 0.5
_LABEL_GAP_MM: Final = 1.5
_COLUMN_GUTTER_MM: Final = 6.0
_LABEL_SHARE: Final = 0.45  # a label never takes more of its column than this
_RENDER_MIN_SCALE: Final = 0.72  # the smallest size signing/render/_text.fit_lines wraps at
_LINE_FLOOR: Final = 2  # lines a long field keeps before the font shrinks


@dataclass(frozen=True)
class _Geometry:
    """One template: page, where titles, content, QR, seal and ids go, sizes."""

    width: float
    height: float
    title_y: float
    title_size: float
    title_spacing: float
    subtitle_y: float
    subtitle_size: float
    x0: float
    x1: float
    top: float
    bottom: float
    size: float  # base value size (pt)
    min_size: float
    label_ratio: float  # label size / value size
    gap: float  # between rows (mm)
    bottom_alone: float  # content bottom when no issuer line is printed under it
    max_lines: int
    pairs: bool  # short fields share a row
    qr: Mapping[str, Any]
    seal: Mapping[str, Any]
    licence_id: Mapping[str, Any]
    issuer: Mapping[str, Any]
    issued_at: Mapping[str, Any] | None
    photo: Mapping[str, Any]
    decoration: Mapping[str, Any]
    card: bool = False


TEMPLATES: Final[Mapping[str, _Geometry]] = {
    # ISO/IEC 7810 ID-1, a coloured band with the title; QR and photo on the right.
    "id-card": _Geometry(
        width=85.6, height=54, title_y=6.3, title_size=8, title_spacing=0.8,
        subtitle_y=9.3, subtitle_size=3.4, x0=4, x1=63, top=12.5, bottom=47.2, size=6.2,
        min_size=4.2, label_ratio=0.82, gap=0.5, bottom_alone=50.4, max_lines=3, pairs=False,
        qr={"x_mm": 67.5, "y_mm": 36.5, "size_mm": 14.5},
        seal={"x_mm": 47, "y_mm": 26, "size_mm": 15},
        licence_id={"x_mm": 4, "y_mm": 52.3, "size": 3.2, "label": "证照编号 ", "color": "#333333"},
        issuer={"x_mm": 4, "y_mm": 49.6, "size": 3.8, "label": "发证机关 ", "width_mm": 60,
                "color": "#333333"},
        issued_at=None,
        photo={"x_mm": 65.5, "y_mm": 12.5, "width_mm": 16, "height_mm": 21},
        decoration={"background": "#F6F9FC", "guilloche": 2.2, "border_inset": 0.8,
                    "border_width": 0.3, "double": False, "band_height": 10.8},
        card=True,
    ),
    # A4 portrait: decisions, certificates of record, proofs.
    "certificate-a4": _Geometry(
        width=210, height=297, title_y=46, title_size=24, title_spacing=4, subtitle_y=55,
        subtitle_size=11, x0=28, x1=182, top=70, bottom=214, size=12, min_size=8,
        label_ratio=0.92, gap=3.0, bottom_alone=214, max_lines=14, pairs=True,
        qr={"x_mm": 28, "y_mm": 226, "size_mm": 28, "caption": "扫码核验", "caption_size": 8},
        seal={"x_mm": 128, "y_mm": 220, "size_mm": 40},
        licence_id={"x_mm": 28, "y_mm": 283, "size": 8, "label": "证照编号  ", "color": "#444444"},
        issuer={"x_mm": 182, "y_mm": 242, "size": 12, "align": "right", "width_mm": 120,
                "color": "#111111"},
        issued_at={"x_mm": 182, "y_mm": 252, "size": 12, "align": "right", "format": "date_cn",
                   "color": "#111111"},
        photo={"x_mm": 152, "y_mm": 70, "width_mm": 30, "height_mm": 40},
        decoration={"background": "#FFFFFF", "guilloche": 6.0, "border_inset": 10,
                    "border_width": 0.8, "double": True, "rule_y": 61},
    ),
    # A4 landscape: licences of organisations (the 营业执照 family).
    "certificate-a4-landscape": _Geometry(
        width=297, height=210, title_y=38, title_size=30, title_spacing=10, subtitle_y=48,
        subtitle_size=12, x0=28, x1=269, top=60, bottom=152, size=12, min_size=8,
        label_ratio=0.92, gap=3.0, bottom_alone=152, max_lines=10, pairs=True,
        qr={"x_mm": 243, "y_mm": 17, "size_mm": 26, "caption": "扫码核验", "caption_size": 7},
        seal={"x_mm": 212, "y_mm": 146, "size_mm": 40},
        licence_id={"x_mm": 28, "y_mm": 195, "size": 8, "label": "证照编号  ", "color": "#444444"},
        issuer={"x_mm": 268, "y_mm": 170, "size": 12, "align": "right", "width_mm": 120,
                "color": "#111111"},
        issued_at={"x_mm": 268, "y_mm": 180, "size": 12, "align": "right", "format": "date_cn",
                   "color": "#111111"},
        photo={"x_mm": 237, "y_mm": 60, "width_mm": 30, "height_mm": 40},
        decoration={"background": "#FFFDF7", "guilloche": 5.0, "border_inset": 9,
                    "border_width": 1.2, "double": True},
    ),
    # A5 landscape: booklets of persons (marriage, qualifications, household).
    "certificate-a5-landscape": _Geometry(
        width=210, height=148, title_y=23, title_size=20, title_spacing=6, subtitle_y=30,
        subtitle_size=9, x0=18, x1=192, top=38, bottom=112, size=10.5, min_size=7,
        label_ratio=0.9, gap=2.2, bottom_alone=112, max_lines=8, pairs=True,
        qr={"x_mm": 172, "y_mm": 8, "size_mm": 20},
        seal={"x_mm": 142, "y_mm": 100, "size_mm": 34},
        licence_id={"x_mm": 18, "y_mm": 138, "size": 6.5, "label": "证照编号  ",
                    "color": "#444444"},
        issuer={"x_mm": 192, "y_mm": 123, "size": 10, "align": "right", "width_mm": 100,
                "color": "#111111"},
        issued_at={"x_mm": 192, "y_mm": 131, "size": 10, "align": "right", "format": "date_cn",
                   "color": "#111111"},
        photo={"x_mm": 163, "y_mm": 36, "width_mm": 26, "height_mm": 34},
        decoration={"background": "#FFFEFA", "guilloche": 4.0, "border_inset": 6,
                    "border_width": 0.9, "double": True},
    ),
}


@dataclass
class _Cell:
    field: str
    label: str
    format: str
    chars_em: float  # width of the longest valid value, in ems
    lines: int | None  # asked for by the type
    bold: bool
    wide: bool
    text: str | None = None  # a static note instead of a field


def resolve_layout(layout: Mapping[str, Any], *, code: str, name_zh: str,
                   labels: Mapping[str, Mapping[str, str]],
                   schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The explicit layout of a type: ``layout`` itself, or its template expanded."""
    if "template" not in layout:
        return layout
    geometry = TEMPLATES[layout["template"]]
    props: Mapping[str, Any] = schema.get("properties", {})
    cells = []
    for entry in layout["fields"]:
        spec: Mapping[str, Any] = {"field": entry} if isinstance(entry, str) else entry
        name = spec["field"]
        if name not in props:
            raise LicenceTypeDefinitionError(
                f"{code}: layout.fields names field {name!r} that the schema does not define")
        if name not in labels:
            raise LicenceTypeDefinitionError(f"{code}: labels has no entry for field {name!r}")
        fmt = spec.get("format") or ("date_cn" if _is_date(props[name], schema) else "text")
        cells.append(_Cell(
            field=name, label=spec.get("label") or labels[name]["zh"], format=fmt,
            chars_em=_value_em(props[name], schema, fmt), lines=spec.get("lines"),
            bold=bool(spec.get("bold", False)), wide=bool(spec.get("wide", False))))
    if layout.get("note"):
        note = str(layout["note"])
        cells.append(_Cell(field="", label="", format="text", chars_em=_text_em(note),
                           lines=None, bold=False, wide=True, text=note))
    return _expand(code, geometry, layout, cells, title=layout.get("title") or name_zh)


def _expand(code: str, g: _Geometry, layout: Mapping[str, Any], cells: list[_Cell],
            title: str) -> dict[str, Any]:
    accent = layout.get("accent", "#9C3D2A")
    photo = bool(layout.get("photo", False))
    x1 = g.photo["x_mm"] - 3 if photo and not g.card else g.x1
    prints_issuer = not any(c.field == "issuing_authority" for c in cells)
    fields = _place_fields(code, g, cells, x1, g.bottom if prints_issuer else g.bottom_alone)
    title_spec: dict[str, Any] = {
        "text": title, "x_mm": g.width / 2, "y_mm": g.title_y,
        "size": _title_size(title, g), "align": "center", "bold": True,
        "color": "#FFFFFF" if g.card else accent, "spacing": g.title_spacing,
    }
    out: dict[str, Any] = {
        "page": {"width_mm": g.width, "height_mm": g.height},
        "background": g.decoration["background"],
        "guilloche": {"color": _tint(accent, 0.9), "spacing_mm": g.decoration["guilloche"]},
        "border": {"color": accent, "width_mm": g.decoration["border_width"],
                   "inset_mm": g.decoration["border_inset"],
                   "double": g.decoration["double"]},
        "flow": True,
        "label_color": "#3A3A3A",
        "value_color": "#111111",
        "title": title_spec,
        "texts": [],
        "fields": fields,
        "seal": dict(g.seal),
        "qr": dict(g.qr),
        "licence_id": dict(g.licence_id),
    }
    if g.card:
        out["band"] = {"x_mm": 0, "y_mm": 0, "width_mm": g.width,
                       "height_mm": g.decoration["band_height"], "fill": accent}
    elif "rule_y" in g.decoration:
        out["band"] = {"x_mm": g.x0, "y_mm": g.decoration["rule_y"],
                       "width_mm": g.x1 - g.x0, "height_mm": 0.7, "fill": accent}
    if layout.get("subtitle"):
        out["texts"].append({
            "text": layout["subtitle"], "x_mm": g.width / 2, "y_mm": g.subtitle_y,
            "size": g.subtitle_size, "align": "center",
            "color": "#FFE9E0" if g.card else "#333333"})
    if layout.get("qr_caption") and "caption" in out["qr"]:
        out["qr"]["caption"] = layout["qr_caption"]
    # A type that prints its own issuing authority does not print the department again.
    if prints_issuer:
        issuer = dict(g.issuer)
        if layout.get("issuer_label"):
            issuer["label"] = f"{layout['issuer_label']}  "
            if issuer.get("align") == "right":  # a labelled slot is drawn left to right
                issuer.update(x_mm=issuer["x_mm"] - issuer["width_mm"], align="left")
        out["issuer"] = issuer
    if g.issued_at is not None:
        out["issued_at"] = dict(g.issued_at)
    if photo:
        out["boxes"] = [{**g.photo, "color": "#A0A8B0", "fill": "#FFFFFF", "caption": "照片"}]
    return out


def _place_fields(code: str, g: _Geometry, cells: list[_Cell], x1: float,
                  bottom: float) -> list[dict[str, Any]]:
    """Rows of one or two cells, top to bottom. When they do not fit: first the tallest
    cells lose lines down to ``_LINE_FLOOR`` (a 1000-character scope must not shrink every
    other field), then the font shrinks, then cells lose lines down to one."""
    size = g.size
    caps: dict[int, int] = {}
    floor = _LINE_FLOOR
    while True:
        rows = _rows(g, cells, size, x1, caps)
        if _height(rows, size, g.gap) <= bottom - g.top:
            return _specs(g, rows, cells, size, x1)
        lines, index = max((n, i) for row in rows for i, n in row.lines.items())
        if lines > floor:
            caps[index] = lines - 1
        elif size - _SIZE_STEP >= g.min_size:
            size -= _SIZE_STEP
        elif floor > 1:
            floor -= 1
        else:
            raise LicenceTypeDefinitionError(
                f"{code}: {len(cells)} fields do not fit the template even at {g.min_size} pt;"
                " use fewer fields or a larger template")


@dataclass
class _Row:
    cells: list[int]  # indexes into the cell list (one or two)
    lines: dict[int, int]  # cell index -> lines

    @property
    def height_lines(self) -> int:
        return max(self.lines.values())


@dataclass(frozen=True)
class _Labels:
    """The label column at one value size: whether short fields pair up, label font, width."""

    pairs: bool
    size: float
    width: float


def _labels(g: _Geometry, cells: Sequence[_Cell], size: float, full: float) -> _Labels:
    """Labels are never cut and never run into their value: pair fields only when the
    widest label fits a half column, else one column; shrink the label font only when it
    does not even fit a full one."""
    widest = max((_text_em(c.label) for c in cells if c.text is None), default=0.0)
    label_size = size * g.label_ratio
    if not widest:
        return _Labels(g.pairs, label_size, 0.0)
    half = (full - _COLUMN_GUTTER_MM) / 2
    width = widest * label_size * _PT_MM + _LABEL_GAP_MM
    for pairs, column in ((True, half), (False, full)):
        if (g.pairs or not pairs) and width <= column * _LABEL_SHARE:
            return _Labels(pairs, label_size, width)
    room = full * _LABEL_SHARE
    return _Labels(False, (room - _LABEL_GAP_MM) / (widest * _PT_MM), room)


def _rows(g: _Geometry, cells: list[_Cell], size: float, x1: float,
          caps: Mapping[int, int]) -> list[_Row]:
    full = x1 - g.x0
    half = (full - _COLUMN_GUTTER_MM) / 2
    labels = _labels(g, cells, size, full)
    em_mm = size * _PT_MM

    def lines_for(i: int) -> int:
        cell = cells[i]
        usable = full - (0 if cell.text is not None else labels.width)
        # The renderer shrinks a value down to 72% before it cuts one (signing/render/_text.py):
        # lines for the longest valid value at that size, less a character per line for the
        # greedy wrap, are enough to print it whole.
        per_line = max(1, math.floor(usable / (em_mm * _RENDER_MIN_SCALE)) - 1)
        needed = max(1, math.ceil(cell.chars_em / per_line))
        wanted = cell.lines if cell.lines is not None else needed
        return max(1, min(wanted, g.max_lines, caps.get(i, g.max_lines)))

    def fits_half(i: int) -> bool:
        cell = cells[i]
        return (labels.pairs and not cell.wide and cell.text is None
                and cell.lines in (None, 1) and cell.chars_em * em_mm <= half - labels.width)

    rows: list[_Row] = []
    i = 0
    while i < len(cells):
        if i + 1 < len(cells) and fits_half(i) and fits_half(i + 1):
            rows.append(_Row([i, i + 1], {i: 1, i + 1: 1}))
            i += 2
            continue
        rows.append(_Row([i], {i: lines_for(i)}))
        i += 1
    return rows


def _height(rows: Sequence[_Row], size: float, gap: float) -> float:
    line = size * _LINE_HEIGHT * _PT_MM
    total = sum(row.height_lines * line for row in rows) + gap * max(len(rows) - 1, 0)
    return total + size * (_ASCENT - _LINE_HEIGHT) * _PT_MM  # the first line's ascent only


def _specs(g: _Geometry, rows: Sequence[_Row], cells: Sequence[_Cell], size: float,
           x1: float) -> list[dict[str, Any]]:
    """The explicit field slots: baselines top-down, labels in one aligned column."""
    full = x1 - g.x0
    half = (full - _COLUMN_GUTTER_MM) / 2
    labels = _labels(g, cells, size, full)
    line = size * _LINE_HEIGHT * _PT_MM
    y = g.top + size * _ASCENT * _PT_MM
    specs: list[dict[str, Any]] = []
    for row in rows:
        paired = len(row.cells) == 2
        for column, i in enumerate(row.cells):
            cell = cells[i]
            x = g.x0 + column * (half + _COLUMN_GUTTER_MM)
            spec: dict[str, Any] = {"x_mm": _r(x), "y_mm": _r(y), "size": size,
                                    "width_mm": _r(half if paired else full),
                                    "lines": row.lines[i]}
            if cell.text is not None:
                spec.update(text=cell.text, color="#444444")
            else:
                spec.update(field=cell.field, label=cell.label,
                            label_size=_r(labels.size), label_width_mm=_r(labels.width),
                            format=cell.format, bold=cell.bold)
            specs.append(spec)
        y += row.height_lines * line + g.gap
    return specs


def _r(value: float) -> float:
    return round(value, 2)


def _is_date(prop: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    for option in (prop, *prop.get("anyOf", ()), *prop.get("oneOf", ())):
        ref = option.get("$ref", "")
        target = _resolve_ref(schema, ref) if ref else option
        if target.get("format") == "date":
            return True
    return False


def _resolve_ref(schema: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    match = re.fullmatch(r"#/\$defs/([A-Za-z0-9_]+)", ref)
    if match is None:
        return {}
    found = schema.get("$defs", {}).get(match.group(1), {})
    return found if isinstance(found, Mapping) else {}


def _text_em(text: str) -> float:
    return sum(_ASCII_EM if ch.isascii() else 1.0 for ch in text)


def _value_em(prop: Mapping[str, Any], schema: Mapping[str, Any], fmt: str) -> float:
    """Width of the longest value the schema allows, as printed, in ems (pessimistic)."""
    if fmt == "date_cn":
        return _DATE_CN_EM
    if fmt == "date_dot":
        return _DATE_DOT_EM
    options = [prop, *prop.get("anyOf", ()), *prop.get("oneOf", ())]
    widest = 0.0
    found = False
    for option in options:
        if "$ref" in option:
            option = {**_resolve_ref(schema, option["$ref"]), **option}
        if "enum" in option:
            widest = max([widest, *(_text_em(str(v)) for v in option["enum"])])
            found = True
        if "const" in option:
            widest = max(widest, _text_em(str(option["const"])))
            found = True
        pattern = str(option.get("pattern", ""))
        longest = _pattern_max(pattern) if pattern else None
        if "maxLength" in option:
            longest = min(longest or _UNBOUNDED, int(option["maxLength"]))
        if longest is not None and longest < _UNBOUNDED:
            ascii_only = bool(pattern) and pattern.isascii() and "\\u" not in pattern
            widest = max(widest, longest * (_ASCII_EM if ascii_only else 1.0))
            found = True
    return widest if found else _DEFAULT_CHARS


_UNBOUNDED: Final = 10_000


def _pattern_max(pattern: str) -> int | None:
    """The longest string a pattern matches (``^[0-9]{17}[0-9X]$`` -> 18), if bounded.

    The regex parser of the standard library knows (``getwidth``); it is private, so
    any failure only means "unknown" and the field gets the default width."""
    try:
        parser: Any = importlib.import_module("re._parser")
        width = parser.parse(pattern).getwidth()[1]
    except Exception:  # noqa: BLE001 - an estimate; never a reason to refuse a type
        return None
    return int(width) if width < _UNBOUNDED else None


def _title_size(title: str, g: _Geometry) -> float:
    room = g.width - 2 * (g.x0 if not g.card else 3)
    n = len(title)
    spacing_mm = g.title_spacing * _PT_MM * max(n - 1, 0)
    size = g.title_size
    while size > 4 and _text_em(title) * size * _PT_MM + spacing_mm > room:
        size -= 0.5
    return size


def _tint(colour: str, amount: float) -> str:
    """``colour`` mixed with white (``amount`` 0..1 of white): the guilloche shade."""
    value = int(colour[1:], 16)
    parts = [(value >> shift) & 0xFF for shift in (16, 8, 0)]
    return "#" + "".join(f"{round(p + (255 - p) * amount):02X}" for p in parts)
