"""Facts of a signed OFD package, in the same SignatureFacts the PDF checks judge.

Per signature (GB/T 33190 §18, GM/T 0099, ../docs/ofd.md), as facts:
- integrity (``digest_matches``): every Reference present and its SM3 equal
  to the CheckValue, ``dataHash`` = SM3(Signature.xml), Seal.esl identical to
  the seal inside the signed value. Threat: content swapped after sealing,
  a seal picture file replaced, a signature value copied from another file.
- the signature value (``signature_valid``) over DER(TBS_Sign) (Seal) or the
  GB/T 35275 SignedData (Sign). Threat: a forged or re-targeted signature.
- coverage (``modification_level``): files that this signature does not
  protect. Later signatures' own files are ``form_filling``; any other
  unprotected file (a page, resource, font, annotation, OFD.xml) is
  ``other``. Threat: content added beside a signature that does not cover it
  (the OFD counterpart of a PDF incremental update).
- StampAnnot pages exist (``structure_error`` otherwise). Threat: a seal shown
  on no page, or on a page injected later.
The seal (maker signature, chain, validity, certList), the signer chain, the
time-stamp and the licence status are judged by the shared checks.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from trust import oids
from trust.keys import UnsupportedKeyError, verify_signature
from trust.ofd_profile import (
    PARAM_LICENCE_ID,
    PARAM_STATUS_INDEX,
    PARAM_VALID_FROM,
    PARAM_VALID_UNTIL,
)
from trust.seal import SealFormatError
from trust.sm3 import sm3
from verification.certinfo import cert_info
from verification.errors import OfdFormatError
from verification.facts import FileFacts, SignatureFacts
from verification.ofd.package import OfdPackage
from verification.ofd.seal_value import read_seal_signature
from verification.ofd.structure import OfdDocument, OfdSignatureEntry, read_documents
from verification.ofd.values import (
    check_sign_value,
    declared_unused_bits_cleared,
    sm2_der_signature,
)
from verification.status import parsed_licence_id
from verification.timestamp import token_facts

__all__ = ["extract_ofd_facts"]

_SM3_METHODS = frozenset({"sm3", oids.SM3})
_SM2_METHODS = frozenset({oids.SM2_WITH_SM3, oids.SM2_1_SIGN})


def extract_ofd_facts(data: bytes, *, name: str = "", sha256: str | None = None) -> FileFacts:
    """Read every signature of an OFD package once; bad input gives ``format_error``.
    ``sha256``: the package's SHA-256 (hex) when the caller has already computed it."""
    digest = sha256 if sha256 is not None else hashlib.sha256(data).hexdigest()
    try:
        package = OfdPackage(data)
        documents = read_documents(package)
        signatures = tuple(
            facts
            for doc in documents
            for facts in _document_facts(package, doc)
        )
    except OfdFormatError as exc:
        return FileFacts(name, len(data), digest, parser="none", format_error=exc.message)
    except Exception as exc:  # noqa: BLE001  (a broken file must not stop the batch)
        reason = f"unreadable OFD: {type(exc).__name__}: {exc}"[:500]
        return FileFacts(name, len(data), digest, parser="none", format_error=reason)
    return FileFacts(name, len(data), digest, parser="ofd", signatures=signatures)


def _document_facts(package: OfdPackage, doc: OfdDocument) -> Iterable[SignatureFacts]:
    own = [_own_files(package, s) for s in doc.signatures]
    for i, entry in enumerate(doc.signatures):
        earlier = set().union(*own[:i]) if i else set()
        later = set().union(*own[i + 1:]) if i + 1 < len(own) else set()
        yield _signature_facts(package, doc, entry, own[i], earlier, later, len(own) - i - 1)


def _own_files(package: OfdPackage, entry: OfdSignatureEntry) -> set[str]:
    """The files a signature brings: everything in its Sign_N folder, and its value and seal."""
    folder = posixpath.dirname(entry.signature_xml) + "/"
    files = {n for n in package.names if n.startswith(folder)}
    files.update(f for f in (entry.signature_xml, entry.signed_value, entry.seal_loc) if f)
    return files


