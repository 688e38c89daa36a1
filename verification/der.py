"""A strict DER element reader for the fast CMS walk (no object trees, no copies).

It only slices: each element is (tag byte, content start, content end) in the
caller's buffer. It refuses what DER forbids or what the fast walk never
needs (indefinite or non-minimal lengths, multi-byte tags) by raising
:class:`Unusual`, which tells the caller to hand the input to asn1crypto.

A licence's two CMS structures hold some 120 elements, so elements are made
with ``tuple.__new__`` (the generated ``NamedTuple.__new__`` costs more than
the decoding). The header rules live in :func:`element` alone: inlining them
into :func:`children` saved ~5 µs a licence, not worth two copies of a
parser's strictness rules.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["Element", "Unusual", "children", "element"]

_MAX_LENGTH_OCTETS: Final = 3  # /Contents is far below 16 MiB


class Unusual(Exception):
    """The input is not the plain DER the fast walk expects (not an error verdict)."""


class Element(NamedTuple):
    """One DER element of ``buf``: its tag byte and where its header and content lie."""

    tag: int
    start: int  # first byte of the header
    body: int  # first byte of the content
    end: int  # one past the last content byte


_new: Final = tuple.__new__


def element(buf: bytes, pos: int, limit: int) -> Element:
    """The element starting at ``pos``, which must end at or before ``limit``."""
    if pos + 2 > limit:
        raise Unusual
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise Unusual  # high tag numbers never occur in CMS
    first = buf[pos + 1]
    if first < 0x80:
        body = pos + 2
        end = body + first
    elif first == 0x81:  # (the one- and two-octet long forms, read without a slice)
        body = pos + 3
        if body > limit or buf[pos + 2] < 0x80:
            raise Unusual  # DER requires the short form
        end = body + buf[pos + 2]
    elif first == 0x82:
        body = pos + 4
        if body > limit or buf[pos + 2] == 0:
            raise Unusual  # non-minimal
        end = body + (buf[pos + 2] << 8 | buf[pos + 3])
    else:
        n = first & 0x7F
        body = pos + 2 + n
        if n == 0 or n > _MAX_LENGTH_OCTETS or body > limit or buf[pos + 2] == 0:
            raise Unusual  # indefinite, too long or non-minimal
        length = int.from_bytes(buf[pos + 2 : body], "big")
        if length < 0x80:
            raise Unusual  # DER requires the short form
        end = body + length
    if end > limit:
        raise Unusual
    return _new(Element, (tag, pos, body, end))  # type: ignore[no-any-return]


def children(buf: bytes, parent: Element) -> list[Element]:
    """Every element inside a constructed ``parent``, which they must fill exactly."""
    tag, _, pos, limit = parent
    if not tag & 0x20:
        raise Unusual
    out = []
    while pos < limit:
        child = element(buf, pos, limit)
        out.append(child)
        pos = child.end
    return out
