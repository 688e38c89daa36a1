"""The renderer's shortcuts write exactly what stock reportlab writes.

signing/render writes some objects without reportlab's generic code paths
(font subset and its objects: _embed.py; text operators: _Page.show; seal
and decoration objects formatted once; the document itself: _writer.py
instead of ``canvas.save()``). Each shortcut must give the same bytes as
reportlab itself, so these tests render through both and compare; they fail
if a reportlab upgrade changes what the shortcuts mirror.
The one intended difference from the earlier output, a font subset without
the 96 ASCII glyphs (asciiReadable off), is checked on poppler's raster:
the same pixels.
"""

from __future__ import annotations

import copy
import io
import random
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops
from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFString, pdfdocEnc
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

import signing.render._embed as embed
import signing.render._renderer as renderer
import signing.render._seal as seal_module
import signing.render._static as static
import signing.render._writer as writer
from signing.pdf.reportlab_pdf import read_reportlab_pdf
from signing.render import FONT_NAME, register_font
from signing.render._fonts import font_path
from signing.types import get_type
from tests.support import TYPE_SAMPLE, require
from tests.test_render import licence_id, render
from trust.seal import render_seal_png

CODES = sorted(TYPE_SAMPLE)
INDEXES = (0, 1, 7)


@pytest.fixture(scope="module")
def stock_fonts() -> dict[bool, Any]:
    """Plain reportlab TTFonts of the same face: asciiReadable off (as now) and on (as before)."""
    register_font()
    return {
        readable: TTFont(FONT_NAME, str(font_path()), subfontIndex=0, asciiReadable=readable)
        for readable in (False, True)
    }


def _stock_show(
    self: Any, x: float, y: float, text: str, size: float, *, bold: bool, char_space: float
) -> None:
    self.canvas.setFont(FONT_NAME, size)
    self.canvas.drawString(x, y, text, mode=2 if bold else None, charSpace=char_space)


def _stock_write(canvas: Canvas) -> bytes:
    """What ``canvas.save()`` writes."""
    return bytes(canvas.getpdfdata())


@pytest.fixture
def stock_path(monkeypatch: pytest.MonkeyPatch, stock_fonts: dict[bool, Any]) -> Any:
    """A switch: ``stock_path(readable)`` turns every shortcut back to reportlab's own code."""

    def use(readable: bool) -> None:
        monkeypatch.setattr(renderer, "write_pdf", _stock_write)
        monkeypatch.setattr(renderer._Page, "show", _stock_show)
        monkeypatch.setattr(seal_module, "_Formatted", lambda _s, _r, target: copy.copy(target))
        monkeypatch.setattr(static._FlateForm, "format", static._FlateForm._format)
        monkeypatch.setitem(pdfmetrics._fonts, FONT_NAME, stock_fonts[readable])

    return use


@pytest.mark.parametrize("code", CODES)
def test_rendering_is_byte_identical_to_stock_reportlab(code: str, stock_path: Any) -> None:
    assert isinstance(pdfmetrics.getFont(FONT_NAME), embed.EmbeddedFont)
    fast = [render(code, i) for i in INDEXES] + [render(code, 2, seal=None)]
    stock_path(False)
    assert pdfmetrics.getFont(FONT_NAME).__class__ is TTFont
    stock = [render(code, i) for i in INDEXES] + [render(code, 2, seal=None)]
    assert fast == stock


def _pixels(pdf: bytes, tmp_path: Path) -> Image.Image:
    require(shutil.which("pdftoppm") is not None, "pdftoppm missing: apt-get install poppler-utils")
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftoppm", "-r", "150", "-png", str(path)],
                         capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    return Image.open(io.BytesIO(out)).convert("RGB")


@pytest.mark.parametrize("code", CODES)
def test_subset_without_ascii_block_prints_the_same_pixels(
    code: str, stock_path: Any, tmp_path: Path
) -> None:
    stock_path(True)  # the earlier output: ASCII-readable subset
    before = render(code, 1)
    stock_path(False)
    after = render(code, 1)
    assert len(after) < len(before)
    assert (
        ImageChops.difference(_pixels(before, tmp_path), _pixels(after, tmp_path)).getbbox() is None
    )


