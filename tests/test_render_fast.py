"""The renderer's shortcuts write exactly what stock reportlab writes.

signing/render writes some objects without reportlab's generic code paths
(font subset and its objects: _embed.py; text operators: _Page.show; seal
and decoration objects formatted once). Each shortcut must give the same
bytes as reportlab itself, so these tests render through both and compare;
they fail if a reportlab upgrade changes what the shortcuts mirror.
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
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

import signing.render._embed as embed
import signing.render._renderer as renderer
import signing.render._seal as seal_module
import signing.render._static as static
from signing.render import FONT_NAME, register_font
from signing.render._fonts import font_path
from signing.types import builtin_types
from tests.support import require
from tests.test_render import render
from trust.seal import render_seal_png

CODES = sorted(builtin_types().codes())
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


@pytest.fixture
def stock_path(monkeypatch: pytest.MonkeyPatch, stock_fonts: dict[bool, Any]) -> Any:
    """A switch: ``stock_path(readable)`` turns every shortcut back to reportlab's own code."""

    def use(readable: bool) -> None:
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
