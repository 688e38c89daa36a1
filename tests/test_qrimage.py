"""QR images: PNG/SVG output, and reading back from photo-like distortions."""

from __future__ import annotations

import io
import json
import random
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from tests.work_budget import peak_rss_growth
from trust.qrimage import QrImageError, qr_version, read_qr, to_png, to_svg

# A real presentation token: the conformance suite's first valid case.
TOKEN: str = json.loads(
    (Path(__file__).parent / "vectors" / "qr" / "valid_presentation_sm2.json").read_text()
)["prefixed"]


def _png(image: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kw)
    return out.getvalue()


def _base() -> Image.Image:
    return Image.open(io.BytesIO(to_png(TOKEN, box_size=6))).convert("L")


def _noise(img: Image.Image, amount: int) -> Image.Image:
    rng = random.Random(1)
    data = bytes(max(0, min(255, p + rng.randint(-amount, amount))) for p in img.tobytes())
    return Image.frombytes("L", img.size, data)


def _photo(img: Image.Image) -> Image.Image:
    """Grey paper, small rotation, downscale, blur, noise, JPEG: a phone snapshot."""
    canvas = Image.new("L", (img.width + 200, img.height + 200), 200)
    canvas.paste(img, (100, 100))
    rotated = canvas.rotate(11, resample=Image.Resampling.BICUBIC, fillcolor=200)
    small = rotated.resize((rotated.width * 2 // 3, rotated.height * 2 // 3))
    noisy = _noise(small.filter(ImageFilter.GaussianBlur(1.2)), 25)
    return Image.open(io.BytesIO(_png(noisy, "JPEG", quality=60)))


DISTORTIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "as_generated": lambda i: i,
    "scaled_down": lambda i: i.resize((i.width // 2, i.height // 2), Image.Resampling.BILINEAR),
    "scaled_up": lambda i: i.resize((i.width * 7 // 4, i.height * 7 // 4)),
    "rotated_90": lambda i: i.rotate(90, expand=True),
    "rotated_7deg": lambda i: i.rotate(
        7, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC
    ),
    "blurred": lambda i: i.filter(ImageFilter.GaussianBlur(2)),
    "noisy": lambda i: _noise(i, 60),
    "jpeg_q30": lambda i: Image.open(io.BytesIO(_png(i, "JPEG", quality=30))),
    "photo": _photo,
}


def test_presentation_token_version() -> None:
    assert len(TOKEN) == 324
    assert qr_version(TOKEN, "M") <= 13
    assert qr_version(TOKEN, "Q") >= qr_version(TOKEN, "M")


@pytest.mark.parametrize("name", list(DISTORTIONS))
def test_reads_distorted_images(name: str) -> None:
    image = DISTORTIONS[name](_base())
    assert read_qr(_png(image)) == TOKEN
    assert read_qr(image) == TOKEN


def test_svg_is_well_formed_and_sized() -> None:
    svg = to_svg(TOKEN, border=4)
    root = ET.fromstring(svg)
    modules = 4 * qr_version(TOKEN) + 17 + 8
    assert root.get("viewBox") == f"0 0 {modules} {modules}"
    assert any(el.tag.endswith("path") for el in root.iter())


def _bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"not an image",
        to_png(TOKEN)[:300],
        _bomb_png(60_000, 60_000),
        _png(Image.new("L", (200, 200), 255)),
        _png(_noise(Image.new("L", (300, 300), 128), 127)),
    ],
)
def test_broken_or_empty_images(blob: bytes) -> None:
    """A typed error with bounded memory: the 60,000 x 60,000 bomb (3.6 GB as pixels) is
    refused from its header, never inflated. Speed is measured in benchmarks/, not here."""

    def refused() -> QrImageError:
        with pytest.raises(QrImageError) as err:
            read_qr(blob)
        return err.value

    _, growth = peak_rss_growth(refused)
    assert growth < 256 * 1024 * 1024, growth
