"""Writing the finished canvas: the bytes of ``canvas.save()``, without its generic formatter.

Profiled, reportlab's ``PDFDocument.format`` was the largest part of a
rendering: every dictionary, array, name and number of the ~13 objects goes
through the same chain of ``format``/``PDFName``/``pdfdocEnc`` calls (~150
per licence, each a codec lookup). Our page always has the same shape
(catalog, page tree, one page, its content stream, info, font subset
objects, decoration form, seal image and mask), so :func:`write_pdf` formats
those objects directly and keeps reportlab's bookkeeping: the same
preparation, object registrations in the same order (hence the same object
numbers), xref table, trailer and file ID.

The output must be *identical* to ``canvas.save()`` (reportlab runs with
``invariant=1``): signing/pdf/reportlab_pdf.py accepts exactly reportlab's
layout for the lean sealing path, and ``tests/test_render_fast.py`` renders
every licence type both ways and compares the bytes, so a reportlab upgrade
that changes its output fails there. An object of another shape is left to
reportlab's own formatter, and a document with non-default output settings
(multi-line dictionaries, comments, encryption, stream filters, digital
signatures) to reportlab's whole writer.
"""

from __future__ import annotations

import re
import zlib
from codecs import BOM_UTF16_BE
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Final

from reportlab import rl_config
from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.pdfbase.pdfdoc import (
    BasicFonts,
    DummyDoc,
    NoEncryption,
    PDFBase85Encode,
    PDFCatalog,
    PDFDate,
    PDFDictionary,
    PDFDocument,
    PDFFile,
    PDFInfo,
    PDFName,
    PDFObject,
    PDFObjectReference,
    PDFPage,
    PDFPages,
    PDFStream,
    PDFZCompress,
    pdfdocEnc,
)
from reportlab.pdfbase.pdfdoc import format as rl_format

__all__ = [
    "Prepared",
    "array",
    "dictionary",
    "name",
    "pdfdoc",
    "plain_output",
    "stream",
    "write_pdf",
]

_PLAIN_DOC: Final = DummyDoc()  # formats strings as an unencrypted document does
_NOT_PDFDOC: Final = re.compile("[\x18-\x1f]")  # the ASCII characters PDFDocEncoding lacks
# Page keys that a plain canvas page leaves unset (Rotate, Trans and Annots are checked apart).
_PAGE_UNSET: Final = tuple(sorted(set(PDFPage.__NoDefault__) - {"Rotate", "Trans", "Annots"}))
# Catalog keys other than the page tree (PageMode too: only its default is written here).
_CATALOG_UNSET: Final = tuple(key for key in PDFCatalog.__NoDefault__ if key != "Pages")
_PROCSETS: Final = {
    False: b"[ /PDF /Text ]",
    True: b"[ /PDF /Text /ImageB /ImageC /ImageI ]",
}


class Prepared(PDFObject):  # type: ignore[misc]
    """An indirect object whose body is already formatted (its references already numbered)."""

    __RefOnly__ = 1

    def __init__(self, data: bytes) -> None:
        self.data = data

    def format(self, document: Any) -> bytes:
        return self.data


def plain_output(document: Any) -> bool:
    """Whether reportlab writes ``document`` with the default settings this module mirrors."""
    return (
        type(document) is PDFDocument
        and type(document.encrypt) is NoEncryption
        and document.defaultStreamFilters is None
        and not getattr(document, "_digiSigs", None)
        and not rl_config.pdfMultiLine
        and not rl_config.pdfComments
    )


def pdfdoc(text: str | bytes) -> bytes:
    """``pdfdocEnc``: reportlab's PDFDocEncoding codec costs ~40 ns a character, and
    ASCII text (the ToUnicode map, the escaped strings) is its own encoding but
    for eight control characters that PDFDocEncoding lacks (reportlab raises)."""
    if type(text) is str and text.isascii() and _NOT_PDFDOC.search(text) is None:
        return text.encode("ascii")
    return pdfdocEnc(text)  # type: ignore[no-any-return]


@lru_cache(maxsize=1024)
def name(key: str) -> bytes:
    """``/key`` as ``PDFName`` escapes it."""
    return pdfdocEnc(PDFName(key))  # type: ignore[no-any-return]


def dictionary(entries: dict[str, bytes]) -> bytes:
    """``PDFDictionary.format``: sorted keys, a line break before every 6th entry."""
    items = [name(key) + b" " + entries[key] for key in sorted(entries)]
    for i in reversed(range(6, len(items), 6)):
        items.insert(i, b"\n ")
    return b"<<\n" + b" ".join(items) + b"\n>>"


def array(items: list[bytes]) -> bytes:
    """``PDFArray.format``: a line break before every 10th element."""
    items = list(items)
    for i in reversed(range(10, len(items), 10)):
        items.insert(i, b"\n ")
    return b"[ " + b" ".join(items) + b" ]"


