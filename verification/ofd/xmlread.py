"""XML of an OFD package, read without DTDs or entities and by local name.

A DOCTYPE is refused outright: OFD XML never needs one, and refusing it
closes entity expansion (billion laughs) and external entities at once.
Vendors disagree on the namespace prefix (``ofd:`` or none), so elements are
matched by local name.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Final

from verification.errors import OfdFormatError

__all__ = ["child", "children", "local", "parse_xml", "text_of"]

_MAX_XML: Final = 16 * 1024 * 1024
_DOCTYPE: Final = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse_xml(data: bytes, what: str) -> ET.Element:
    """Parse one XML entry; any malformed or risky input raises OfdFormatError."""
    if len(data) > _MAX_XML:
        raise OfdFormatError(f"{what}: XML of {len(data)} bytes exceeds {_MAX_XML}")
    if _DOCTYPE.search(data):
        raise OfdFormatError(f"{what}: XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        return ET.fromstring(data)  # noqa: S314  (no DTD can reach the parser: refused above)
    except ET.ParseError as exc:
        raise OfdFormatError(f"{what}: malformed XML: {exc}") from exc


def local(tag: str) -> str:
    """The local part of ``{namespace}name``."""
    return tag.rsplit("}", 1)[-1]


def children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    """Direct children with this local name (``name`` itself or ``{namespace}name``:
    the same test as :func:`local`, without splitting every tag)."""
    suffix = "}" + name
    return (c for c in element if c.tag == name or c.tag.endswith(suffix))


def child(element: ET.Element, name: str) -> ET.Element | None:
    """The first direct child with this local name."""
    return next(children(element, name), None)


def text_of(element: ET.Element | None) -> str:
    """Stripped text of an element ('' when absent)."""
    return "" if element is None or element.text is None else element.text.strip()
