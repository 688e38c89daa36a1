"""The signature revision of the lean sealer, written as bytes in one pass.

Appends to a :class:`~signing.pdf.reportlab_pdf.PlainPdf` the incremental
update pyHanko would write for a PAdES signature: the catalog again with
/AcroForm (and the ESIC extension PAdES readers expect), the page again with
/Annots, the form, the signature field merged with its widget (with an empty
appearance when it has a box), and the signature dictionary, then an xref
section and a trailer with /Prev. Every size is known up front (the /Contents
space is reserved, /ByteRange is padded to a fixed width), so the byte range
is exact the moment the revision is built; the CMS is filled in afterwards
without moving a byte.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from signing.pdf.errors import SealingError
from signing.pdf.reportlab_pdf import PlainPdf

__all__ = ["SignatureRevision", "append_signature_revision", "plain_field_name"]

_FIELD_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BYTE_RANGE_WIDTH: Final = 40  # "[0 b c d]": three numbers of up to 11 digits, padded
_WIDGET_FLAGS: Final = 132  # Print | Locked, as pyHanko sets them
_ESIC: Final = (
    b"/Extensions << /ESIC << /Type /DeveloperExtensions /BaseVersion /1.7 "
    b"/ExtensionLevel 1 >> >> /Version /1.7"
)
_TEXT_ESCAPES: Final = str.maketrans({"\\": "\\\\", "(": "\\(", ")": "\\)"})

Rect = tuple[int, int, int, int]


def plain_field_name(name: str) -> bool:
    """Whether ``name`` can be written as a plain literal /T (else pyHanko writes it)."""
    return _FIELD_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class SignatureRevision:
    """The PDF with its signature revision; /Contents still holds zeros."""

    data: bytearray
    contents_start: int  # offset of "<"
    contents_end: int  # offset just after ">"

    @property
    def byte_range(self) -> tuple[int, int, int, int]:
        return 0, self.contents_start, self.contents_end, len(self.data) - self.contents_end

    def signed_parts(self) -> tuple[memoryview, memoryview]:
        """The two byte ranges the signature covers, without copying."""
        view = memoryview(self.data)
        return view[: self.contents_start], view[self.contents_end :]

    def fill(self, cms_der: bytes) -> bytes:
        """The final PDF: ``cms_der`` as hex in /Contents, zero-padded."""
        hex_digits = cms_der.hex().upper().encode("ascii")
        room = self.contents_end - self.contents_start - 2
        if len(hex_digits) > room:
            raise SealingError(
                f"the signature needs {len(hex_digits) // 2} bytes, {room // 2} were reserved"
            )
        self.data[self.contents_start + 1 : self.contents_start + 1 + len(hex_digits)] = hex_digits
        return bytes(self.data)


def append_signature_revision(
    pdf: bytes,
    layout: PlainPdf,
    *,
    field_name: str,
    rect: Rect | None,
    contents_hex_digits: int,
    signed_at: datetime,
    reason: str | None = None,
    location: str | None = None,
) -> SignatureRevision:
    """``pdf`` plus a revision with an unsigned signature field named ``field_name``.

    ``rect`` is the widget box in points on ``layout.page`` (None: an
    invisible signature, a zero box without appearance, as pyHanko makes it).
    """
    if not plain_field_name(field_name):
        raise ValueError(f"field name {field_name!r} is not a plain name")
    size = layout.size
    form, field = size, size + 1
    # An invisible signature has no appearance stream: the signature takes that number.
    appearance, signature = (size + 2, size + 3) if rect is not None else (None, size + 2)
    out = bytearray(pdf)
    offsets: dict[int, int] = {}

    def add(num: int, body: bytes) -> None:
        offsets[num] = len(out)
        out.extend(b"%d 0 obj\n%s\nendobj\n" % (num, body))

    add(layout.page, b"<<\n%s /Annots [ %d 0 R ]\n>>" % (layout.page_entries, field))
    add(layout.root, b"<<\n%s /AcroForm %d 0 R %s\n>>" % (layout.catalog, form, _ESIC))
    add(form, b"<< /Fields [ %d 0 R ] /SigFlags 3 >>" % field)
    widget = (
        b"<< /FT /Sig /T (%s) /Type /Annot /Subtype /Widget /F %d /Rect [ %s ] /P %d 0 R"
        % (field_name.encode("ascii"), _WIDGET_FLAGS, _numbers(rect or (0, 0, 0, 0)), layout.page)
    )
    if appearance is not None:
        widget += b" /AP << /N %d 0 R >>" % appearance
    add(field, widget + b" /V %d 0 R >>" % signature)
    if rect is not None and appearance is not None:
        box = (0, 0, rect[2] - rect[0], rect[3] - rect[1])
        add(
            appearance,
            b"<< /BBox [ %s ] /Resources << >> /Type /XObject /Subtype /Form /Length 3 >>\n"
            b"stream\nq Q\nendstream" % _numbers(box),
        )

    offsets[signature] = len(out)
    head = b"%d 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached" % (
        signature
    )
    head += b" /M (D:%s)" % signed_at.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii")
    if reason is not None:
        head += b" /Reason " + _text(reason)
    if location is not None:
        head += b" /Location " + _text(location)
    head += b" /Contents "
    out.extend(head)
    contents_start = len(out)
    out.extend(b"<" + b"0" * contents_hex_digits + b">")
    contents_end = len(out)
    # After /Contents, as pyHanko writes it; filled in once the file length is known.
    out.extend(b" /ByteRange ")
    byte_range_at = len(out)
    out.extend(b" " * _BYTE_RANGE_WIDTH + b" >>\nendobj\n")

    xref_at = len(out)
    out.extend(_xref(offsets))
    out.extend(
        b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [ <%s> <%s> ] /Prev %d >>\n"
        b"startxref\n%d\n%%%%EOF\n"
        % (
            signature + 1,
            layout.root,
            layout.info,
            layout.file_id,
            secrets.token_hex(16).encode("ascii"),
            layout.startxref,
            xref_at,
        )
    )
    byte_range = b"[0 %d %d %d]" % (contents_start, contents_end, len(out) - contents_end)
    out[byte_range_at : byte_range_at + len(byte_range)] = byte_range
    return SignatureRevision(out, contents_start, contents_end)


def _numbers(values: tuple[int, ...]) -> bytes:
    return b" ".join(b"%d" % v for v in values)


def _text(value: str) -> bytes:
    """A PDF text string: a literal for printable ASCII, else UTF-16BE hex with a BOM."""
    if value.isascii() and value.isprintable():
        return b"(" + value.translate(_TEXT_ESCAPES).encode("ascii") + b")"
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _xref(offsets: dict[int, int]) -> bytes:
    """An xref section: the free-list head, then runs of consecutive object numbers."""
    lines = [b"xref\n0 1\n0000000000 65535 f \n"]
    nums = sorted(offsets)
    run: list[int] = []
    for num in nums:
        if run and num != run[-1] + 1:
            lines.append(_subsection(run, offsets))
            run = []
        run.append(num)
    lines.append(_subsection(run, offsets))
    return b"".join(lines)


def _subsection(run: list[int], offsets: dict[int, int]) -> bytes:
    return b"%d %d\n" % (run[0], len(run)) + b"".join(
        b"%010d 00000 n \n" % offsets[num] for num in run
    )
