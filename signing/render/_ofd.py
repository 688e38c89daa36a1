"""One licence record -> the files of an unsigned OFD package (GB/T 33190), same layout as PDF.

The page is drawn from the type's layout exactly as the PDF page is: the
text slots are placed by :mod:`signing.render._place` (shared with the PDF
writer), the decoration and boxes become PathObjects, the QR code a filled
path of its dark modules, and all text uses an embedded subset of the same
CJK font with a Unicode cmap (an OFD TextCode carries Unicode). The seal
picture is not drawn here: the signer adds it as a StampAnnot whose
appearance is the seal's own picture (GB/T 38540), as OFD viewers expect.

Units are millimetres with the origin at the top-left (GB/T 33190 §8.1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from itertools import compress
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

from reportlab.pdfbase import pdfmetrics

from signing.ofd.package import Entry, Part, Shared, shared
from signing.render._fonts import FONT_NAME, register_font, text_width
from signing.render._place import Run, place_text, qr_caption, text_slots
from signing.render._qr import QUIET_MODULES, qr_matrix
from signing.render._renderer import CHINA_STANDARD_TIME, check_arguments
from signing.render._static import MM, rgb
from signing.types import Layout, LicenceType, TextSpec

__all__ = ["OFD_CONTENT_FILE", "OFD_FONT_FILE", "OFD_NS", "render_licence_ofd"]

OFD_NS: Final = "http://www.ofdspec.org/2016"
OFD_FONT_FILE: Final = "Doc_0/Res/font_2.ttf"
OFD_CONTENT_FILE: Final = "Doc_0/Pages/Page_0/Content.xml"
_HEAD: Final = '<?xml version="1.0" encoding="UTF-8"?>'
_NS: Final = f'xmlns:ofd="{OFD_NS}"'
_FONT_ID: Final = 2
_DARK: Final = bytes.maketrans(b"\x00\xff", b"\x01\x00")  # a QR module: dark -> 1
# 2 * left neighbour + module: 1 where a dark run opens, 2 where it closes (see _qr_path)
_OPENS: Final = bytes.maketrans(b"\x01\x02\x03", b"\x01\x00\x00")
_CLOSES: Final = bytes.maketrans(b"\x01\x02\x03", b"\x00\x01\x00")
_PAGE_END: Final = b"</ofd:Layer></ofd:Content></ofd:Page>"
# The same for every licence: built, deflated and hashed once (signing.ofd.package).
_PUBLIC_RES: Final = (
    f'{_HEAD}<ofd:Res {_NS} BaseLoc="Res"><ofd:Fonts>'
    f'<ofd:Font ID="{_FONT_ID}" FontName={quoteattr(FONT_NAME)} '
    f'FamilyName="WenQuanYi Micro Hei"><ofd:FontFile>font_2.ttf</ofd:FontFile>'
    "</ofd:Font></ofd:Fonts></ofd:Res>").encode()


def _n(value: float) -> str:
    """A coordinate in millimetres, 3 decimals, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@lru_cache(maxsize=256)
def _colour(colour: str) -> str:
    r, g, b = rgb(colour)
    return f"{round(r * 255)} {round(g * 255)} {round(b * 255)}"


@lru_cache(maxsize=8192)
def _advance(ch: str, size: float, space: float) -> tuple[float, str]:
    """One character's advance in millimetres, and as written in DeltaX."""
    advance = text_width(ch, size) / MM + space
    return advance, _n(advance)


def _text_object(run: Run, height: float) -> str:
    """One string (PDF points, bottom-left origin) as an OFD TextObject in mm, without the
    ``<ofd:TextObject ID="n"`` that opens it (IDs are per page, the rest is not)."""
    size = run.size / MM
    x = run.x / MM
    baseline = (height - run.y) / MM
    space = run.char_space / MM
    advances = [_advance(ch, run.size, space) for ch in run.text]
    width = sum(a for a, _ in advances) + size
    top = baseline - size * 1.1
    delta = " ".join([text for _, text in advances[:-1]])
    bold = (f' Stroke="true" LineWidth="{_n(size * 0.035)}"' if run.bold else "")
    stroke = f'<ofd:StrokeColor Value="{_colour(run.colour)}"/>' if run.bold else ""
    return (
        f'" Boundary="{_n(x)} {_n(top)} {_n(width)} '
        f'{_n(size * 1.5)}" Font="{_FONT_ID}" Size="{_n(size)}"{bold}>'
        f'<ofd:FillColor Value="{_colour(run.colour)}"/>{stroke}'
        f'<ofd:TextCode X="0" Y="{_n(size * 1.1)}"'
        + (f' DeltaX="{delta}"' if delta else "")
        + f">{escape(run.text)}</ofd:TextCode></ofd:TextObject>")


