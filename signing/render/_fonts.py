"""The one CJK font, registered once per process.

Every licence embeds a subset of WenQuanYi Micro Hei (Debian package
fonts-wqy-microhei), so it prints identically in any viewer. Loading the
5 MB font costs ~50 ms, hence once per process, guarded for threads.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Final

from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics

from signing.render._embed import EmbeddedFont
from signing.render.errors import FontUnavailableError

__all__ = ["FONT_NAME", "FONT_PACKAGE", "font_path", "register_font", "text_width"]

FONT_NAME: Final = "WenQuanYiMicroHei"
FONT_PACKAGE: Final = "fonts-wqy-microhei"
_DEFAULT_PATH: Final = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
_SUBFONT_INDEX: Final = 0  # the proportional face; index 1 is the monospaced one
_lock = threading.Lock()
_registered = False


def font_path() -> Path:
    """The font file (``SEALTRUST_CJK_FONT`` overrides the Debian location)."""
    return Path(os.environ.get("SEALTRUST_CJK_FONT", str(_DEFAULT_PATH)))


def register_font() -> str:
    """Register the font with reportlab if not yet done (and turn ASCII85 off); return its name."""
    global _registered
    if _registered:
        return FONT_NAME
    with _lock:
        if not _registered:
            path = font_path()
            if not path.is_file():
                raise FontUnavailableError(
                    f"CJK font {path} not found: install the Debian package {FONT_PACKAGE}"
                )
            try:
                # Not ASCII-readable: the subset then holds only the glyphs a
                # licence uses, not all 96 printable ASCII ones (~25% smaller
                # PDF, less to subset); ToUnicode keeps the text extractable.
                font = EmbeddedFont(
                    FONT_NAME, str(path), subfontIndex=_SUBFONT_INDEX, asciiReadable=False
                )
            except Exception as exc:  # noqa: BLE001 - reportlab raises bare TTFError/Exception
                raise FontUnavailableError(f"cannot load CJK font {path}: {exc}") from None
            pdfmetrics.registerFont(font)
            # Process-wide reportlab setting: binary streams. ASCII85 only makes
            # files 25% larger and slower to write; nothing here needs 7-bit PDF.
            rl_config.useA85 = 0
            _registered = True
    return FONT_NAME


def text_width(text: str, size: float, char_space: float = 0.0) -> float:
    """Advance width in points of ``text`` at ``size`` with extra character spacing."""
    return float(pdfmetrics.stringWidth(text, FONT_NAME, size)) + char_space * len(text)