def _subsets(text: str) -> list[list[int]]:
    """The subsets a document showing ``text`` embeds (reportlab's own assignment)."""
    font = pdfmetrics.getFont(FONT_NAME)
    canvas = Canvas(io.BytesIO())
    font.splitString(text, canvas._doc)
    subsets: list[list[int]] = font.state[canvas._doc].subsets
    del font.state[canvas._doc]
    return subsets


def test_subsetter_matches_make_subset_including_composite_glyphs() -> None:
    register_font()
    font = pdfmetrics.getFont(FONT_NAME)
    assert isinstance(font, embed.EmbeddedFont)
    face = font.face
    rng = random.Random(5)
    cjk = [c for c in face.charToGlyph if 0x4E00 <= c <= 0x9FFF]
    text = "".join(map(chr, rng.sample(cjk, 600))) + "ABC abc 0123 ()\\（）、。"
    subsets = _subsets(text)
    assert len(subsets) == 3  # more than 256 codes: several subsets
    for subset in subsets:
        assert font.subsetter.make_subset(subset) == face.makeSubset(subset)
    glyphs = [font.subsetter.glyph(face.charToGlyph[ord(c)]) for c in text]
    assert sum(1 for glyph in glyphs if glyph.parts) > 50  # composite glyphs are exercised


def test_text_operators_match_draw_string() -> None:
    register_font()
    samples = [("营业执照 (副本) \\ 1", False, 0.0), ("粤B·12345", True, 0.4), ("", False, 0.0)]
    rng = random.Random(9)
    face = pdfmetrics.getFont(FONT_NAME).face
    cjk = [c for c in face.charToGlyph if 0x4E00 <= c <= 0x9FFF]
    samples.append(("".join(map(chr, rng.sample(cjk, 300))), True, 0.25))  # crosses subsets
    outputs = []
    for fast in (True, False):
        canvas = Canvas(io.BytesIO(), invariant=1, initialFontName=FONT_NAME)
        page = renderer._Page(canvas, 100.0, "#000000", "#000000")
        for i, (text, bold, space) in enumerate(samples):
            args = (10.5, 20.25 + i, text, 7.5 + i)
            if fast:
                page.show(*args, bold=bold, char_space=space)
            else:
                _stock_show(page, *args, bold=bold, char_space=space)
        code = list(canvas._code)
        canvas.showPage()
        outputs.append((code, canvas.getpdfdata()))
    assert outputs[0] == outputs[1]


def test_cached_seal_objects_follow_the_object_numbers(stock_path: Any) -> None:
    """The seal's image refers to its mask by number: a cached format must not reuse another's."""
    seal = seal_module.prepare_seal(render_seal_png("测试专用章", size_px=120))

    def page(extra_objects: int) -> bytes:
        canvas = Canvas(io.BytesIO(), invariant=1)
        for i in range(extra_objects):
            canvas._doc.Reference(static._FlateForm(b"x", (0.0, 0.0, 1.0, 1.0)), f"Extra{i}")
        seal_module.draw_seal(canvas, seal, (0.0, 0.0, 50.0, 50.0))
        canvas.showPage()
        return bytes(canvas.getpdfdata())

    fast = [page(n) for n in (0, 2, 0, 3)]
    stock_path(False)
    assert fast == [page(n) for n in (0, 2, 0, 3)]


WRITER_INDEXES = range(16)


