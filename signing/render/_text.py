"""Fitting a value into its slot: wrap, then shrink, then ellipsis.

Records are validated but a long company name or business scope must still
stay inside its box; the renderer never overflows into other fields and
never fails because a value is long.
"""

from __future__ import annotations

from typing import Final

from signing.render._fonts import text_width

__all__ = ["fit_lines"]

_MIN_SCALE: Final = 0.72  # smallest font, relative to the template's size
_SCALE_STEP: Final = 0.92
_ELLIPSIS: Final = "…"
_NO_LINE_START: Final = frozenset("，。；、：！？）》」』,.;:!?)")


def _wrap(text: str, size: float, width: float, char_space: float) -> list[str]:
    """Greedy per-character wrap (CJK has no spaces); no punctuation starts a line
    and no run of ASCII letters or digits (a house number, a code) is split."""
    lines: list[str] = []
    current = ""
    current_width = 0.0
    for ch in text:
        w = text_width(ch, size, char_space)
        if current and current_width + w > width and ch not in _NO_LINE_START:
            carry = _trailing_word(current) if _is_word_char(ch) else ""
            if carry == current:
                carry = ""  # a word longer than the line is split after all
            lines.append(current[: len(current) - len(carry)])
            current, current_width = carry, text_width(carry, size, char_space)
        current += ch
        current_width += w
    if current:
        lines.append(current)
    return lines


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _trailing_word(line: str) -> str:
    """The ASCII letters/digits at the end of ``line``: numbers are not split."""
    i = len(line)
    while i > 0 and _is_word_char(line[i - 1]):
        i -= 1
    return line[i:]


def _truncate(line: str, size: float, width: float, char_space: float) -> str:
    while line and text_width(line + _ELLIPSIS, size, char_space) > width:
        line = line[:-1]
    return line + _ELLIPSIS


def fit_lines(
    text: str, size: float, width: float | None, max_lines: int, char_space: float = 0.0
) -> tuple[float, list[str]]:
    """Font size and lines that fit ``width`` points in ``max_lines`` lines."""
    text = " ".join(text.split())  # no control characters or newlines reach the PDF
    if width is None or text_width(text, size, char_space) <= width:
        return size, [text]
    current = size
    while current >= size * _MIN_SCALE:
        lines = _wrap(text, current, width, char_space)
        if len(lines) <= max_lines:
            return current, lines
        current *= _SCALE_STEP
    current = size * _MIN_SCALE
    lines = _wrap(text, current, width, char_space)
    if len(lines) <= max_lines:  # fits at the smallest size: whole, no ellipsis
        return current, lines
    lines = lines[:max_lines]
    lines[-1] = _truncate(lines[-1], current, width, char_space)
    return current, lines
