"""One licence record -> one-page PDF (reportlab), ready for an incremental signature.

The page is plain PDF 1.4 with a classic xref table and no form fields: the
signer appends the signature field and its appearance over the seal box
(:func:`seal_box_pt`) in an incremental update, so these bytes stay covered
by the signature unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Final

from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from signing.render._fonts import FONT_NAME, register_font
from signing.render._place import place_text, qr_caption, text_slots
from signing.render._qr import qr_operators
from signing.render._seal import draw_seal, prepare_seal
from signing.render._static import MM, draw_decoration, rgb
from signing.render._writer import write_pdf
from signing.render.errors import RenderInputError
from signing.types import LicenceType, Square, TextSpec
from trust.licence_id import LicenceIdError, parse_licence_id

__all__ = ["CHINA_STANDARD_TIME", "page_size_pt", "render_licence", "seal_box_pt"]

# Dates printed on a licence are Beijing dates; China has no DST, so a fixed
# offset is exact and needs no tz database.
CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")


def page_size_pt(licence_type: LicenceType) -> tuple[float, float]:
    """(width, height) of the licence page in PDF points."""
    return licence_type.layout.width_mm * MM, licence_type.layout.height_mm * MM


def _square_pt(square: Square, page_height: float) -> tuple[float, float, float, float]:
    x1 = square.x_mm * MM
    y1 = page_height - (square.y_mm + square.size_mm) * MM
    return x1, y1, x1 + square.size_mm * MM, y1 + square.size_mm * MM


def seal_box_pt(licence_type: LicenceType) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) in PDF points where the seal is printed: the signature widget's place."""
    return _square_pt(licence_type.layout.seal, page_size_pt(licence_type)[1])


class _Page:
    """Draws text elements of one layout on one canvas.

    Text goes straight into the page's content as the operators
    ``Canvas.drawString`` writes, byte for byte (``tests/test_render_fast.py``
    compares the two): reportlab builds a text object, re-reads the canvas
    state and re-measures the string for each of the ~40 strings of a
    licence, a tenth of the rendering. Only the font's ``splitString`` (which
    assigns the subset codes) and ``getSubsetInternalName`` are reportlab's.
    """

    def __init__(self, canvas: Canvas, height: float, label_color: str, value_color: str) -> None:
        self.canvas = canvas
        self.code: list[str] = canvas._code
        self.doc = canvas._doc
        self.font = pdfmetrics.getFont(FONT_NAME)
        self.height = height
        self.label_color = label_color
        self.value_color = value_color

    def show(
        self, x: float, y: float, text: str, size: float, *, bold: bool, char_space: float
    ) -> None:
        """The operators ``canvas.drawString`` writes (text render mode 2 when bold)."""
        font, doc = self.font, self.doc
        ops = ["BT", f"1 0 0 1 {fp_str(x, y)} Tm"]
        if bold:
            ops.append("2 Tr")
        if char_space:
            ops.append(f"{fp_str(char_space)} Tc")
        shown = []
        current = -1
        for subset, chunk in font.splitString(text, doc):
            if subset != current:
                name = font.getSubsetInternalName(subset, doc)
                shown.append(f"{name} {_font_size_ops(size)}")
                current = subset
            shown.append(f"({escapePDF(chunk)}) Tj")
        ops.append(" ".join(shown) + " T*")
        if char_space:
            ops.append("0 Tc")
        if bold:
            ops.append("0 Tr")
        ops.append("ET")
        self.code.append(" ".join(ops))

    def text(
        self,
        spec: TextSpec,
        value: str,
        *,
        color: str | None = None,
        label_color: str | None = None,
    ) -> None:
        code = self.code
        colour = color or spec.color or self.value_color
        for run in place_text(spec, value, self.height, colour, label_color or self.label_color):
            if run.starts:
                code.append(_fill_op(run.colour))
                if run.bold:  # fill + stroke (render mode 2): a faux bold, the font has no bold
                    code.append(_stroke_op(run.colour))
                    code.append(f"{fp_str(run.size * 0.035)} w")
            self.show(run.x, run.y, run.text, run.size, bold=run.bold,
                      char_space=run.char_space)