def _coverage(
    package: OfdPackage,
    doc: OfdDocument,
    entry: OfdSignatureEntry,
    own: set[str],
    earlier: set[str],
    later: set[str],
) -> tuple[str, tuple[str, ...], str]:
    """(level, kinds of change as in docs/report-schema.md, detail) for one signature."""
    covered = {r.entry for r in entry.references if r.entry is not None}
    free = own | earlier | ({doc.signatures_xml} if doc.signatures_xml else set())
    loose = [n for n in package.names if n not in covered and n not in free]
    content = [n for n in loose if n not in later]
    signed_later = any(n in later for n in loose)
    if content:
        more = f" (+{len(content) - 8} more)" if len(content) > 8 else ""
        shown = ", ".join(content[:8]) + more
        kinds = ("other", "signature") if signed_later else ("other",)
        return "other", kinds, f"not protected by this signature: {shown}"
    if signed_later:
        return "form_filling", ("signature",), "later signatures' own files"
    return "none", (), ""


def _references(package: OfdPackage, entry: OfdSignatureEntry) -> tuple[bool | None, str]:
    method = entry.check_method.strip()
    if method.casefold() not in _SM3_METHODS and method not in _SM3_METHODS:
        # MD5, SHA-1, HMAC-SM3 (…401.2) and unknown methods are not the GM/T 0099 profile.
        return None, f"CheckMethod {method or '(none)'!r} is not SM3; not the standard profile"
    if not entry.references:
        return False, "the signature protects no file (no Reference)"
    for ref in entry.references:
        if ref.entry is None:
            return False, f"referenced file {ref.file_ref!r} is missing from the package"
        if not hmac.compare_digest(sm3(package.read(ref.entry)), ref.check_value):
            return False, (f"SM3 of {ref.entry} differs from its CheckValue "
                           f"(Reference {ref.file_ref!r})")
    return True, ""


def _signature_facts(
    package: OfdPackage,
    doc: OfdDocument,
    entry: OfdSignatureEntry,
    own: set[str],
    earlier: set[str],
    later: set[str],
    after: int,
) -> SignatureFacts:
    field = f"{posixpath.dirname(entry.signature_xml)} ({entry.sign_id})"
    subfilter = f"OFD.{entry.sign_type}"
    level, kinds, mod_detail = _coverage(package, doc, entry, own, earlier, later)
    common = SignatureFacts(
        field_name=field,
        subfilter=subfilter,
        coverage="entire_revision" if after else "entire_file",
        signed_revision=None,
        revisions_after=after,
        modification_level=level,
        modification_detail=mod_detail,
        changes=kinds,
        digest_algorithm="sm3",
    )
    problem = entry.detail_error or _stamp_problem(doc, entry)
    if problem is None and entry.signed_value is None:
        problem = f"{entry.signature_xml}: the SignedValue file is missing"
    if problem is not None:
        return replace(common, structure_error=problem)
    assert entry.signed_value is not None
    signature_xml = package.read(entry.signature_xml)
    value = package.read(entry.signed_value)
    refs_ok, refs_detail = _references(package, entry)
    data_hash = sm3(signature_xml)
    if entry.sign_type == "Sign":
        return _sign_facts(value, signature_xml, data_hash, refs_ok, refs_detail, common)
    if entry.sign_type != "Seal":
        return replace(common, structure_error=f"unknown signature Type {entry.sign_type!r}")
    try:
        sig = read_seal_signature(declared_unused_bits_cleared(value))
    except SealFormatError as exc:
        return replace(common, structure_error=f"{entry.signed_value}: {exc.message}")
    digest_ok, detail = refs_ok, refs_detail
    if digest_ok is not False and not hmac.compare_digest(sig.data_hash, data_hash):
        digest_ok, detail = False, f"dataHash is not SM3({entry.signature_xml})"
    if digest_ok is not False and entry.seal_loc is not None and (
        package.read(entry.seal_loc) != sig.seal.der
    ):
        # Threat: a viewer shows Seal.esl, the signature commits to the embedded eseal.
        digest_ok, detail = False, f"{entry.seal_loc} differs from the seal inside the signature"
    valid, sig_detail = _seal_signature_valid(sig.signer_cert, sig.signature_algorithm,
                                              sig.signed_message, sig.signature)
    stamp = token_facts(sig.timestamp, sig.signature) if sig.timestamp is not None else None
    info = _cert_names(sig.signer_cert)
    params = dict(entry.parameters)
    return replace(
        common,
        signature_algorithm="sm2_sm3" if sig.signature_algorithm in _SM2_METHODS
        else sig.signature_algorithm,
        digest_matches=digest_ok,
        signature_valid=valid if digest_ok is not None else None,
        integrity_detail=detail or sig_detail,
        signer_cert_bound=None,
        signer_cert=sig.signer_cert,
        certificates=(sig.signer_cert,),
        signer_subject=info[0],
        signer_issuer=info[1],
        signer_serial=info[2],
        signing_time=sig.time_info,
        timestamp_time=None if stamp is None else stamp.gen_time,
        licence_id=params.get(PARAM_LICENCE_ID) or None,
        status_index=_int_or_none(params.get(PARAM_STATUS_INDEX)),
        licence_type=_licence_type(params.get(PARAM_LICENCE_ID)),
        valid_from=_instant(params.get(PARAM_VALID_FROM)),
        valid_until=_instant(params.get(PARAM_VALID_UNTIL)),
        seal=sig.seal.es_id,
        seal_der=sig.seal.der,
        timestamp_valid=None if stamp is None else stamp.valid,
        timestamp_detail="" if stamp is None else stamp.detail,
        tsa_cert=None if stamp is None else stamp.tsa_cert,
        tsa_certificates=() if stamp is None else stamp.certificates,
    )


