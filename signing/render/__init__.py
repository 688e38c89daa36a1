"""Licence rendering: one record of a licence type -> one-page PDF or OFD package files.

    >>> from datetime import datetime, timezone
    >>> from signing.render import render_licence
    >>> from signing.types import get_type
    >>> dl = get_type("DL")
    >>> pdf = render_licence(
    ...     dl, dl.example(0), "L1-DL-91350100M000100Y43-20260115-00000001-J",
    ...     qr_payload="https://verify.example.cn/v/L1-DL-91350100M000100Y43-20260115-00000001-J",
    ...     seal_png=None, issuer_name="北京市公安局公安交通管理局",
    ...     issued_at=datetime(2026, 1, 15, 2, 0, tzinfo=timezone.utc))
    >>> pdf[:5]
    b'%PDF-'

Page size, positions and fonts come from the type's layout template; all
text uses an embedded subset of WenQuanYi Micro Hei; the QR code is vector
art (level M); the seal PNG is drawn with its transparency at the seal box.
"""

from signing.render._fonts import FONT_NAME, FONT_PACKAGE, register_font
from signing.render._ofd import render_licence_ofd
from signing.render._renderer import (
    CHINA_STANDARD_TIME,
    page_size_pt,
    render_licence,
    seal_box_pt,
)
from signing.render.errors import (
    FontUnavailableError,
    RenderError,
    RenderInputError,
    SealImageError,
)

__all__ = [
    "CHINA_STANDARD_TIME",
    "FONT_NAME",
    "FONT_PACKAGE",
    "FontUnavailableError",
    "RenderError",
    "RenderInputError",
    "SealImageError",
    "page_size_pt",
    "register_font",
    "render_licence",
    "render_licence_ofd",
    "seal_box_pt",
]