Slot = tuple[tuple[str, ...], frozenset[str]]


# A field's label is the same on every licence of its type: formatted once.
_label_object: Final = lru_cache(maxsize=1024)(_text_object)


def _slot(spec: TextSpec, value: str, height: float, colour: str, label_colour: str) -> Slot:
    """The TextObjects of one text slot (see :func:`_text_object`) and its characters."""
    runs = place_text(spec, value, height, colour, label_colour)
    objects = [_text_object(run, height) for run in runs[1:]]
    first = runs[:1]
    if first:  # place_text puts the slot's label first
        write = _label_object if spec.label else _text_object
        objects.insert(0, write(first[0], height))
    return tuple(objects), frozenset().union(*(run.text for run in runs))


# Titles, static texts, captions and the issuer are the same on most licences of a type:
# formatted once. Record values (personal data) are never kept (``_Page.text``).
_static_slot: Final = lru_cache(maxsize=1024)(_slot)


class _Page:
    """Collects the page's objects (each an XML string) and the characters used."""

    def __init__(self, height_pt: float, label_colour: str, value_colour: str) -> None:
        self.height = height_pt
        self.label_colour = label_colour
        self.value_colour = value_colour
        self.objects: list[str] = []
        self.chars: set[str] = set()
        self.next_id = 10

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def path(self, data: str, box: tuple[float, float, float, float], *, fill: str | None = None,
             stroke: str | None = None, width: float = 0.0) -> None:
        x, y, w, h = box
        attrs = f'ID="{self.new_id()}" Boundary="{_n(x)} {_n(y)} {_n(w)} {_n(h)}"'
        attrs += ' Fill="true"' if fill else ' Fill="false"'
        attrs += f' Stroke="{"true" if stroke else "false"}"'
        if stroke:
            attrs += f' LineWidth="{_n(width)}"'
        colours = ""
        if fill:
            colours += f'<ofd:FillColor Value="{_colour(fill)}"/>'
        if stroke:
            colours += f'<ofd:StrokeColor Value="{_colour(stroke)}"/>'
        self.objects.append(f"<ofd:PathObject {attrs}>{colours}"
                            f"<ofd:AbbreviatedData>{data}</ofd:AbbreviatedData></ofd:PathObject>")

    def rect(self, x: float, y: float, w: float, h: float, **paint: Any) -> None:
        self.path(f"M 0 0 L {_n(w)} 0 L {_n(w)} {_n(h)} L 0 {_n(h)} C", (x, y, w, h), **paint)

    def text(self, spec: TextSpec, value: str, *, color: str | None = None) -> None:
        colour = color or spec.color or self.value_colour
        slot = _slot if spec.field is not None else _static_slot
        objects, chars = slot(spec, value, self.height, colour, self.label_colour)
        self.objects += [f'<ofd:TextObject ID="{self.new_id()}{rest}' for rest in objects]
        self.chars |= chars


def _waves(page: _Page, width: float, height: float, spacing: float, colour: str) -> None:
    """The guilloche of the PDF page (two families of half waves), in millimetres.

    A PDF page clips what lies outside it; OFD viewers need not, so the waves
    are kept inside: a whole number of half waves across the width, and only
    rows whose crests stay on the page.
    """
    count = max(1, round(width / (spacing * 3.0)))
    half, amp = width / count, spacing * 0.55
    k = half / math.pi
    parts: list[str] = []
    for phase in (1.0, -1.0):
        for row in range(int(height / spacing) + 2):
            y0 = height - row * spacing
            if y0 - amp < 0 or y0 + amp > height:
                continue
            sign = phase if row % 2 == 0 else -phase  # the PDF's half-wave offset
            parts.append(f"M 0 {_n(y0)}")
            for i in range(count):
                x, end = i * half, (i + 1) * half
                peak = y0 - sign * amp
                parts.append(
                    f"B {_n(x + k)} {_n(peak)} {_n(end - k)} {_n(peak)} {_n(end)} {_n(y0)}")
                sign = -sign
    page.path(" ".join(parts), (0, 0, width, height), stroke=colour, width=0.25 / MM)


