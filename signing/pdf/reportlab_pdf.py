"""Recognise a PDF exactly as reportlab writes it, so the lean sealer can append to it.

pyHanko parses any PDF into an object graph before it appends a signature;
for a licence that is a quarter of the issuance time, spent re-reading bytes
our own renderer wrote a moment earlier. The lean sealer needs only the
catalog, the page tree root and one page, so this module reads exactly
those, and only from the one layout reportlab 5 produces: a single
revision, a classic xref table, the trailer reportlab writes, a flat
catalog and page tree, a page dictionary without strings or annotations.
Anything else (another producer, a second revision, encryption, an existing
form or signature, an unexpected key) returns None and the caller takes the
general pyHanko path: being strict here is what makes writing by hand safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["PlainPdf", "read_reportlab_pdf"]

_HEADER: Final = re.compile(
    rb"%PDF-1\.[3-7]\n%\x93\x8c\x8b\x9e ReportLab Generated PDF document[ -~]{0,80}\n"
)
# reportlab's trailer, byte for byte; no /Prev, /Encrypt or /XRefStm can hide in it.
_TRAILER: Final = re.compile(
    rb"trailer\n<<\n/ID \n\[<([0-9a-fA-F]{32})><([0-9a-fA-F]{32})>\]\n"
    rb"% ReportLab generated PDF document -- digest[ -~]{0,80}\n\n"
    rb"/Info ([1-9]\d{0,6}) 0 R\n/Root ([1-9]\d{0,6}) 0 R\n/Size ([1-9]\d{0,6})\n>>\n"
    rb"startxref\n([1-9]\d{0,9})\n%%EOF\n\Z"
)
_TRAILER_WINDOW: Final = 512
_ENTRIES: Final = re.compile(rb"(?:\d{10} 00000 n \n)*")
_FREE_HEAD: Final = b"0000000000 65535 f \n"
_ENTRY_LEN: Final = 20
_FLAT_DICT: Final = re.compile(rb"(?:/[A-Za-z]{1,32} (?:[1-9]\d{0,6} 0 R|/[A-Za-z]{1,32}) ?)+")
_FLAT_ENTRY: Final = re.compile(rb"/([A-Za-z]{1,32}) ([1-9]\d{0,6} 0 R|/[A-Za-z]{1,32})")
# Catalog keys a plain reportlab document may have; anything else (a form, permissions,
# an existing /Version or /Extensions, actions, metadata) goes to the general path.
_CATALOG_KEYS: Final = frozenset({b"Type", b"Pages", b"PageMode", b"PageLayout", b"Outlines"})
_PAGES: Final = re.compile(
    rb"/Count ([1-9]\d{0,4}) /Kids \[ ((?:[1-9]\d{0,6} 0 R ){1,10000})\] /Type /Pages"
)
_REF: Final = re.compile(rb"([1-9]\d{0,6}) 0 R")
_MAX_OBJECT: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class PlainPdf:
    """What the lean sealer needs from a one-revision reportlab PDF."""

    size: int  # the xref /Size: the first free object number
    startxref: int
    root: int
    info: int
    file_id: bytes  # first /ID element, hex digits
    catalog: bytes  # the catalog's entries, between << and >>
    page: int  # the object number of the page that gets the widget
    page_entries: bytes  # that page's dictionary, between << and >>


def read_reportlab_pdf(data: bytes, page_index: int) -> PlainPdf | None:
    """The layout of ``data`` with page ``page_index`` (negative from the end), or None.

    None means "not exactly reportlab's plain single-revision layout" (or no
    such page); it is never an error: the caller falls back to pyHanko, which
    reports whatever is wrong with the file in its own, typed way.
    """
    if _HEADER.match(data) is None or data.count(b"%%EOF") != 1:
        return None
    trailer = _TRAILER.search(data, max(0, len(data) - _TRAILER_WINDOW))
    if trailer is None:
        return None
    id0, id1 = trailer[1], trailer[2]
    info, root, size, startxref = (int(trailer[i]) for i in (3, 4, 5, 6))
    offsets = _xref_offsets(data, startxref, size, trailer.start())
    if offsets is None or id0 != id1 or not (info < size and root < size):
        return None
    catalog = _object_entries(data, offsets, root)
    if catalog is None or _FLAT_DICT.fullmatch(catalog) is None:
        return None
    pairs = _FLAT_ENTRY.findall(catalog)
    entries = dict(pairs)
    if len(entries) != len(pairs) or not entries.keys() <= _CATALOG_KEYS:
        return None
    if entries.get(b"Type") != b"/Catalog":
        return None
    pages_ref = _REF.fullmatch(entries.get(b"Pages", b""))
    if pages_ref is None:
        return None
    pages_num = int(pages_ref[1])
    kids = _page_refs(data, offsets, pages_num)
    if kids is None or not -len(kids) <= page_index < len(kids):
        return None
    page = kids[page_index]
    page_entries = _object_entries(data, offsets, page)
    if page_entries is None or not _plain_page(page_entries, pages_num):
        return None
    return PlainPdf(
        size=size,
        startxref=startxref,
        root=root,
        info=info,
        file_id=id0,
        catalog=catalog,
        page=page,
        page_entries=page_entries,
    )


def _xref_offsets(data: bytes, start: int, size: int, trailer_at: int) -> list[int] | None:
    """Object offsets from the one xref table, which must end where the trailer starts."""
    head = b"xref\n0 %d\n" % size
    table = start + len(head)
    if not data.startswith(head, start) or table + size * _ENTRY_LEN != trailer_at:
        return None
    if not data.startswith(_FREE_HEAD, table):
        return None
    if _ENTRIES.fullmatch(data, table + _ENTRY_LEN, trailer_at) is None:
        return None
    offsets = [0]
    for at in range(table + _ENTRY_LEN, trailer_at, _ENTRY_LEN):
        offset = int(data[at : at + 10])
        if not 0 < offset < start:
            return None
        offsets.append(offset)
    return offsets


def _object_entries(data: bytes, offsets: list[int], num: int) -> bytes | None:
    """The entries of dictionary object ``num`` as reportlab writes it (no stream)."""
    if not 0 < num < len(offsets):
        return None
    offset = offsets[num]
    head = b"%d 0 obj\n<<\n" % num
    if not data.startswith(head, offset):
        return None
    body = offset + len(head)
    end = data.find(b"\n>>\nendobj\n", body, body + _MAX_OBJECT)
    if end == -1:
        return None
    entries = data[body:end]
    return None if b"endobj" in entries or b"stream" in entries else entries


def _page_refs(data: bytes, offsets: list[int], pages_num: int) -> list[int] | None:
    """The page objects of a one-level page tree (reportlab never nests /Pages)."""
    pages = _object_entries(data, offsets, pages_num)
    m = None if pages is None else _PAGES.fullmatch(pages)
    if m is None:
        return None
    kids = [int(ref) for ref in _REF.findall(m[2])]
    return kids if len(kids) == int(m[1]) else None


def _plain_page(entries: bytes, pages_num: int) -> bool:
    """A /Page of ``pages_num`` without /Annots that can take /Annots at its end.

    The dictionary must consist of names, numbers, references, arrays and
    dictionaries only (no strings, comments or streams) and parse completely:
    then appending ``/Annots [...]`` before its closing ``>>`` adds exactly one
    top-level key, whatever bytes the page had.
    """
    top = _parse_entries(entries)
    if top is None or b"/Annots" in top:
        return False
    return top.get(b"/Type") == [b"/Page"] and top.get(b"/Parent") == [b"%d" % pages_num,
                                                                        b"0", b"R"]


_END: Final = rb"(?=[ \t\r\n/\[\]<>]|\Z)"
_TOKEN: Final = re.compile(
    rb"[ \t\r\n]*(/[A-Za-z0-9._+-]{1,127}|[-+]?(?:\d{1,12}(?:\.\d{0,12})?|\.\d{1,12})" + _END
    + rb"|R" + _END + rb"|<<|>>|\[|\])"
)
_INTEGER: Final = re.compile(rb"\d{1,10}")
_MAX_DEPTH: Final = 8


class _Malformed(Exception):
    pass


def _parse_entries(entries: bytes) -> dict[bytes, list[bytes]] | None:
    """Top-level key -> value tokens of a dictionary body of the plain subset, or None."""
    tokens: list[bytes] = []
    pos, end = 0, len(entries.rstrip(b" \t\r\n"))
    while pos < end:
        m = _TOKEN.match(entries, pos)
        if m is None:
            return None
        tokens.append(m[1])
        pos = m.end()
    reader = _Tokens(tokens)
    try:
        top = reader.dictionary_body(depth=0)
    except _Malformed:
        return None
    return top if reader.at == len(tokens) else None


class _Tokens:
    """A recursive-descent reader over the tokens of one dictionary body."""

    def __init__(self, tokens: list[bytes]) -> None:
        self.tokens = tokens
        self.at = 0

    def _next(self) -> bytes:
        if self.at >= len(self.tokens):
            raise _Malformed
        token = self.tokens[self.at]
        self.at += 1
        return token

    def dictionary_body(self, depth: int, nested: bool = False) -> dict[bytes, list[bytes]]:
        """Key -> value tokens until ``>>`` (nested) or the end of the tokens (top level)."""
        if depth > _MAX_DEPTH:
            raise _Malformed
        found: dict[bytes, list[bytes]] = {}
        while self.at < len(self.tokens):
            key = self._next()
            if key == b">>" and nested:
                return found
            if not key.startswith(b"/") or key in found:
                raise _Malformed
            start = self.at
            self.value(depth)
            found[key] = self.tokens[start : self.at]
        if nested:
            raise _Malformed
        return found

    def value(self, depth: int) -> None:
        token = self._next()
        if token == b"<<":
            self.dictionary_body(depth + 1, nested=True)
        elif token == b"[":
            if depth > _MAX_DEPTH:
                raise _Malformed
            while self.tokens[self.at : self.at + 1] != [b"]"]:
                self.value(depth + 1)
            self._next()
        elif _INTEGER.fullmatch(token) and self.tokens[self.at + 1 : self.at + 2] == [b"R"]:
            if _INTEGER.fullmatch(self._next()) is None:
                raise _Malformed
            self._next()
        elif token in (b">>", b"]", b"R"):
            raise _Malformed
