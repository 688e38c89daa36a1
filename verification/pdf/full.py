"""The full analysis: pyHanko's reader, xref history and difference analysis.

Runs whenever the fast path declines. Every signature field is examined on
its own, so one malformed signature dictionary (USF) is reported as such
instead of hiding the others; pyHanko's own enumeration would skip unknown
/SubFilter values silently, which we refuse to do.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import datetime
from io import BytesIO
from typing import Any, Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel

from verification.cms import SignedCms, parse_cms
from verification.errors import CmsFormatError, PdfFormatError
from verification.facts import SignatureFacts
from verification.pdf.changes import Binding, describe_changes, resolve
from verification.pdf.common import TIMESTAMP_SUBFILTER, byte_range_error, signature_facts
from verification.pdf.dates import parse_pdf_date

__all__ = ["analyse"]

_MAX_DSS_ITEMS: Final = 32
_MAX_DSS_ITEM: Final = 4 * 1024 * 1024


def analyse(data: bytes) -> tuple[int, tuple[SignatureFacts, ...]]:
    """Revision count and the facts of every filled signature field, in signing order.

    Two passes: every signature's CMS is read first, so that the changes after
    one signature can name a later one as the issuer's own (same signed
    licence id and seal) or another signer's.
    """
    if b"%PDF-" not in data[:1024]:
        raise PdfFormatError("not a PDF file (no %PDF- header)")
    reader = PdfFileReader(BytesIO(data), strict=False)
    if reader.encrypted:
        raise PdfFormatError("encrypted PDF files are not accepted")
    if reader.xrefs.hybrid_xrefs_present:
        # what a reader sees depends on whether it honours /XRefStm (pyHanko strict mode
        # refuses these too): a known way to show different content to different viewers
        raise PdfFormatError("hybrid cross-reference files are not accepted")
    revisions = int(reader.xrefs.total_revisions)
    read = [
        _read(reader, data, _field_text(fq_name), sig_ref, field)
        for fq_name, sig_ref, field in enumerate_sig_fields(reader, filled_status=True)
    ]
    bindings = {r.name: r.binding for r in read if isinstance(r, _Read)}
    found = [r if isinstance(r, SignatureFacts) else _facts(r, data, revisions, bindings)
             for r in read]
    found.sort(key=lambda f: -1 if f.signed_revision is None else f.signed_revision)
    crls, ocsps = _dss_material(reader)
    if crls or ocsps:
        found = [replace(f, revocation_crls=f.revocation_crls + crls,
                         revocation_ocsps=f.revocation_ocsps + ocsps)
                 if f.structure_error is None else f for f in found]
    return revisions, tuple(found)


def _dss_material(reader: PdfFileReader) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """The DSS's /CRLs and /OCSPs streams as DER (PAdES LTV material), bounded in count
    and size: it is the foreign signer's revocation evidence, judged later per path."""
    try:
        dss = reader.root.get("/DSS")
        dss = dss.get_object() if dss is not None else None
    except Exception:  # noqa: BLE001  (a broken DSS is no evidence, not a broken file)
        return (), ()
    if not isinstance(dss, generic.DictionaryObject):
        return (), ()
    return _streams(dss, "/CRLs"), _streams(dss, "/OCSPs")


def _bounded_data(stream: generic.StreamObject) -> bytes | None:
    """The stream's bytes if unfiltered or plain /FlateDecode, inflated at most to the cap
    (a compression bomb in the DSS stops there)."""
    raw = bytes(stream.encoded_data)
    if len(raw) > _MAX_DSS_ITEM:
        return None
    filters = stream.get("/Filter")
    if filters is None:
        return raw
    if isinstance(filters, generic.ArrayObject) and len(filters) == 1:
        filters = filters[0]
    if filters != "/FlateDecode" or stream.get("/DecodeParms") is not None:
        return None
    inflater = zlib.decompressobj()
    data = inflater.decompress(raw, _MAX_DSS_ITEM)
    return None if inflater.unconsumed_tail else data


def _streams(dss: generic.DictionaryObject, key: str) -> tuple[bytes, ...]:
    out: list[bytes] = []
    try:
        refs = dss.get(key)
        refs = refs.get_object() if refs is not None else None
        if not isinstance(refs, generic.ArrayObject):
            return ()
        for ref in list(refs)[:_MAX_DSS_ITEMS]:
            stream = ref.get_object()
            data = _bounded_data(stream) if isinstance(stream, generic.StreamObject) else None
            if data:
                out.append(data)
    except Exception:  # noqa: BLE001  (undecodable streams are skipped, as absent)
        return tuple(out)
    return tuple(out)


def _field_text(name: object) -> str:
    """A field name as report text.

    pyHanko hands over a /T it does not read as text (e.g. one with a raw line
    break) as a ``ByteStringObject``, which a JSON report cannot hold; each
    byte becomes one character, as the fast path reads its ASCII names.
    """
    return bytes(name).decode("latin-1") if isinstance(name, bytes) else str(name)


