"""A strict DER element reader for the fast CMS walk (no object trees, no copies).

It only slices: each element is (tag byte, content start, content end) in the
caller's buffer. It refuses what DER forbids or what the fast walk never
needs (indefinite or non-minimal lengths, multi-byte tags) by raising
:class:`Unusual`, which tells the caller to hand the input to asn1crypto.
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


def element(buf: bytes, pos: int, limit: int) -> Element:
    """The element starting at ``pos``, which must end at or before ``limit``."""
    if pos + 2 > limit:
        raise Unusual
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise Unusual  # high tag numbers never occur in CMS
    first = buf[pos + 1]
    body = pos + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > _MAX_LENGTH_OCTETS or body + n > limit or buf[body] == 0:
            raise Unusual  # indefinite, too long or non-minimal
        length = int.from_bytes(buf[body : body + n], "big")
        if length < 0x80:
            raise Unusual  # DER requires the short form
        body += n
    end = body + length
    if end > limit:
        raise Unusual
    return Element(tag, pos, body, end)


def children(buf: bytes, parent: Element) -> list[Element]:
    """Every element inside a constructed ``parent``, which they must fill exactly."""
    if not parent.tag & 0x20:
        raise Unusual
    out = []
    pos = parent.body
    while pos < parent.end:
        child = element(buf, pos, parent.end)
        out.append(child)
        pos = child.end
    return out
