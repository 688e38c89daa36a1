"""The fast path: find the one signature of a licence by scanning bytes.

A licence's signature is its final incremental update, covering the whole
file but its own /Contents. This module accepts exactly that shape and
nothing else: whenever the file has anything unusual (more than one
/ByteRange, object streams that could hide a second signature, encryption,
hex-escaped names, data after the signed range, xref streams, nested or
extra signature fields, an unexpected dictionary layout) it returns None and
the caller runs the full analysis. The signature dictionary and its field
are reached the way a viewer reaches them (trailer /Root -> /AcroForm ->
/Fields -> /V, through the xref), and the signature covers every byte a
viewer can read, so there is nothing left for a difference analysis to find
and the verdict equals the full path's.

Cost: the signature sits at the end, so everything about it is read there
first (its /ByteRange, /Contents, object, the xref, the field). The
whole-file rules come last and skip what cannot matter to them: the /Contents
hex string, once proved to be exactly ``<hex>`` (no name, comment, stream
keyword or delimiter fits in it, nor across its ``<`` and ``>``) and, for
the rules about text outside streams, the stream data (skipped by /Length,
as before, and now not even searched). The answer is the one a forward scan
of every byte gives (tests/test_verify_locate.py keeps that scan as the
reference).
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from verification.pdf.dates import parse_pdf_date
from verification.pdf.xref import ObjectIndex, read_xref

__all__ = ["Located", "locate"]

_NEXT_INT: Final = rb"\s+(\d{1,12})"
_BYTE_RANGE: Final = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})" + _NEXT_INT * 3 + rb"\s*\]")
_HEADER_TAIL: Final = re.compile(rb"(\d{1,10})[ \t\r\n\f\x00]+(\d{1,5})[ \t\r\n\f\x00]+obj\Z")
_NAME_ESCAPE: Final = re.compile(rb"/[^\s/<>\[\]()%{}]*#[0-9A-Fa-f]{2}")
_SUBFILTER: Final = re.compile(rb"/SubFilter\s*/([A-Za-z0-9.]+)")
_TYPE: Final = re.compile(rb"/Type\s*/([A-Za-z]+)")
_M: Final = re.compile(rb"/M\s*\(([^()]{1,80})\)")
_OCTAL: Final = re.compile(rb"\\([0-7]{1,3})")
_VALUE_REF: Final = re.compile(rb"/V\s+(\d{1,10})\s+(\d{1,5})\s+R\b")
_SIG_FIELD: Final = re.compile(rb"/FT\s*/Sig\b")
_MAX_FIELDS: Final = 256
_ACROFORM_REF: Final = re.compile(rb"/AcroForm\s+(\d{1,10})\s+(\d{1,5})\s+R\b")
_FIELDS: Final = re.compile(rb"/Fields\s*\[([0-9R \t\r\n]{0,10000})\]")
_REF: Final = re.compile(rb"(\d{1,10})\s+(\d{1,5})\s+R")
_FIELD_NAME: Final = re.compile(rb"/T\s*\(([^()\\]{0,200})\)")
# Any name but /ByteRange makes the byte scan insufficient: hand over to the full path.
# (One pass over the file finds both; the names differ from their second byte on.)
_TOKENS: Final = re.compile(rb"/(ByteRange|ObjStm|Encrypt|Linearized|XRefStm|DocTimeStamp)")
_OBJ_WINDOW: Final = 64 * 1024
_EOF: Final = re.compile(rb"%%EOF")


@dataclass(frozen=True, slots=True)
class Located:
    """The single signature dictionary of a file whose last update is that signature."""

    byte_range: tuple[int, int, int, int]
    contents: bytes = field(repr=False)
    field_name: str
    subfilter: str
    claimed_time: datetime | None
    revisions: int


_STREAM: Final = re.compile(rb">>[ \t\r\n\f\x00]*stream(?:\r\n|\n)")
_DIRECT_LENGTH: Final = re.compile(rb"/Length\s+(\d{1,12})(?!\s+\d+\s+R)(?=[\s/>])")
_ENDSTREAM: Final = re.compile(rb"[\r\n]*endstream")


def _search(
    pattern: re.Pattern[bytes], data: bytes, pos: int, endpos: int, gap: tuple[int, int]
) -> re.Match[bytes] | None:
    """``pattern.search(data, pos, endpos)`` for a pattern no match of which can hold
    a byte of the /Contents string ``gap`` = [b, c) but its closing ``>``: the
    string is not read."""
    b, c = gap
    if pos < b:
        m = pattern.search(data, pos, min(endpos, b))
        if m is not None or endpos <= b:
            return m
    return pattern.search(data, max(pos, c - 1), endpos)


def _escape_outside_streams(data: bytes, gap: tuple[int, int]) -> bool:
    """A hex-escaped name anywhere outside stream data (or a stream we cannot skip).

    Binary stream data (fonts, images) often contains "/..#xx" by chance; it
    is skipped by its direct /Length, which must land on ``endstream``. Any
    stream without a direct /Length counts as unusual, so nothing is hidden.
    The next stream header is searched from the end of the previous stream
    (a header cannot straddle an ``endstream``), so stream data is not read.
    """
    pos = 0
    while (m := _search(_STREAM, data, pos, len(data), gap)) is not None:
        if _escaped_name(data, pos, m.start(), gap):
            return True
        header = data.rfind(b" obj", pos, m.start())
        lengths = _DIRECT_LENGTH.findall(data, max(header, pos), m.start())
        if header < 0 or len(lengths) != 1:
            return True
        end = m.end() + int(lengths[0])
        tail = _ENDSTREAM.match(data, end)
        if end > len(data) or tail is None:
            return True
        pos = tail.end()
    return _escaped_name(data, pos, len(data), gap)


def _escaped_name(data: bytes, pos: int, endpos: int, gap: tuple[int, int]) -> bool:
    """A hex-escaped name in ``data[pos:endpos]`` (the gap not read). Every such name holds
    a ``#``: where there is none (a memchr, ~10x cheaper than the pattern's scan of each
    name), there is no escaped name; where there is one, the pattern decides."""
    b, c = gap
    if (pos >= b or data.find(b"#", pos, min(endpos, b)) < 0) and (
            endpos <= c - 1 or data.find(b"#", max(pos, c - 1), endpos) < 0):
        return False
    return _search(_NAME_ESCAPE, data, pos, endpos, gap) is not None


def _plain_file(data: bytes, gap: tuple[int, int], revisions: int) -> bool:
    """The whole-file rules: one /ByteRange, none of the unusual names, one %%EOF
    per revision, no hex-escaped name outside streams (the gap skipped)."""
    b, c = gap
    # (sre's literal-prefix search counts them ~20 % faster than bytes.count here; both
    # count non-overlapping matches, and "%%EOF" cannot overlap itself)
    if len(_EOF.findall(data, 0, b)) + len(_EOF.findall(data, c)) != revisions:
        return False
    byte_ranges = 0
    for lo, hi in ((0, b), (c, len(data))):
        for m in _TOKENS.finditer(data, lo, hi):
            if m[1] != b"ByteRange" or byte_ranges:
                return False
            byte_ranges += 1
    return byte_ranges == 1 and not _escape_outside_streams(data, gap)


def _ends_with_contents(data: bytes, b: int) -> bool:
    """``data[:b].rstrip().endswith(b"/Contents")`` without copying the file."""
    head = data[max(0, b - 64) : b].rstrip()
    if len(head) < len(b"/Contents") and b > 64:
        head = data[:b].rstrip()  # a run of whitespace: look further back
    return head.endswith(b"/Contents")


def locate(data: bytes) -> Located | None:
    """The signature if the file has the plain licence shape, else None (use the full path)."""
    # (read_xref below also requires the file to end in "%%EOF" and whitespace)
    if not data.startswith(b"%PDF-"):
        return None
    br_at = data.rfind(b"/ByteRange")
    m = _BYTE_RANGE.match(data, br_at) if br_at >= 0 else None
    if m is None:
        return None
    a, b, c, d = (int(x) for x in m.groups())
    if a != 0 or not 0 < b < c or c + d != len(data):
        return None
    if data[b : b + 1] != b"<" or data[c - 1 : c] != b">":
        return None
    try:  # exactly hex digits, an even number of them
        contents = binascii.unhexlify(memoryview(data)[b + 1 : c - 1])
    except binascii.Error:
        return None
    if not _ends_with_contents(data, b):
        return None
    obj = _enclosing_object(data, b, c)
    if obj is None:
        return None
    num, gen, start, end = obj
    if not start <= br_at < end:
        return None
    dict_bytes = data[start:b] + data[c:end]
    if dict_bytes.count(b"/Contents") != 1:
        return None
    kind = _TYPE.search(dict_bytes)
    if kind is not None and kind.group(1) != b"Sig":
        return None
    sub = _SUBFILTER.search(dict_bytes)
    if sub is None:
        return None
    claimed = _claimed_time(dict_bytes)
    if isinstance(claimed, bool):
        return None
    index = read_xref(data)
    if index is None or index.offsets.get(num) != (start, gen):
        return None
    field_name = _field_name(data, index, num, gen)
    if field_name is None:
        return None
    revisions = index.sections
    if data.rfind(b"%%EOF", 0, b) > start or not _plain_file(data, (b, c), revisions):
        return None
    return Located(
        byte_range=(a, b, c, d),
        contents=contents,
        field_name=field_name,
        subfilter="/" + sub.group(1).decode("ascii"),
        claimed_time=claimed,
        revisions=revisions,
    )


def _object_header_before(data: bytes, pos: int) -> tuple[int, int, int, int] | None:
    """Number, generation, start and end of the ``N G obj`` header of the object
    that contains ``pos``, or None when the nearest ``obj`` before ``pos`` is not
    such a header (an ``endobj``, or the word inside some dictionary)."""
    at = data.rfind(b"obj", max(0, pos - _OBJ_WINDOW), pos)
    if at < 1 or data[at - 3 : at] == b"end" or data[at + 3 : at + 4].isalnum():
        return None
    m = _HEADER_TAIL.search(data, max(0, at - 24), at + 3)
    if m is None or (m.start() > 0 and data[m.start() - 1 : m.start()].isdigit()):
        return None
    return int(m.group(1)), int(m.group(2)), m.start(), m.end()


def _enclosing_object(data: bytes, b: int, c: int) -> tuple[int, int, int, int] | None:
    """Number, generation and span of the indirect object that holds the gap [b, c)."""
    header = _object_header_before(data, b)
    if header is None:
        return None
    end = data.find(b"endobj", c, c + _OBJ_WINDOW)
    if end == -1 or data.find(b"obj", c, end) != -1:
        return None
    return header[0], header[1], header[2], end


def _field_name(data: bytes, index: ObjectIndex, num: int, gen: int) -> str | None:
    """/T of the one filled signature field, reached from the catalog's /AcroForm.

    Every field in /Fields is read: a second filled signature field, a field
    with /Kids or /Parent, or anything unreadable sends the file to the full path.
    """
    catalog = index.body(data, *index.root)
    form_ref = None if catalog is None else _ACROFORM_REF.search(catalog)
    if form_ref is None:
        return None
    form = index.body(data, int(form_ref[1]), int(form_ref[2]))
    fields = None if form is None else _FIELDS.search(form)
    if fields is None:
        return None
    refs = _REF.findall(fields[1])
    if not refs or len(refs) > _MAX_FIELDS:
        return None
    name: str | None = None
    for f_num, f_gen in refs:
        body = index.body(data, int(f_num), int(f_gen))
        if body is None or b"/Kids" in body or b"/Parent" in body:
            return None
        value = _VALUE_REF.search(body)
        if value is None:
            continue
        if _SIG_FIELD.search(body) is None or (int(value[1]), int(value[2])) != (num, gen):
            return None
        titles = _FIELD_NAME.findall(body)
        if name is not None or len(titles) != 1:
            return None
        try:
            name = bytes(titles[0]).decode("ascii")
        except UnicodeDecodeError:
            return None
    return name


def _claimed_time(dict_bytes: bytes) -> datetime | bool | None:
    """/M as a datetime, None if absent, False if present but not plainly readable."""
    m = _M.search(dict_bytes)
    if m is None:
        return None
    raw = _OCTAL.sub(lambda o: bytes([int(o.group(1), 8) & 0xFF]), m.group(1))
    if b"\\" in raw:
        return False
    try:
        value = parse_pdf_date(raw.decode("ascii"))
    except UnicodeDecodeError:
        return False
    return False if value is None else value