@dataclass(frozen=True, slots=True)
class _Read:
    """A well-formed signature whose CMS parsed; its changes are described later."""

    name: str
    byte_range: list[int]
    subfilter: str | None
    signed: SignedCms
    claimed: datetime | None
    emb: EmbeddedPdfSignature
    signed_revision: int

    @property
    def binding(self) -> Binding:
        """The signed licence id and seal: what makes a later signature the issuer's own."""
        if self.signed.licence_id is None or self.signed.seal_der is None:
            return None
        return self.signed.licence_id, self.signed.seal_der


def _read(
    reader: PdfFileReader, data: bytes, fq_name: str, sig_ref: Any, field: Any
) -> _Read | SignatureFacts:
    sig = sig_ref.get_object()
    if not isinstance(sig, generic.DictionaryObject):
        return SignatureFacts(field_name=fq_name, structure_error="/V is not a dictionary")
    subfilter = _name(sig.get("/SubFilter"))
    kind = "doc_timestamp" if _name(sig.get("/Type")) == "/DocTimeStamp" else "signature"
    raw_br = sig.get("/ByteRange")
    br = list(raw_br) if isinstance(raw_br, generic.ArrayObject) else []
    ints = [int(v) for v in br if isinstance(v, int) and not isinstance(v, bool)]
    contents = _contents(sig)
    base = SignatureFacts(
        field_name=fq_name, kind=kind, subfilter=subfilter, byte_range=tuple(ints)
    )
    if raw_br is None:
        return replace(base, structure_error="signature dictionary has no /ByteRange")
    if len(ints) != len(br):
        return replace(base, structure_error="/ByteRange is not an array of integers")
    error = byte_range_error(data, ints, contents)
    if error is not None or contents is None:
        return replace(base, structure_error=error)
    is_timestamp = subfilter == TIMESTAMP_SUBFILTER
    if (kind == "doc_timestamp") != is_timestamp:
        return replace(base, structure_error=f"/Type does not match /SubFilter {subfilter}")
    try:
        signed = parse_cms(contents, timestamp=is_timestamp)
    except CmsFormatError as exc:
        return replace(base, structure_error=exc.message)
    claimed = _claimed_time(sig)
    try:
        emb = EmbeddedPdfSignature(reader, field, fq_name)
        signed_revision = int(emb.signed_revision)
    except (SignatureValidationError, ValueError, KeyError, TypeError) as exc:
        return replace(base, structure_error=f"unreadable signature: {exc}")
    return _Read(fq_name, ints, subfilter, signed, claimed, emb, signed_revision)


def _facts(r: _Read, data: bytes, revisions: int, bindings: dict[str, Binding]) -> SignatureFacts:
    coverage, level, changes, detail = _modifications(r, data, bindings)
    return signature_facts(
        data,
        byte_range=r.byte_range,
        signed=r.signed,
        field_name=r.name,
        subfilter=r.subfilter,
        claimed_time=r.claimed,
        coverage=coverage,
        signed_revision=r.signed_revision,
        revisions_after=revisions - 1 - r.signed_revision,
        modification_level=level,
        changes=changes,
        modification_detail=detail,
    )


def _modifications(
    r: _Read, data: bytes, bindings: dict[str, Binding]
) -> tuple[str, str, tuple[str, ...], str]:
    """Coverage, pyHanko's level, the kinds of change and their description."""
    br = r.byte_range
    if br[2] + br[3] == len(data):
        return "entire_file", "none", (), ""
    emb = r.emb
    coverage = emb.evaluate_signature_coverage()
    emb.coverage = coverage  # type: ignore[assignment]  # evaluate_modifications reads it
    if coverage != SignatureCoverageLevel.ENTIRE_REVISION:
        return "partial", "other", ("other",), f"signature covers {coverage.name.lower()}"
    described = describe_changes(emb)
    kinds, detail = resolve(described, r.binding, bindings)
    return "entire_revision", described.level, kinds, detail[:2000]


def _contents(sig: Any) -> bytes | None:
    try:
        value = sig.raw_get("/Contents", decrypt=generic.EncryptedObjAccess.RAW)
    except KeyError:
        return None
    if isinstance(value, generic.ByteStringObject | generic.TextStringObject):
        return bytes(value.original_bytes)
    return None


def _name(value: Any) -> str | None:
    return str(value) if isinstance(value, generic.NameObject) else None


def _claimed_time(sig: Any) -> datetime | None:
    value = sig.get("/M")
    if isinstance(value, generic.TextStringObject):
        return parse_pdf_date(str(value))
    if isinstance(value, generic.ByteStringObject):
        return parse_pdf_date(bytes(value).decode("latin-1"))
    return None