@pytest.mark.parametrize("code", CODES)
def test_writer_matches_canvas_save_on_many_records(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_pdf == canvas.save() for one type's example records; the lean reader takes each."""
    fast = [render(code, i) for i in WRITER_INDEXES] + [render(code, 3, seal=None)]
    monkeypatch.setattr(renderer, "write_pdf", _stock_write)
    stock = [render(code, i) for i in WRITER_INDEXES] + [render(code, 3, seal=None)]
    assert fast == stock
    assert all(read_reportlab_pdf(pdf, 0) is not None for pdf in fast)


def test_writer_matches_canvas_save_with_several_font_subsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More than 256 distinct characters: two font subsets, each with its four objects."""
    register_font()
    face = pdfmetrics.getFont(FONT_NAME).face
    cjk = [c for c in face.charToGlyph if 0x4E00 <= c <= 0x9FFF]
    licence_type = get_type("BL")
    record = dict(licence_type.example(0))
    record["business_scope"] = "".join(map(chr, random.Random(3).sample(cjk, 400)))

    def page() -> bytes:
        return renderer.render_licence(
            licence_type, record, licence_id("BL"),
            qr_payload="https://verify.example.cn/v/1", seal_png=None,
            issuer_name="北京市朝阳区市场监督管理局",
            issued_at=datetime(2026, 1, 15, tzinfo=UTC),
        )  # fmt: skip

    fast = page()
    assert b"/F1+1 " in fast
    monkeypatch.setattr(renderer, "write_pdf", _stock_write)
    assert fast == page()


def test_writer_formats_every_object_of_a_licence_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only objects that come formatted already reach reportlab's formatter: no silent slow path."""
    seen: list[str] = []

    def record(obj: Any, document: Any, toplevel: int = 0) -> bytes:
        seen.append(type(obj).__name__)
        return bytes(pdfdoc_format(obj, document, toplevel))

    pdfdoc_format = writer.rl_format
    monkeypatch.setattr(writer, "rl_format", record)
    render("DL", 0)
    assert sorted(seen) == ["Prepared"] * 4 + ["_FlateForm", "_Formatted", "_Formatted"]


def test_writer_leaves_other_output_settings_to_reportlab(monkeypatch: pytest.MonkeyPatch) -> None:
    """Multi-line dictionaries (a process-wide reportlab setting) are not mirrored: stock output."""
    default = render("DL", 1)
    monkeypatch.setattr(rl_config, "pdfMultiLine", 1)
    fast = render("DL", 1)
    assert fast != default
    monkeypatch.setattr(renderer, "write_pdf", _stock_write)
    assert fast == render("DL", 1)


def test_pdfdoc_and_string_shortcuts_match_reportlab() -> None:
    """ASCII is its own PDFDocEncoding but for 0x18-0x1f; strings escape as PDFString does."""
    for code in range(128):
        char = chr(code)
        if 0x18 <= code <= 0x1F:
            with pytest.raises(UnicodeEncodeError):
                writer.pdfdoc(char)
            with pytest.raises(UnicodeEncodeError):
                pdfdocEnc(char)
        else:
            assert writer.pdfdoc(char) == pdfdocEnc(char) == char.encode("ascii")
    samples = [
        "",
        "SealTrust",
        "a (b) \\ c\n\t\r",
        "营业执照 L1-BL",
        "Müller café",
        "\x7f\x80",
        "€ ™",
    ]
    for text in samples:
        assert writer._string(text) == PDFString(text).format(writer._PLAIN_DOC)


def test_compressed_font_objects_match_stock_reportlab(
    monkeypatch: pytest.MonkeyPatch, stock_fonts: dict[bool, Any]
) -> None:
    """With document compression on (a bare canvas), the Flate-compressed subset objects too."""

    def page() -> Canvas:
        canvas = Canvas(None, invariant=1, pageCompression=1, initialFontName=FONT_NAME)
        canvas.setFont(FONT_NAME, 9)
        canvas.drawString(20, 700, "营业执照 (副本) 统一社会信用代码 91350100M000100Y43")
        canvas.showPage()
        return canvas

    fast = writer.write_pdf(page())
    assert fast.count(b"/Filter [ /FlateDecode ]") == 3  # content, ToUnicode map, font file
    monkeypatch.setitem(pdfmetrics._fonts, FONT_NAME, stock_fonts[False])
    assert fast == bytes(page().getpdfdata())
