"""Issued licences carry their font subset Flate-compressed, and independent readers agree.

Every verification pays SM3 over the signed bytes and SM4-GCM at rest over the
whole file (a 一证通办 fill three times), so the ~20-27 KB TrueType subset was
the largest uncompressed part of a licence. Checked with readers that are not
ours: pypdf (object structure, decoding), FreeType through Pillow (the decoded
subset is a loadable TrueType font), poppler (pdffonts, pdftotext), stock
pyHanko (the RSA signature of a dual-signed licence over those bytes).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import ImageFont
from pypdf import PdfReader

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.types import builtin_types
from tests.support import require

TYPES = builtin_types()
CODES = ("RIC", "DL", "SSC", "BL")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("size") / "home"
    init_deployment(root)
    home = Home(root)
    dep = Deployment(home, load_config(home))
    yield dep
    dep.close()


@pytest.fixture(scope="module")
def issued(deployment: Deployment) -> dict[str, bytes]:
    out = {}
    with deployment.registry.session() as s:
        for n, code in enumerate(CODES):
            out[code] = issue_one(deployment, s, type_code=code, record=TYPES.get(code).example(n),
                                  department=DEMO_DEPARTMENT, actor="test").pdf
    return out


def _font_file(pdf: bytes) -> Any:
    """The page font's /FontFile2 stream object, as pypdf reads it."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    fonts = page["/Resources"]["/Font"]
    (font,) = (fonts[key].get_object() for key in fonts)
    return font["/FontDescriptor"].get_object()["/FontFile2"].get_object()


@pytest.mark.parametrize("code", CODES)
def test_the_embedded_font_subset_is_flate_compressed(issued: dict[str, bytes],
                                                      code: str) -> None:
    font = _font_file(issued[code])
    assert font["/Filter"] in ("/FlateDecode", ["/FlateDecode"])
    subset = font.get_data()  # pypdf inflates it
    assert font["/Length1"] == len(subset)  # /Length1: the decoded TrueType's length
    assert len(font._data) < 0.8 * len(subset)  # stored bytes: what verification pays for
    # FreeType (through Pillow) loads the decoded subset as a TrueType font.
    assert subset[:4] == b"\x00\x01\x00\x00"
    assert ImageFont.truetype(io.BytesIO(subset), 12).getbbox("A") is not None


@pytest.mark.parametrize("code", CODES)
def test_every_stream_of_the_issued_file_is_compressed(issued: dict[str, bytes],
                                                       code: str) -> None:
    """No stream is stored raw but the signature widget's 3-byte empty appearance (``q Q``)."""
    reader = PdfReader(io.BytesIO(issued[code]))
    raw = []
    for number in range(1, int(reader.trailer["/Size"])):
        obj = reader.get_object(number)
        if hasattr(obj, "get_data") and "/Filter" not in obj and obj.get_data() != b"q Q":
            raw.append((number, obj.get("/Type"), obj.get("/Subtype")))
    assert raw == []


@pytest.mark.parametrize("code", CODES)
def test_poppler_finds_the_font_embedded_and_the_text(issued: dict[str, bytes], code: str,
                                                      tmp_path: Path) -> None:
    require(shutil.which("pdffonts") is not None, "pdffonts missing: apt-get install poppler-utils")
    path = tmp_path / "licence.pdf"
    path.write_bytes(issued[code])
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True,
                           timeout=60).stdout
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all(row[-5:-2] == ["yes", "yes", "yes"] for row in rows), fonts
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    licence_type = TYPES.get(code)
    assert licence_type.holder_name(licence_type.example(CODES.index(code))) in text


def test_stock_pyhanko_validates_the_signature_over_the_compressed_font(
        deployment: Deployment) -> None:
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    with deployment.registry.session() as s:
        pdf = issue_one(deployment, s, type_code="DL", record=TYPES.get("DL").example(7),
                        department=DEMO_DEPARTMENT, alg="sm2+rsa", actor="test").pdf
    assert "/FlateDecode" in str(_font_file(pdf)["/Filter"])
    sigs = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    root = x509.Certificate.load(deployment.certificate("rsa-root").der)
    status = validate_pdf_signature(
        sigs[1], ValidationContext(trust_roots=[root], allow_fetching=False))
    assert status.intact and status.valid and status.trusted
    assert status.coverage is not None and "ENTIRE" in status.coverage.name


@pytest.mark.parametrize("code", ["DL", "BL"])
def test_the_seal_picture_is_flate_compressed_at_level_9(issued: dict[str, bytes],
                                                         code: str) -> None:
    """The printed seal and its soft mask decode (pypdf) to 400x400 pixels stored at zlib
    level 9, not reportlab's 6: the bytes every verification of the licence pays for."""
    page = PdfReader(io.BytesIO(issued[code])).pages[0]
    xobjects = page["/Resources"]["/XObject"]
    (seal,) = (xobjects[k].get_object() for k in xobjects if "Seal" in k)
    mask = seal["/SMask"].get_object()
    for image, channels in ((seal, 3), (mask, 1)):
        assert image["/Filter"] in ("/FlateDecode", ["/FlateDecode"])
        pixels = image.get_data()
        assert len(pixels) == image["/Width"] * image["/Height"] * channels
        assert image._data == zlib.compress(pixels, 9)
