"""Rendering: every shipped type renders to a one-page PDF that poppler draws,
whose text extracts, whose fonts are embedded, whose QR decodes, whose seal
keeps its transparency, and that pyHanko can sign incrementally.

Independent readers check the output: poppler (pdftoppm, pdftotext, pdffonts),
pypdf, zxing-cpp on poppler's raster, pyHanko's signature validator.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageDraw
from pypdf import PdfReader

from signing.render import (
    RenderInputError,
    SealImageError,
    page_size_pt,
    render_licence,
    seal_box_pt,
)
from signing.types import RecordValidationError, get_type
from tests.support import TYPE_SAMPLE, require
from trust.licence_id import format_licence_id, verification_url

AUTHORITY = "91350100M000100Y43"
ISSUED_AT = datetime(2026, 1, 15, 17, 30, tzinfo=UTC)  # 2026-01-16 01:30 in Beijing
DPI = 110
CODES = sorted(TYPE_SAMPLE)


def seal_png(px: int = 240) -> bytes:
    """A red ring with a star on a transparent background."""
    image = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    red = (220, 20, 30, 230)
    draw.ellipse((6, 6, px - 6, px - 6), outline=red, width=px // 14)
    c = px / 2
    points = [
        (
            c + px * (0.3 if i % 2 == 0 else 0.12) * math.cos(-math.pi / 2 + i * math.pi / 5),
            c + px * (0.3 if i % 2 == 0 else 0.12) * math.sin(-math.pi / 2 + i * math.pi / 5),
        )
        for i in range(10)
    ]
    draw.polygon(points, fill=red)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


SEAL = seal_png()


def licence_id(code: str, sequence: int = 1) -> str:
    return format_licence_id(code, AUTHORITY, sequence, date(2026, 1, 16))


def render(code: str, index: int = 0, *, seal: bytes | None = SEAL, **overrides: object) -> bytes:
    licence_type = get_type(code)
    lid = licence_id(code, index + 1)
    kwargs: dict[str, object] = {
        "qr_payload": verification_url("https://verify.example.cn", lid),
        "seal_png": seal,
        "issuer_name": "北京市朝阳区市场监督管理局",
        "issued_at": ISSUED_AT,
    }
    kwargs.update(overrides)
    return render_licence(licence_type, licence_type.example(index), lid, **kwargs)  # type: ignore[arg-type]


def poppler(
    tool: str, *args: str, data: bytes, tmp_path: Path
) -> subprocess.CompletedProcess[bytes]:
    require(shutil.which(tool) is not None, f"{tool} missing: apt-get install poppler-utils")
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(data)
    return subprocess.run([tool, *args, str(pdf), *(["-"] if tool == "pdftotext" else [])],
                          capture_output=True, check=True, timeout=60)  # fmt: skip


def raster(data: bytes, tmp_path: Path) -> Image.Image:
    # pdftoppm without an output root writes the PNG to stdout
    result = poppler("pdftoppm", "-r", str(DPI), "-png", data=data, tmp_path=tmp_path)
    return Image.open(io.BytesIO(result.stdout)).convert("RGB")


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    return {code: render(code, 3) for code in CODES}


@pytest.mark.parametrize("code", CODES)
def test_one_page_at_the_type_size(rendered: dict[str, bytes], code: str) -> None:
    reader = PdfReader(io.BytesIO(rendered[code]))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    width, height = page_size_pt(get_type(code))
    layout = get_type(code).layout
    assert float(box.width) == pytest.approx(layout.width_mm / 25.4 * 72, abs=0.01)
    assert float(box.height) == pytest.approx(layout.height_mm / 25.4 * 72, abs=0.01)
    assert (float(box.width), float(box.height)) == pytest.approx((width, height), abs=0.01)
    assert reader.metadata is not None and licence_id(code, 4) in str(reader.metadata.subject)


@pytest.mark.parametrize("code", CODES)
def test_poppler_draws_a_non_blank_page_with_a_readable_qr(
    rendered: dict[str, bytes], code: str, tmp_path: Path
) -> None:
    image = raster(rendered[code], tmp_path)
    layout = get_type(code).layout
    expected = (layout.width_mm / 25.4 * DPI, layout.height_mm / 25.4 * DPI)
    assert image.size == pytest.approx(expected, abs=1)
    histogram = image.convert("L").histogram()
    ink = sum(histogram[:160])
    assert ink > 0.01 * image.width * image.height, "page looks blank"
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [c.text for c in codes] == [
        verification_url("https://verify.example.cn", licence_id(code, 4))
    ]


@pytest.mark.parametrize("code", CODES)
def test_text_extraction_finds_holder_and_id(
    rendered: dict[str, bytes], code: str, tmp_path: Path
) -> None:
    text = poppler(
        "pdftotext", "-enc", "UTF-8", data=rendered[code], tmp_path=tmp_path
    ).stdout.decode()
    licence_type = get_type(code)
    record = licence_type.example(3)
    assert licence_type.holder_name(record) in text
    assert licence_id(code, 4) in text.replace(" ", "")
    title = licence_type.layout.title.text or licence_type.name_zh
    assert title in text.replace(" ", "")


@pytest.mark.parametrize("code", CODES)
def test_every_font_is_embedded(rendered: dict[str, bytes], code: str, tmp_path: Path) -> None:
    out = poppler("pdffonts", data=rendered[code], tmp_path=tmp_path).stdout.decode()
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    assert rows, out
    for row in rows:
        # name type encoding emb sub uni object generation
        emb, sub, uni = row[-5], row[-4], row[-3]
        assert (emb, sub, uni) == ("yes", "yes", "yes"), out
        assert "WenQuanYi" in row[0]


def _red(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 170 and g < 110 and b < 110


def _seal_pixels(
    image: Image.Image, code: str
) -> tuple[list[tuple[int, int, int]], tuple[int, int]]:
    x1, y1, x2, y2 = seal_box_pt(get_type(code))
    _, height = page_size_pt(get_type(code))
    scale = DPI / 72
    box = (
        round(x1 * scale),
        round((height - y2) * scale),
        round(x2 * scale),
        round((height - y1) * scale),
    )
    raw = image.crop(box).tobytes()
    corner = (box[0] + 2, box[1] + 2)
    return [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)], corner


def test_seal_is_drawn_with_transparency(tmp_path: Path) -> None:
    with_seal = raster(render("DL", 1), tmp_path)
    without = raster(render("DL", 1, seal=None), tmp_path)
    red_with = sum(map(_red, _seal_pixels(with_seal, "DL")[0]))
    red_without = sum(map(_red, _seal_pixels(without, "DL")[0]))
    assert red_without == 0
    assert red_with > 200
    # The seal PNG's transparent corner shows the page underneath, unchanged.
    _, corner = _seal_pixels(with_seal, "DL")
    assert with_seal.getpixel(corner) == without.getpixel(corner)


def test_rendering_is_deterministic_and_caches_do_not_leak() -> None:
    first = render("SSC", 5)
    render("BL", 5)  # another layout's decoration and the same seal, cached in between
    assert render("SSC", 5) == first
    other_seal = render("SSC", 5, seal=seal_png(200))
    assert other_seal != first


def test_issued_at_is_printed_as_the_beijing_date(tmp_path: Path) -> None:
    text = poppler(
        "pdftotext", "-enc", "UTF-8", data=render("BL", 0), tmp_path=tmp_path
    ).stdout.decode()
    assert "2026年1月16日" in text  # 17:30 UTC on the 15th is the 16th in Beijing


def test_pyhanko_signs_the_licence_incrementally() -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from tests.pdf_corpus import make_rsa_pki, sign_rsa

    pdf = render("RIC", 2)
    pki = make_rsa_pki()
    signed = sign_rsa(pdf, pki)
    assert signed.startswith(pdf)  # an incremental update: the rendered bytes are untouched
    reader = PdfFileReader(io.BytesIO(signed))
    (signature,) = reader.embedded_signatures
    status = validate_pdf_signature(
        signature,
        ValidationContext(trust_roots=[pki.root], moment=datetime(2026, 11, 1, tzinfo=UTC)),
    )
    assert status.intact and status.valid
    assert status.coverage.name == "ENTIRE_FILE"


# -- bad input -----------------------------------------------------------------


def test_invalid_record_is_refused_field_by_field() -> None:
    dl = get_type("DL")
    record = dl.example(0) | {"vehicle_class": "Z9", "birth_date": "yesterday"}
    with pytest.raises(RecordValidationError) as info:
        render_licence(dl, record, licence_id("DL"), qr_payload="x", seal_png=None,
                       issuer_name="x", issued_at=ISSUED_AT)  # fmt: skip
    assert {e.path for e in info.value.errors} == {"$.vehicle_class", "$.birth_date"}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"issued_at": datetime(2026, 1, 15, 12, 0)}, RenderInputError),  # naive
        ({"issued_at": date(2026, 1, 15)}, RenderInputError),
        ({"qr_payload": ""}, RenderInputError),
        ({"qr_payload": "x" * 5000}, RenderInputError),
        ({"qr_payload": "核验"}, RenderInputError),
        ({"issuer_name": ""}, RenderInputError),
        ({"seal": b"GIF89a...."}, SealImageError),
        ({"seal": b"\x89PNG\r\n\x1a\n" + b"\x00" * 40}, SealImageError),
        ({"seal": SEAL[: len(SEAL) // 2]}, SealImageError),
    ],
)
def test_bad_arguments_are_typed_errors(
    overrides: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        render("VL", 0, **overrides)  # type: ignore[arg-type]


def test_licence_id_must_be_valid_and_of_the_same_type() -> None:
    vl = get_type("VL")
    good = {"qr_payload": "x", "seal_png": None, "issuer_name": "x", "issued_at": ISSUED_AT}
    with pytest.raises(RenderInputError, match="type DL"):
        render_licence(vl, vl.example(0), licence_id("DL"), **good)  # type: ignore[arg-type]
    with pytest.raises(RenderInputError, match="bad licence id"):
        render_licence(vl, vl.example(0), licence_id("VL")[:-1] + "*", **good)  # type: ignore[arg-type]


def test_oversized_seal_picture_is_refused() -> None:
    image = Image.new("RGBA", (4000, 4000), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    with pytest.raises(SealImageError, match="refused"):
        render("VL", 0, seal=out.getvalue())


def test_long_values_stay_inside_their_slot(tmp_path: Path) -> None:
    bl = get_type("BL")
    record = bl.example(0) | {
        "business_scope": "技术开发、技术咨询；" * 80,
        "name": "超长名称" * 20 + "有限公司",
    }
    pdf = render_licence(bl, record, licence_id("BL"), qr_payload="x", seal_png=None,
                         issuer_name="登记机关", issued_at=ISSUED_AT)  # fmt: skip
    text = poppler("pdftotext", "-enc", "UTF-8", data=pdf, tmp_path=tmp_path).stdout.decode()
    assert "…" in text  # truncated with an ellipsis, not overflowing
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_timezone_aware_non_utc_is_accepted() -> None:
    cst = timezone(timedelta(hours=8))
    assert render("APR", 0, issued_at=datetime(2026, 1, 16, 1, 30, tzinfo=cst)).startswith(b"%PDF-")


@pytest.mark.parametrize("code", ["RIC", "SSC"])  # the smallest QR squares
def test_a_long_base45_token_still_decodes_at_300_dpi(code: str, tmp_path: Path) -> None:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    token = "ST1:" + "".join(alphabet[(i * 7919) % len(alphabet)] for i in range(500))
    pdf = render(code, 0, qr_payload=token)
    result = poppler("pdftoppm", "-r", "300", "-png", data=pdf, tmp_path=tmp_path)
    image = Image.open(io.BytesIO(result.stdout))
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [c.text for c in codes] == [token]