def _sign_facts(value: bytes, signature_xml: bytes, data_hash: bytes, refs_ok: bool | None,
                refs_detail: str, common: SignatureFacts) -> SignatureFacts:
    result = check_sign_value(value, signature_xml, data_hash)
    # The References decide integrity; the value can only add a mismatch of its own.
    digest_ok = refs_ok if refs_ok is not True or result.digest_matches is None else (
        result.digest_matches)
    info = _cert_names(result.signer_cert) if result.signer_cert else (None, None, None)
    return replace(
        common,
        signature_algorithm="sm2_sm3",
        digest_matches=digest_ok,
        signature_valid=result.signature_valid if digest_ok else None,
        integrity_detail=refs_detail or result.detail,
        signer_cert=result.signer_cert,
        certificates=result.certificates,
        signer_subject=info[0],
        signer_issuer=info[1],
        signer_serial=info[2],
    )


def _seal_signature_valid(cert: bytes, algorithm: str, message: bytes,
                          signature: bytes) -> tuple[bool | None, str]:
    if algorithm not in _SM2_METHODS:
        return None, f"signature algorithm {algorithm} is not SM2 with SM3"
    try:
        spki = cert_info(cert).spki
        ok = verify_signature(spki, oids.SM2_WITH_SM3, message, sm2_der_signature(signature))
    except (UnsupportedKeyError, ValueError) as exc:
        return None, f"signer certificate unusable: {exc}"[:300]
    return ok, "" if ok else "the seal signature over DER(TBS_Sign) does not verify"


def _stamp_problem(doc: OfdDocument, entry: OfdSignatureEntry) -> str | None:
    missing = [p for p in entry.stamp_pages if p not in doc.page_ids]
    if missing:
        return f"StampAnnot on page(s) {', '.join(missing)} that the document does not have"
    return None


def _cert_names(der: bytes) -> tuple[str | None, str | None, str | None]:
    try:
        info = cert_info(der)
    except (ValueError, TypeError):
        return None, None, None
    return info.subject, info.issuer, info.serial


def _instant(text: str | None) -> datetime | None:
    """A signed validity instant (ISO 8601 with offset); anything else is no period at all,
    which the licence_validity check treats as missing (never as valid)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _licence_type(licence_id: str | None) -> str | None:
    if not licence_id:
        return None
    parsed = parsed_licence_id(licence_id)
    return None if isinstance(parsed, Exception) else parsed.type_code
