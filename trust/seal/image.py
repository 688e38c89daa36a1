"""Draw the round red seal picture of a department (transparent PNG).

The classic Chinese official seal: a red ring, a five-pointed star in the
centre, the department name along the upper arc with every glyph turned to
follow the circle, an optional horizontal caption under the star (such as
电子证照专用章) and an optional code along the lower arc. Drawn at several
times the requested size and scaled down, which is Pillow's cheapest route
to smooth edges on rotated glyphs.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from trust.seal.errors import SealImageError

__all__ = ["SEAL_FONT_PATH", "SEAL_RED", "render_seal_png"]

# Debian/Ubuntu package fonts-wqy-microhei; override per call with font_path.
SEAL_FONT_PATH: Final = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
SEAL_RED: Final = (218, 18, 26, 255)

_SUPERSAMPLE: Final = 3
_MIN_SIZE, _MAX_SIZE = 64, 4096
_MAX_NAME: Final = 40
_Font = ImageFont.FreeTypeFont


def _load_font(path: Path, size: int) -> _Font:
    try:
        return ImageFont.truetype(str(path), size)
    except OSError as exc:
        raise SealImageError(
            f"CJK font not found or unreadable at {path} (install fonts-wqy-microhei)",
            code="seal.image.font_missing",
        ) from exc


def _glyph(char: str, font: _Font, height: int, width: int) -> Image.Image:
    """One red glyph centred on a transparent tile of ``width`` x ``height``."""
    tile = Image.new("RGBA", (height, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    left, top, right, bottom = draw.textbbox((0, 0), char, font=font)
    x = (height - (right - left)) / 2 - left
    y = (height - (bottom - top)) / 2 - top
    draw.text(
        (x, y),
        char,
        font=font,
        fill=SEAL_RED,
        stroke_width=max(1, height // 40),
        stroke_fill=SEAL_RED,
    )
    if width != height:
        tile = tile.resize((max(1, width), height), Image.Resampling.LANCZOS)
    return tile


def _paste_rotated(
    canvas: Image.Image, tile: Image.Image, centre: tuple[float, float], clockwise_deg: float
) -> None:
    turned = tile.rotate(-clockwise_deg, resample=Image.Resampling.BICUBIC, expand=True)
    x = round(centre[0] - turned.width / 2)
    y = round(centre[1] - turned.height / 2)
    canvas.alpha_composite(turned, (x, y))


def _on_circle(c: float, r: float, theta_deg: float) -> tuple[float, float]:
    """Point at angle theta, measured clockwise from the top of the circle."""
    t = math.radians(theta_deg)
    return c + r * math.sin(t), c - r * math.cos(t)


def _arc_text(
    canvas: Image.Image,
    text: str,
    font_path: Path,
    *,
    c: float,
    radius: float,
    height: int,
    span_deg: float,
    bottom: bool,
) -> None:
    n = len(text)
    step = span_deg / (n - 1) if n > 1 else 0.0
    arc_per_char = radius * math.radians(step) if n > 1 else float(height)
    width = min(height, int(arc_per_char * 0.92))
    font = _load_font(font_path, height)
    for i, char in enumerate(text):
        if bottom:  # reads left to right along the lower arc, glyphs upright
            theta = 180 + span_deg / 2 - i * step
            turn = theta - 180
        else:  # clockwise along the upper arc, glyph tops outward
            theta = -span_deg / 2 + i * step
            turn = theta
        _paste_rotated(
            canvas, _glyph(char, font, height, width), _on_circle(c, radius, theta), turn
        )


def _star(draw: ImageDraw.ImageDraw, c: float, outer: float) -> None:
    inner = outer * math.sin(math.radians(18)) / math.sin(math.radians(126))
    points = [_on_circle(c, outer if k % 2 == 0 else inner, k * 36) for k in range(10)]
    draw.polygon(points, fill=SEAL_RED)


def render_seal_png(
    department_name: str,
    *,
    esid: str | None = None,
    caption: str | None = None,
    size_px: int = 400,
    font_path: Path | None = None,
) -> bytes:
    """A ``size_px`` square transparent PNG of the department's round seal."""
    name = department_name.strip()
    if not name or len(name) > _MAX_NAME:
        raise SealImageError(
            f"the seal name must have 1..{_MAX_NAME} characters", code="seal.image.name"
        )
    if not _MIN_SIZE <= size_px <= _MAX_SIZE:
        raise SealImageError(f"size_px must be in {_MIN_SIZE}..{_MAX_SIZE}", code="seal.image.size")
    path = SEAL_FONT_PATH if font_path is None else font_path
    _load_font(path, 12)  # fail before drawing anything

    side = size_px * _SUPERSAMPLE
    c = side / 2
    outer = side / 2 * 0.97
    ring = side * 0.032
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.ellipse((c - outer, c - outer, c + outer, c + outer), outline=SEAL_RED, width=round(ring))

    inner = outer - ring
    name_height = round(inner * 0.24)
    span = min(250.0, max(100.0, 32.0 * (len(name) - 1))) if len(name) > 1 else 0.0
    _arc_text(
        canvas,
        name,
        path,
        c=c,
        radius=inner - inner * 0.06 - name_height / 2,
        height=name_height,
        span_deg=span,
        bottom=False,
    )
    _star(draw, c, inner * 0.33)
    if caption:
        cap_height = round(inner * 0.14)
        cap_font = _load_font(path, cap_height)
        total = min(inner * 1.1, cap_height * len(caption))
        width = int(total / len(caption))
        y = c + inner * 0.48
        for i, char in enumerate(caption):
            x = c - total / 2 + width * (i + 0.5)
            _paste_rotated(canvas, _glyph(char, cap_font, cap_height, width), (x, y), 0.0)
    if esid:
        code_height = round(inner * 0.085)
        code_span = min(100.0, 6.5 * (len(esid) - 1))
        _arc_text(
            canvas,
            esid,
            path,
            c=c,
            radius=inner - inner * 0.04 - code_height / 2,
            height=code_height,
            span_deg=code_span,
            bottom=True,
        )

    alpha = canvas.resize((size_px, size_px), Image.Resampling.LANCZOS).getchannel("A")
    return _one_colour_png(alpha)


def _one_colour_png(alpha: Image.Image) -> bytes:
    """Encode a single-colour picture as a 4-bit palette PNG: index = opacity level.

    Everything is the same red and only the opacity varies, so 16 reds with 16
    tRNS levels are visually lossless at half a byte a pixel. The picture
    travels in every SESeal and so in every licence's CMS: ~10 KB instead of
    ~22 KB with 256 levels (and ~70 KB as RGBA).
    """
    levels = 16
    step = 255 / (levels - 1)
    indices = alpha.point(lambda v: round(v / step))
    picture = Image.frombytes("P", indices.size, indices.tobytes())
    picture.putpalette(list(SEAL_RED[:3]) * levels)
    out = io.BytesIO()
    picture.save(out, format="PNG", bits=4, compress_level=9,
                 transparency=bytes(round(i * step) for i in range(levels)))
    return out.getvalue()
