"""Licence rendering throughput: ``signing.render.render_licence`` per shipped type.

Run: ``.venv/bin/pytest benchmarks/bench_render.py --benchmark-only``

Each round renders a *different* example record (so the font subset, text
layout and QR code change every time, as in a real batch) with a 400 px seal
PNG from ``trust.seal.render_seal_png``, record validation included.
Reference in the same run: a bare reportlab canvas drawing the same record's
values as plain strings with the same embedded CJK font and nothing else,
once with the font as the renderer registers it (signing/render/_embed.py)
and once as a stock reportlab ``TTFont``. The document writing step alone
(signing/render/_writer.py against reportlab's ``canvas.save()``, the same
bytes) is measured on canvases drawn by the renderer, outside the timing.

Target (issue "Licence issuance"): >= 100 licences/s per core end to end,
so rendering must stay well under ~4 ms; ``SEALTRUST_BENCH_ENFORCE=1`` turns
the 4 ms mean into an assertion.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

import signing.render._renderer as renderer
from signing.render import FONT_NAME, register_font, render_licence
from signing.render._fonts import font_path
from signing.render._writer import write_pdf
from signing.types import get_type
from trust.licence_id import format_licence_id, verification_url
from trust.seal import render_seal_png

# the hand-placed layouts and one type of each template (figures stay comparable over time)
CODES = ["APR", "BL", "DL", "RIC", "SSC", "VL", "DPC", "MC", "RPC", "FBL"]
ISSUED_AT = datetime(2026, 1, 16, 2, 0, tzinfo=UTC)
TARGET_MS = 4.0
STOCK_FONT = "WenQuanYiMicroHei-stock"


@pytest.fixture(scope="module")
def seal() -> bytes:
    return render_seal_png("北京市朝阳区市场监督管理局", caption="电子证照专用章", size_px=400)


def _cycle(code: str) -> Callable[[], tuple[dict[str, Any], str]]:
    licence_type = get_type(code)
    records = [licence_type.example(i) for i in range(500)]
    ids = [
        format_licence_id(code, "91350100M000100Y43", i + 1, date(2026, 1, 16)) for i in range(500)
    ]
    counter = itertools.count()

    def next_one() -> tuple[dict[str, Any], str]:
        i = next(counter) % len(records)
        return records[i], ids[i]

    return next_one


@pytest.mark.parametrize("code", CODES)
def test_render_licence(
    benchmark: Any, code: str, seal: bytes, summary: Any, ops_per_second: Any
) -> None:
    licence_type = get_type(code)
    next_one = _cycle(code)

    def render() -> bytes:
        record, lid = next_one()
        return render_licence(
            licence_type, record, lid,
            qr_payload=verification_url("https://verify.example.cn", lid),
            seal_png=seal, issuer_name="北京市朝阳区市场监督管理局", issued_at=ISSUED_AT,
        )  # fmt: skip

    render()  # font registration, layout and seal caches: once per process
    pdf = benchmark.pedantic(render, rounds=300, iterations=1, warmup_rounds=20)
    assert pdf.startswith(b"%PDF-")
    rate = ops_per_second(benchmark)
    if rate:
        benchmark.extra_info["licences_per_s"] = rate
        benchmark.extra_info["pdf_bytes"] = len(pdf)
        summary(f"render {code}: {1000 / rate:.2f} ms/licence ({rate:.0f}/s), {len(pdf)} bytes")
        if os.environ.get("SEALTRUST_BENCH_ENFORCE") == "1":
            assert 1000 / rate < TARGET_MS


def _stock_write(canvas: Canvas) -> bytes:
    return bytes(canvas.getpdfdata())  # what canvas.save() writes


@pytest.mark.parametrize("writer", ["write_pdf", "canvas.save"])
@pytest.mark.parametrize("code", ["DL", "BL"])
def test_write_step(
    benchmark: Any,
    code: str,
    writer: str,
    seal: bytes,
    summary: Any,
    ops_per_second: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the writing of a drawn canvas (font subset included): ours vs reportlab's."""
    licence_type = get_type(code)
    next_one = _cycle(code)
    drawn: list[Canvas] = []

    def keep(canvas: Canvas) -> bytes:
        drawn.append(canvas)
        return b""

    def setup() -> tuple[tuple[Canvas], dict[str, Any]]:
        record, lid = next_one()
        monkeypatch.setattr(renderer, "write_pdf", keep)
        render_licence(
            licence_type, record, lid,
            qr_payload=verification_url("https://verify.example.cn", lid),
            seal_png=seal, issuer_name="北京市朝阳区市场监督管理局", issued_at=ISSUED_AT,
        )  # fmt: skip
        monkeypatch.undo()
        return (drawn.pop(),), {}

    write = write_pdf if writer == "write_pdf" else _stock_write
    write(*setup()[0])
    pdf = benchmark.pedantic(write, setup=setup, rounds=300, warmup_rounds=20)
    assert pdf.startswith(b"%PDF-")
    rate = ops_per_second(benchmark)
    if rate:
        summary(f"write step {code}, {writer}: {1000 / rate:.3f} ms/licence")


def _bare(benchmark: Any, code: str, font_name: str) -> None:
    licence_type = get_type(code)
    next_one = _cycle(code)
    width, height = (
        licence_type.layout.width_mm * 72 / 25.4,
        licence_type.layout.height_mm * 72 / 25.4,
    )

    def bare() -> bytes:
        record, lid = next_one()
        out = io.BytesIO()
        canvas = Canvas(out, pagesize=(width, height), invariant=1, pageCompression=1,
                        initialFontName=font_name)  # fmt: skip
        canvas.setFont(font_name, 8)
        for i, value in enumerate([licence_type.name_zh, lid, *map(str, record.values())]):
            canvas.drawString(10, height - 12 - 9 * i, value)
        canvas.showPage()
        canvas.save()
        return out.getvalue()

    bare()
    benchmark.pedantic(bare, rounds=300, iterations=1, warmup_rounds=20)


@pytest.mark.parametrize("code", ["DL", "BL"])
def test_reference_bare_reportlab(
    benchmark: Any, code: str, summary: Any, ops_per_second: Any
) -> None:
    """Floor: a bare canvas with the same strings, embedding the subset as the renderer does."""
    register_font()
    _bare(benchmark, code, FONT_NAME)
    rate = ops_per_second(benchmark)
    if rate:
        summary(f"bare reportlab {code}: {1000 / rate:.2f} ms/page ({rate:.0f}/s)")


@pytest.mark.parametrize("code", ["DL", "BL"])
def test_reference_bare_reportlab_stock_font(
    benchmark: Any, code: str, summary: Any, ops_per_second: Any
) -> None:
    """The same with reportlab's own TTFont (ASCII-readable subset, stock subsetting)."""
    register_font()  # the same process-wide settings (binary streams)
    if type(pdfmetrics._fonts.get(STOCK_FONT)) is not TTFont:
        # Set directly: registerFont would alias a second font of the same face
        # to the first one registered, the renderer's.
        pdfmetrics._fonts[STOCK_FONT] = TTFont(STOCK_FONT, str(font_path()), subfontIndex=0)
    assert type(pdfmetrics.getFont(STOCK_FONT)) is TTFont
    _bare(benchmark, code, STOCK_FONT)
    rate = ops_per_second(benchmark)
    if rate:
        summary(f"bare reportlab, stock TTFont {code}: {1000 / rate:.2f} ms/page ({rate:.0f}/s)")