def stream(content: str | bytes, compress: bool, entries: dict[str, bytes] | None = None) -> bytes:
    """``PDFStream.format`` of ``content``, Flate-compressed as ``PDFZCompress`` does it."""
    full = dict(entries or {})
    if compress:
        data = zlib.compress(content.encode("utf8") if isinstance(content, str) else content)
        full["Filter"] = b"[ /FlateDecode ]"
        length = len(data)
    else:
        data = pdfdoc(content)
        length = len(content)  # reportlab counts a text stream's characters
    full["Length"] = b"%d" % length
    return dictionary(full) + b"\nstream\n" + data + b"endstream\n"


def _ref(document: Any, internal_name: str) -> bytes:
    return b"%d %d R" % document.idToObjectNumberAndVersion[internal_name]


def _number(value: Any) -> bytes | None:
    if type(value) not in (float, int):
        return None
    return fp_str(value).encode("ascii")  # type: ignore[no-any-return]


def _value_ref(document: Any, value: Any) -> bytes | None:
    """A dictionary value that formats as a reference to a registered object, else None."""
    if type(value) is PDFObjectReference:
        key = value.name
    elif isinstance(value, PDFObject) and hasattr(value, "__RefOnly__"):
        key = getattr(value, "__InternalName__", None)
    else:
        return None
    if key not in document.idToObjectNumberAndVersion:
        return None
    return _ref(document, key)


def _ref_dictionary(document: Any, value: Any) -> bytes | None:
    """A ``PDFDictionary`` of references only (fonts, XObjects), else None."""
    if type(value) is not PDFDictionary or type(value.dict) is not dict:
        return None
    if value.multiline == "forced":
        return None
    entries = {}
    for key, item in value.dict.items():
        ref = _value_ref(document, item)
        if ref is None or type(key) is not str:
            return None
        entries[key] = ref
    return dictionary(entries)


@lru_cache(maxsize=64)
def _media_box(width: float, height: float, rotate: int) -> bytes | None:
    box = [0, 0, height, width] if rotate in (90, 270) else [0, 0, width, height]
    items = [_number(value) for value in box]
    return None if None in items else array(items)  # type: ignore[arg-type]


def _page(page: Any, document: Any) -> bytes | None:
    """``PDFPage.format`` for a page as ``Canvas.showPage`` makes it (no annotations, boxes)."""
    if (
        page.Override_default_compilation
        or any(getattr(page, key) is not None for key in _PAGE_UNSET)
        or getattr(page, "Type", None) is not None
        or page.Annots
        or page.ExtGState
        or page._colorsUsed
        or page._shadingUsed
        or type(page.Rotate) is not int
        or type(page.stream) is not str
        or not page.stream
        or type(page.Trans) is not PDFDictionary
        or page.Trans.dict
        or page.Trans.multiline == "forced"
    ):
        return None
    media_box = _media_box(page.pagewidth, page.pageheight, page.Rotate)
    rotate = _number(page.Rotate)
    if media_box is None or rotate is None or BasicFonts not in document.idToObjectNumberAndVersion:
        return None
    resources = {"Font": _ref(document, BasicFonts), "ProcSet": _PROCSETS[bool(page.hasImages)]}
    if page.XObjects is not None:
        xobjects = _ref_dictionary(document, page.XObjects)
        if xobjects is None:
            return None
        resources["XObject"] = xobjects
    # What check_format and format register, in their order: the page tree, then the content.
    parent = document.Reference(document.Pages)
    contents = PDFStream()
    if page.compression:
        contents.filters = [PDFBase85Encode, PDFZCompress] if rl_config.useA85 else [PDFZCompress]
    contents.content = page.stream
    contents_ref = document.Reference(contents)
    return dictionary(
        {
            "Contents": _ref(document, contents_ref.name),
            "MediaBox": media_box,
            "Parent": _ref(document, parent.name),
            "Resources": dictionary(resources),
            "Rotate": rotate,
            "Trans": b"<<\n\n>>",
            "Type": b"/Page",
        }
    )


def _pages(pages: Any, document: Any) -> bytes | None:
    """``PDFPages.format``: the flat page tree."""
    if getattr(pages, "Type", None) is not None or getattr(pages, "Parent", None) is not None:
        return None
    kids = [document.Reference(page) for page in pages.pages]
    return dictionary(
        {
            "Count": b"%d" % len(kids),
            "Kids": array([_ref(document, kid.name) for kid in kids]),
            "Type": b"/Pages",
        }
    )


def _catalog(catalog: Any, document: Any) -> bytes | None:
    """``PDFCatalog.format`` of a catalog with only its page tree (no outlines, forms, ...)."""
    if (
        any(getattr(catalog, key, None) is not None for key in _CATALOG_UNSET)
        or getattr(catalog, "Lang", None) is not None
        or getattr(catalog, "Type", None) is not None
    ):
        return None
    pages = document.Reference(catalog.Pages)
    if type(pages) is not PDFObjectReference:
        return None  # not reached for a canvas: its page tree is always an object
    return dictionary(
        {"PageMode": b"/UseNone", "Pages": _ref(document, pages.name), "Type": b"/Catalog"}
    )


