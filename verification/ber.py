"""Where a BER element ends, for CMS signatures written with indefinite lengths.

Adobe Acrobat and other widespread signers write the CMS envelope of a PDF
signature in BER: indefinite lengths on ContentInfo, SignedData, the
certificate set and the SignerInfos, constructed OCTET STRINGs. /Contents
holds that element followed by zero padding, so the element's end must be
found by walking it (the padding's zero bytes look like end-of-contents
octets). The walk is bounded: nesting depth, length octets and the buffer.
asn1crypto then parses the element (it reads BER); the fast DER walk
(:mod:`verification.der`) declines it.
"""

from __future__ import annotations

from typing import Final

from verification.errors import CmsFormatError

__all__ = ["element_end", "is_definite"]

_MAX_DEPTH: Final = 64
_MAX_LENGTH_OCTETS: Final = 4


def element_end(buf: bytes, pos: int = 0, limit: int | None = None) -> int:
    """One past the last byte of the BER element at ``pos`` (definite or indefinite)."""
    return _end(buf, pos, len(buf) if limit is None else limit, 0)[0]


def is_definite(buf: bytes, levels: int = _MAX_DEPTH) -> bool:
    """Whether the element ``buf`` and its constructed descendants down to ``levels``
    use definite lengths. Unreadable input counts as definite: its parser reports it."""
    try:
        return _end(buf, 0, len(buf), 0, deep=levels)[1]
    except CmsFormatError:
        return True


def _header(buf: bytes, pos: int, limit: int) -> tuple[int, int, int | None]:
    """(tag byte, content start, content length or None for indefinite)."""
    if pos + 2 > limit:
        raise CmsFormatError("truncated BER element in /Contents")
    tag = buf[pos]
    p = pos + 1
    if tag & 0x1F == 0x1F:  # high tag number: base-128 octets
        for _ in range(4):
            if p >= limit:
                raise CmsFormatError("truncated BER tag in /Contents")
            p += 1
            if not buf[p - 1] & 0x80:
                break
        else:
            raise CmsFormatError("BER tag number too long in /Contents")
    if p >= limit:
        raise CmsFormatError("truncated BER element in /Contents")
    first = buf[p]
    p += 1
    if first == 0x80:
        return tag, p, None
    if first < 0x80:
        return tag, p, first
    n = first & 0x7F
    if n > _MAX_LENGTH_OCTETS or p + n > limit:
        raise CmsFormatError("/Contents has an invalid BER length")
    return tag, p + n, int.from_bytes(buf[p : p + n], "big")


def _end(buf: bytes, pos: int, limit: int, depth: int, deep: int = -1) -> tuple[int, bool]:
    """End of the element at ``pos`` and whether it (down to level ``deep``) is definite."""
    if depth > _MAX_DEPTH:
        raise CmsFormatError("BER nesting too deep in /Contents")
    tag, body, length = _header(buf, pos, limit)
    constructed = bool(tag & 0x20)
    if length is not None:
        end = body + length
        if end > limit:
            raise CmsFormatError("CMS length exceeds /Contents")
        definite = True
        if depth < deep and constructed:
            p = body
            while p < end:
                p, inner = _end(buf, p, end, depth + 1, deep)
                definite = definite and inner
        return end, definite
    if not constructed:
        raise CmsFormatError("indefinite length on a primitive BER element")
    p = body
    while True:  # children until the end-of-contents octets 00 00
        if p + 2 > limit:
            raise CmsFormatError("indefinite-length BER element is not terminated")
        if buf[p] == 0 and buf[p + 1] == 0:
            return p + 2, False
        p = _end(buf, p, limit, depth + 1, deep)[0]