@lru_cache(maxsize=256)
def _decoration(layout: Layout) -> tuple[Shared, int]:
    """The page's opening and decoration objects (IDs from 11), and the last ID.

    The same for every licence of a type, and the guilloche alone is ~10,000
    numbers: formatted, deflated and hashed once (the page's shared head)."""
    page = _Page(layout.height_mm * MM, layout.label_color, layout.value_color)
    _draw_decoration(page, layout)
    head = f'{_HEAD}<ofd:Page {_NS}><ofd:Content><ofd:Layer ID="3">' + "".join(page.objects)
    return Shared(head.encode(), deflate=True), page.next_id


def _draw_decoration(page: _Page, layout: Layout) -> None:
    w, h = layout.width_mm, layout.height_mm
    if layout.background:
        page.rect(0, 0, w, h, fill=layout.background)
    if layout.guilloche_color:
        _waves(page, w, h, layout.guilloche_spacing_mm, layout.guilloche_color)
    if layout.band is not None:
        band = layout.band
        page.rect(band.x_mm, band.y_mm, band.width_mm, band.height_mm,
                  fill=band.fill or "#000000")
    if layout.border_color:
        insets = [layout.border_inset_mm]
        if layout.border_double:
            insets.append(insets[0] + 3 * layout.border_width_mm)
        for i, inset in enumerate(insets):
            line = layout.border_width_mm * (1 if i == 0 else 0.4)
            page.rect(inset, inset, w - 2 * inset, h - 2 * inset, stroke=layout.border_color,
                      width=line)
    for box in layout.boxes:
        page.rect(box.x_mm, box.y_mm, box.width_mm, box.height_mm, fill=box.fill,
                  stroke=box.color, width=0.4 / MM)


@lru_cache(maxsize=4)
def _run_ends(n: int) -> tuple[list[str], range]:
    """For an n x n symbol: at 2k the path text that opens a dark run at module position
    k = row * (n + 1) + column, at 2k + 1 the text that closes one there (column n is
    a light module added after each row); and the indexes. In module units (the
    PathObject's CTM scales), ~1 MB for a 亮证 token's symbol."""
    w = n + 1
    ends: list[str] = []
    for k in range(n * w):
        x, y = k % w, k // w
        ends += [f"M {x} {y + 1} L {x} {y} ", f"L {x} {y} L {x} {y + 1} C "]
    return ends, range(len(ends))


def _qr_path(rows: list[bytes]) -> str:
    """The dark runs of the symbol as one path: each run [a, b) of row r is the rectangle
    M a r+1 L a r L b r L b r+1 C (C closes along the bottom edge).

    Formatting ~1,400 runs one by one was most of an OFD page's cost, so the
    edges are found and their text looked up with C-level operations only:
    the rows, each followed by a light module, as one byte string of 0 (light)
    / 1 (dark); 2 * left neighbour + module, computed over the whole string as
    one integer (no carries: every byte stays below 4), is 1 where a run opens
    and 2 where one closes; interleaved as open/close flags, it selects the
    texts of :func:`_run_ends` in page order.
    """
    ends, indexes = _run_ends(len(rows))
    modules = b"\xff".join(rows) + b"\xff"
    dark = int.from_bytes(modules.translate(_DARK), "big")
    edges = (((dark >> 8) << 1) + dark).to_bytes(len(modules), "big")
    flags = bytearray(2 * len(modules))
    flags[0::2] = edges.translate(_OPENS)
    flags[1::2] = edges.translate(_CLOSES)
    return "".join(map(ends.__getitem__, compress(indexes, flags)))[:-1]