def _string(text: str) -> bytes:
    """``PDFString(text).format`` (automatic encoding, escaped) in an unencrypted document."""
    try:
        raw = text.encode("pdfdoc")
    except UnicodeEncodeError:
        raw = BOM_UTF16_BE + text.encode("utf_16_be")
    return pdfdoc(f"({escapePDF(raw)})")


_constant_string = lru_cache(maxsize=256)(_string)


@lru_cache(maxsize=8)
def _date(ymdhms: tuple[int, ...], dhh: int, dmm: int) -> bytes:
    """``PDFDate`` of the document's time stamp: fixed for invariant documents."""
    stamp = SimpleNamespace(YMDhms=ymdhms, dhh=dhh, dmm=dmm)
    return PDFDate(ts=stamp).format(_PLAIN_DOC)  # type: ignore[no-any-return]


def _info(info: Any, document: Any) -> bytes | None:
    """``PDFInfo.format``: title and subject change per licence, the rest repeats."""
    texts = (info.title, info.author, info.subject, info.keywords, info.producer, info.creator)
    if info._dateFormatter is not None or not all(type(text) is str for text in texts):
        return None
    if type(info.trapped) is not str:
        return None
    stamp = document._timeStamp
    date = _date(tuple(stamp.YMDhms), stamp.dhh, stamp.dmm)
    return dictionary(
        {
            "Author": _constant_string(info.author),
            "CreationDate": date,
            "Creator": _constant_string(info.creator),
            "Keywords": _constant_string(info.keywords),
            "ModDate": date,
            "Producer": _constant_string(info.producer),
            "Subject": _string(info.subject),
            "Title": _string(info.title),
            "Trapped": name(info.trapped),
        }
    )


def _stream(obj: Any, document: Any) -> bytes | None:
    """``PDFStream.format`` of a stream with no dictionary entries (the page content)."""
    if type(obj.dictionary) is not PDFDictionary or obj.dictionary.dict:
        return None
    content, filters = obj.content, obj.filters
    if type(content) not in (str, bytes):
        return None
    if filters is None:  # the document's default filters: none (plain_output)
        return stream(content, False)
    if len(filters) != 1 or filters[0] is not PDFZCompress:
        return None
    return stream(content, True)


def _plain_dictionary(obj: Any, document: Any) -> bytes | None:
    return _ref_dictionary(document, obj)


_FORMATTERS: Final = {
    PDFPage: _page,
    PDFPages: _pages,
    PDFCatalog: _catalog,
    PDFInfo: _info,
    PDFStream: _stream,
    PDFDictionary: _plain_dictionary,
}


@lru_cache(maxsize=8)
def _header(version: tuple[int, int]) -> bytes:
    return PDFFile(version).format(None)  # type: ignore[no-any-return]


def write_pdf(canvas: Any) -> bytes:
    """The PDF file ``canvas.save()`` would write, as bytes; the canvas is finished after."""
    if len(canvas._code):
        canvas.showPage()
    document = canvas._doc
    if not plain_output(document):
        return document.GetPDFData(canvas)  # type: ignore[no-any-return]

    # PDFDocument.GetPDFData, step for step.
    for font in document.delayedFonts:
        font.addObjects(document)
    info = document.info
    info.invariant = document.invariant
    info.digest(document.signature)
    catalog_ref = document.Reference(document.Catalog)
    info_ref = document.Reference(info)
    document.Outlines.prepare(document, canvas)
    if document.Outlines.ready < 0:
        document.Catalog.Outlines = None

    # PDFDocument.format: objects in number order; formatting may register more.
    number_to_id = document.numberToId
    id_to_object = document.idToObject
    numbers = document.idToObjectNumberAndVersion
    header = _header(document._pdfVersion)
    parts = [header]
    xref = []
    offset = len(header)
    count = 0
    while count + 1 in number_to_id:
        count += 1
        internal_name = number_to_id[count]
        obj = id_to_object[internal_name]
        formatter = _FORMATTERS.get(type(obj))
        body = formatter(obj, document) if formatter is not None else None
        if body is None:
            body = rl_format(obj, document, toplevel=1)
        head = b"%d %d obj\n" % numbers[internal_name]
        end = b"endobj\n" if body.endswith(b"\n") else b"\nendobj\n"
        parts += (head, body, end)
        xref.append(b"%010d %05d n \n" % (offset, numbers[internal_name][1]))
        offset += len(head) + len(body) + len(end)
    if count != len(number_to_id):
        raise ValueError(f"object numbers 1..{len(number_to_id)} are not contiguous")

    parts.append(b"xref\n0 %d\n0000000000 65535 f \n" % (count + 1))
    parts += xref
    parts.append(
        b"trailer\n<<\n/ID "
        + document.ID()
        + b"\n/Info "
        + _ref(document, info_ref.name)
        + b"\n/Root "
        + _ref(document, catalog_ref.name)
        + b"\n/Size %d\n>>\nstartxref\n%d\n%%%%EOF\n" % (count + 1, offset)
    )
    return b"".join(parts)
