"""Where the visible seal goes: a box on a page, filled with the seal image.

The seal image is the signature field's appearance, so the red seal a reader
sees is the widget of the signature that carries the seal (standards.md
section 3, placement mode (a)). Coordinates are PDF points from the page's
lower-left corner, as reportlab and pyHanko use them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.stamp import BaseStampStyle, StaticStampStyle

from trust.errors import InputError

__all__ = ["SealPlacement", "SealPlacementError"]

_MAX_IMAGE_PIXELS = 4096 * 4096


class SealPlacementError(InputError):
    """The box or the seal image cannot be used."""

    code = "pdf_seal.placement"


@dataclass(frozen=True)
class SealPlacement:
    """A visible seal: ``page`` (0-based, negative from the end), box in points, image.

    ``image`` is PNG/JPEG bytes (the seal picture, e.g. from SES_ESPictrueInfo);
    None draws an empty, border-less box (the widget still marks the spot).
    """

    page: int
    x: float
    y: float
    width: float
    height: float
    image: bytes | None = None
    _style: BaseStampStyle = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.x < 0 or self.y < 0:
            raise SealPlacementError("seal box needs x, y >= 0 and a positive size")
        background = None
        if self.image is not None:
            try:
                with Image.open(io.BytesIO(self.image)) as probe:
                    if probe.width * probe.height > _MAX_IMAGE_PIXELS:
                        raise SealPlacementError("seal image is too large")
                    picture = probe.convert("RGBA")
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise SealPlacementError(f"seal image cannot be decoded: {exc}") from exc
            background = PdfImage(picture)
        style = StaticStampStyle(background=background, border_width=0, background_opacity=1.0)
        object.__setattr__(self, "_style", style)

    @property
    def stamp_style(self) -> BaseStampStyle:
        """The pyHanko appearance (built once; PdfImage re-embeds per writer)."""
        return self._style

    def box(self) -> tuple[int, int, int, int]:
        """The widget rectangle (x1, y1, x2, y2) in whole points, as both sealing paths write it."""
        return (
            round(self.x),
            round(self.y),
            round(self.x + self.width),
            round(self.y + self.height),
        )

    def field_spec(self, field_name: str) -> SigFieldSpec:
        return SigFieldSpec(sig_field_name=field_name, on_page=self.page, box=self.box())
