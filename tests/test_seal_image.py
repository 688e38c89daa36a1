"""The seal picture: a transparent, red, round PNG that differs per department."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.support import require
from trust.seal import SealImageError, render_seal_png
from trust.seal.image import SEAL_FONT_PATH


@pytest.fixture(autouse=True)
def _font() -> None:
    require(SEAL_FONT_PATH.exists(), f"CJK font missing: {SEAL_FONT_PATH} (fonts-wqy-microhei)")


def _pixels(image: Image.Image) -> list[tuple[int, ...]]:
    raw = image.tobytes()  # RGBA, 4 bytes a pixel
    return [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]


def _decode(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGBA")


@pytest.mark.parametrize("size", [128, 400])
def test_png_is_transparent_red_and_sized(size: int) -> None:
    image = _decode(
        render_seal_png(
            "北京市朝阳区市场监督管理局",
            caption="电子证照专用章",
            esid="1101050012345",
            size_px=size,
        )
    )
    assert image.size == (size, size)
    alpha = image.getchannel("A")
    for corner in [(0, 0), (size - 1, 0), (0, size - 1), (size - 1, size - 1)]:
        assert alpha.getpixel(corner) == 0
    centre = alpha.getpixel((size // 2, size // 2))  # the star's centre
    assert isinstance(centre, int) and centre > 200
    inked = [p for p in _pixels(image) if p[3] > 128]
    assert len(inked) > size * size * 0.08
    red = [p for p in inked if p[0] > 150 and p[1] < 90 and p[2] < 90]
    assert len(red) / len(inked) > 0.95


def test_ring_is_round() -> None:
    size = 300
    alpha = _decode(render_seal_png("测试局", size_px=size)).getchannel("A")
    mid = size // 2
    # The ring crosses the four axes at the same distance from the edge.
    raw = alpha.tobytes()  # one byte a pixel, row by row

    def inked(x: int, y: int) -> bool:
        return raw[y * size + x] > 128

    hits = [
        next(i for i in range(size) if inked(i, mid)),
        next(i for i in range(size) if inked(size - 1 - i, mid)),
        next(i for i in range(size) if inked(mid, size - 1 - i)),
    ]
    assert max(hits) - min(hits) <= 1


def test_names_give_different_pictures() -> None:
    a = _decode(render_seal_png("甲市公安局", size_px=200))
    b = _decode(render_seal_png("乙市公安局", size_px=200))
    differing = sum(1 for p, q in zip(_pixels(a), _pixels(b), strict=True) if p != q)
    assert differing > 200
    # The upper arc differs, the lower half (star, no caption) does not.
    lower = (0, 130, 200, 200)
    assert a.crop(lower).tobytes() == b.crop(lower).tobytes()


def test_caption_and_code_are_drawn() -> None:
    plain = _decode(render_seal_png("测试局", size_px=200))
    captioned = _decode(render_seal_png("测试局", caption="电子证照专用章", size_px=200))
    coded = _decode(render_seal_png("测试局", esid="1234567890123", size_px=200))
    lower = (0, 130, 200, 200)
    assert plain.crop(lower).tobytes() != captioned.crop(lower).tobytes()
    assert plain.crop(lower).tobytes() != coded.crop(lower).tobytes()


def test_deterministic() -> None:
    assert render_seal_png("测试局", size_px=128) == render_seal_png("测试局", size_px=128)


def test_bad_arguments_and_missing_font(tmp_path: Path) -> None:
    with pytest.raises(SealImageError):
        render_seal_png("  ")
    with pytest.raises(SealImageError):
        render_seal_png("测" * 41)
    with pytest.raises(SealImageError):
        render_seal_png("测试局", size_px=10)
    with pytest.raises(SealImageError) as missing:
        render_seal_png("测试局", font_path=tmp_path / "nope.ttc")
    assert missing.value.code == "seal.image.font_missing"