def _qr(page: _Page, payload: str, x: float, y: float, size: float) -> None:
    """The dark modules as one filled path in module units, scaled by the object's CTM
    (integers format ~10x faster than millimetres, and the file is smaller)."""
    rows = qr_matrix(payload)
    module = size / len(rows)
    quiet = module * QUIET_MODULES
    page.rect(x - quiet, y - quiet, size + 2 * quiet, size + 2 * quiet, fill="#ffffff")
    page.objects.append(
        f'<ofd:PathObject ID="{page.new_id()}" Boundary="{_n(x)} {_n(y)} {_n(size)} {_n(size)}" '
        f'CTM="{_n(module)} 0 0 {_n(module)} 0 0" Fill="true" Stroke="false">'
        f'<ofd:FillColor Value="0 0 0"/><ofd:AbbreviatedData>{_qr_path(rows)}'
        "</ofd:AbbreviatedData></ofd:PathObject>")


def render_licence_ofd(
    licence_type: LicenceType,
    record: Mapping[str, Any],
    licence_id: str,
    *,
    qr_payload: str,
    issuer_name: str,
    issued_at: datetime,
    doc_id: str,
    validated: bool = False,
) -> dict[str, Entry]:
    """The entries (name -> content) of the unsigned OFD package of one licence.

    The signer adds ``Doc_0/Signs``; ``doc_id`` (32 hex digits) names the
    document in OFD.xml. Validation and argument checks are the PDF renderer's.
    The page is a :class:`~signing.ofd.package.Part`: the type's decoration,
    shared by every licence of the type, then this licence's texts and QR.
    """
    canonical_id = check_arguments(licence_type, licence_id, issuer_name, issued_at)
    if not validated:
        licence_type.validate(record)
    register_font()
    layout = licence_type.layout
    height_pt = layout.height_mm * MM
    page = _Page(height_pt, layout.label_color, layout.value_color)
    head, page.next_id = _decoration(layout)
    issued_on = issued_at.astimezone(CHINA_STANDARD_TIME).date()
    for spec, value, colour in text_slots(licence_type, record, issuer_name=issuer_name,
                                          issued_on=issued_on, licence_id=canonical_id):
        page.text(spec, value, color=colour)
    qr = layout.qr
    _qr(page, qr_payload, qr.x_mm, qr.y_mm, qr.size_mm)
    if qr.caption:
        page.text(qr_caption(qr), qr.caption)
    font = pdfmetrics.getFont(FONT_NAME)
    code_points = sorted({ord(c) for c in page.chars if ord(c) < 0xFFFF})
    font_file = font.subsetter.make_unicode_subset(code_points)
    created = issued_on.isoformat()
    title = f"{licence_type.name_zh} {canonical_id}"
    physical = f"0 0 {_n(layout.width_mm)} {_n(layout.height_mm)}"
    return {
        "OFD.xml": (
            f'{_HEAD}<ofd:OFD {_NS} Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
            f"<ofd:DocID>{doc_id}</ofd:DocID><ofd:Title>{escape(title)}</ofd:Title>"
            f"<ofd:Author>{escape(issuer_name)}</ofd:Author>"
            f"<ofd:Subject>{canonical_id}</ofd:Subject>"
            f"<ofd:CreationDate>{created}</ofd:CreationDate><ofd:Creator>SealTrust</ofd:Creator>"
            f"<ofd:CustomDatas><ofd:CustomData Name=\"licence-type\">{licence_type.code}"
            "</ofd:CustomData></ofd:CustomDatas></ofd:DocInfo>"
            "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"
            "<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>"
            "</ofd:DocBody></ofd:OFD>").encode(),
        "Doc_0/Document.xml": (
            f"{_HEAD}<ofd:Document {_NS}><ofd:CommonData><ofd:MaxUnitID>{page.next_id}"
            f"</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>{physical}</ofd:PhysicalBox>"
            f"<ofd:ApplicationBox>{physical}</ofd:ApplicationBox></ofd:PageArea>"
            "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData><ofd:Pages>"
            '<ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages>'
            "</ofd:Document>").encode(),
        "Doc_0/PublicRes.xml": Part(shared(_PUBLIC_RES, deflate=True)),
        OFD_FONT_FILE: font_file,
        OFD_CONTENT_FILE: Part(head, "".join(page.objects).encode() + _PAGE_END),
    }
