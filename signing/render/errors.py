"""Typed errors of licence rendering."""

from __future__ import annotations

from trust.errors import InputError, SealTrustError

__all__ = ["FontUnavailableError", "RenderError", "RenderInputError", "SealImageError"]


class RenderError(SealTrustError):
    """The PDF could not be produced for a reason that is not the caller's input."""

    code = "render.failed"


class FontUnavailableError(RenderError):
    """The embedded CJK font is missing (install the Debian package fonts-wqy-microhei)."""

    code = "render.font_missing"


class RenderInputError(InputError):
    """An argument of render_licence is unusable (naive time, wrong id, oversized QR)."""

    code = "render.input"


class SealImageError(InputError):
    """The seal picture is not a PNG the renderer accepts."""

    code = "render.seal_image"