@lru_cache(maxsize=256)
def _fill_op(colour: str) -> str:
    """``canvas.setFillColorRGB(*rgb(colour))``'s operator."""
    return f"{fp_str(rgb(colour))} rg"


@lru_cache(maxsize=256)
def _stroke_op(colour: str) -> str:
    """``canvas.setStrokeColorRGB(*rgb(colour))``'s operator."""
    return f"{fp_str(rgb(colour))} RG"


@lru_cache(maxsize=256)
def _font_size_ops(size: float) -> str:
    """Size and leading as ``canvas.setFont`` sets them (leading 1.2 x size)."""
    return f"{fp_str(size)} Tf {fp_str(size * 1.2)} TL"


def check_arguments(
    licence_type: LicenceType, licence_id: str, issuer_name: str, issued_at: datetime
) -> str:
    if not isinstance(issued_at, datetime) or issued_at.utcoffset() is None:
        raise RenderInputError("issued_at must be a timezone-aware datetime")
    try:
        parsed = parse_licence_id(licence_id)
    except LicenceIdError as exc:
        raise RenderInputError(f"bad licence id: {exc.message}") from None
    if parsed.type_code != licence_type.code:
        raise RenderInputError(
            f"licence id is for type {parsed.type_code}, the record is {licence_type.code}"
        )
    if not isinstance(issuer_name, str) or not issuer_name.strip() or len(issuer_name) > 200:
        raise RenderInputError("issuer_name must be 1..200 characters")
    return parsed.text


def render_licence(
    licence_type: LicenceType,
    record: Mapping[str, Any],
    licence_id: str,
    *,
    qr_payload: str,
    seal_png: bytes | None,
    issuer_name: str,
    issued_at: datetime,
    validated: bool = False,
) -> bytes:
    """A one-page PDF of ``record`` laid out by its type, with QR code and seal picture.

    The record is validated against the type first (RecordValidationError
    lists every bad field) unless the caller says it has just done so
    (``validated=True``: issuance validates once, ~0.5 ms per licence);
    CJK text is embedded as a font subset.
    """
    canonical_id = check_arguments(licence_type, licence_id, issuer_name, issued_at)
    if not validated:
        licence_type.validate(record)
    register_font()
    seal = prepare_seal(seal_png) if seal_png is not None else None
    qr_ops = _qr_for(licence_type, qr_payload)

    layout = licence_type.layout
    width, height = page_size_pt(licence_type)
    canvas = Canvas(
        None, pagesize=(width, height), invariant=1, pageCompression=1,
        initialFontName=FONT_NAME, initialFontSize=8,
    )  # fmt: skip
    canvas.setTitle(f"{licence_type.name_zh} {canonical_id}")
    canvas.setSubject(canonical_id)
    canvas.setAuthor(issuer_name)
    canvas.setCreator("SealTrust")
    canvas.setKeywords(f"licence-type={licence_type.code}")
    draw_decoration(canvas, layout)

    page = _Page(canvas, height, layout.label_color, layout.value_color)
    issued_on = issued_at.astimezone(CHINA_STANDARD_TIME).date()
    for spec, value, colour in text_slots(licence_type, record, issuer_name=issuer_name,
                                          issued_on=issued_on, licence_id=canonical_id):
        page.text(spec, value, color=colour)

    if seal is not None:
        draw_seal(canvas, seal, _square_pt(layout.seal, height))
    canvas.addLiteral(qr_ops)
    if layout.qr.caption:
        page.text(qr_caption(layout.qr), layout.qr.caption)
    canvas.showPage()
    # Every stream stays Flate-compressed (reportlab's pageCompression), the font
    # subset and its ToUnicode map too: the outlines shrink ~33% (a DL: 26.5 -> 17.7 KB)
    # for ~0.8 ms once at issuance, while every verification pays SM3 over the signed
    # bytes and SM4-GCM at rest over the file, three times a 一证通办 fill.
    return write_pdf(canvas)  # the bytes of canvas.save(), written faster (_writer.py)


def _qr_for(licence_type: LicenceType, payload: str) -> str:
    if not isinstance(payload, str):
        raise RenderInputError("qr_payload must be text")
    x1, y1, x2, _ = _square_pt(licence_type.layout.qr, page_size_pt(licence_type)[1])
    return qr_operators(payload, x1, y1, x2 - x1)
