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

Read in two halves like a PDF (``verification.extract.plan_facts``): :func:`plan_ofd`
reads the package, hashes the References and parses each signed value and its
time-stamp token; :func:`finish_ofd` verifies the signatures (through
``verification.sm2_batch``, so a bulk chunk verifies them together) and builds the
facts. :func:`extract_ofd_facts` is both, one file at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from trust import oids
from trust.keys import UnsupportedKeyError
from trust.ofd_profile import (
    PARAM_LICENCE_ID,
    PARAM_STATUS_INDEX,
    PARAM_VALID_FROM,
    PARAM_VALID_UNTIL,
)
from trust.seal import SealFormatError, SealSignature
from trust.sm3 import sm3
from verification import sm2_batch
from verification.certinfo import cert_info
from verification.cms import SignedCms, parse_cms
from verification.errors import OfdFormatError
from verification.facts import FileFacts, SignatureFacts
from verification.ofd.package import OfdPackage
from verification.ofd.seal_value import read_seal_signature
from verification.ofd.structure import OfdDocument, OfdSignatureEntry, read_documents
from verification.ofd.values import (
    SignPlan,
    declared_unused_bits_cleared,
    finish_sign_value,
    plan_sign_value,
    sm2_der_signature,
)
from verification.sm2_batch import SignatureInput
from verification.status import parsed_licence_id
from verification.timestamp import token_facts

__all__ = ["OfdPlan", "extract_ofd_facts", "finish_ofd", "plan_ofd"]

_SM3_METHODS = frozenset({"sm3", oids.SM3})
_SM2_METHODS = frozenset({oids.SM2_WITH_SM3, oids.SM2_1_SIGN})


def extract_ofd_facts(data: bytes, *, name: str = "", sha256: str | None = None) -> FileFacts:
    """Read every signature of an OFD package once; bad input gives ``format_error``.
    ``sha256``: the package's SHA-256 (hex) when the caller has already computed it."""
    return finish_ofd(plan_ofd(data, name=name, sha256=sha256))


@dataclass(frozen=True, slots=True)
class _SealParts:
    """A Seal-type signature read up to its verifications."""

    common: SignatureFacts
    sig: SealSignature
    digest_ok: bool | None
    detail: str
    parameters: tuple[tuple[str, str], ...]
    token: SignedCms | None  # the parsed time-stamp token, when it parsed

    def signature_inputs(self) -> list[SignatureInput]:
        out: list[SignatureInput] = []
        sig = self.sig
        if sig.signature_algorithm in _SM2_METHODS:
            try:
                spki = cert_info(sig.signer_cert).spki
                out.append((spki, oids.SM2_WITH_SM3, sig.signed_message,
                            sm2_der_signature(sig.signature)))
            except Exception:  # noqa: BLE001, S110  (a bad certificate: the facts say why)
                pass
        found = None if self.token is None else self.token.signature_input()
        if found is not None:
            out.append(found)
        return out


@dataclass(frozen=True, slots=True)
class _SignParts:
    """A Sign-type signature (GB/T 35275) read up to its verification."""

    common: SignatureFacts
    refs_ok: bool | None
    refs_detail: str
    value: SignPlan


# a signature's facts when they need no verification, else what they are read into
_Parts = SignatureFacts | _SealParts | _SignParts


@dataclass(frozen=True, slots=True)
class OfdPlan:
    """An OFD package read, before any signature is verified (:func:`plan_ofd`).

    ``failure``: the reason the package stopped being readable after ``parts`` (the
    one-piece read would have stopped there too); :func:`finish_ofd` reports it once
    the signatures before it are finished, so the first error is the one it named."""

    name: str
    size: int
    sha256: str
    parts: tuple[_Parts, ...]
    failure: str | None
    held_bytes: int  # what the parts keep of the package (signed values, tokens)

    def signature_inputs(self) -> list[SignatureInput]:
        """The SM2 verifications :func:`finish_ofd` will make: each seal signature over
        DER(TBS_Sign), its time-stamp token's signed attributes, each Sign value."""
        out: list[SignatureInput] = []
        for part in self.parts:
            if isinstance(part, _SealParts):
                out.extend(part.signature_inputs())
            elif isinstance(part, _SignParts):
                found = part.value.signature_input()
                if found is not None:
                    out.append(found)
        return out

    @property
    def gathers(self) -> bool:
        """Whether any signature awaits a verification."""
        return any(not isinstance(p, SignatureFacts) for p in self.parts)


def plan_ofd(data: bytes, *, name: str = "", sha256: str | None = None) -> OfdPlan:
    """The reading half of :func:`extract_ofd_facts` (never raises for bad input)."""
    digest = sha256 if sha256 is not None else hashlib.sha256(data).hexdigest()
    parts: list[_Parts] = []
    failure = None
    try:
        package = OfdPackage(data)
        for doc in read_documents(package):
            parts.extend(_document_parts(package, doc))
    except Exception as exc:  # noqa: BLE001  (a broken file must not stop the batch)
        failure = _reason(exc)
    return OfdPlan(name, len(data), digest, tuple(parts), failure, sum(map(_held, parts)))


def _held(part: _Parts) -> int:
    """Bytes of the package a part keeps until it is finished."""
    if isinstance(part, _SealParts):
        sig = part.sig
        return len(sig.der) + len(sig.signed_message) + len(sig.timestamp or b"")
    if isinstance(part, _SignParts):
        return len(part.value.message)
    return 0


def finish_ofd(plan: OfdPlan) -> FileFacts:
    """The verifying half of :func:`extract_ofd_facts`: the facts of a planned package.
    Its SM2 verifications go through ``verification.sm2_batch.verify``."""
    try:
        signatures = tuple(_finish(part) for part in plan.parts)
    except Exception as exc:  # noqa: BLE001  (a broken file must not stop the batch)
        return _unreadable(plan, _reason(exc))
    if plan.failure is not None:
        return _unreadable(plan, plan.failure)
    return FileFacts(plan.name, plan.size, plan.sha256, parser="ofd", signatures=signatures)


def _reason(exc: Exception) -> str:
    if isinstance(exc, OfdFormatError):
        return exc.message
    return f"unreadable OFD: {type(exc).__name__}: {exc}"[:500]


def _unreadable(plan: OfdPlan, reason: str) -> FileFacts:
    return FileFacts(plan.name, plan.size, plan.sha256, parser="none", format_error=reason)


def _document_parts(package: OfdPackage, doc: OfdDocument) -> Iterable[_Parts]:
    own = [_own_files(package, s) for s in doc.signatures]
    for i, entry in enumerate(doc.signatures):
        earlier = set().union(*own[:i]) if i else set()
        later = set().union(*own[i + 1:]) if i + 1 < len(own) else set()
        yield _signature_parts(package, doc, entry, own[i], earlier, later, len(own) - i - 1)


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


def _signature_parts(
    package: OfdPackage,
    doc: OfdDocument,
    entry: OfdSignatureEntry,
    own: set[str],
    earlier: set[str],
    later: set[str],
    after: int,
) -> _Parts:
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
        return _SignParts(common, refs_ok, refs_detail, plan_sign_value(value, data_hash))
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
    try:
        cert_info(sig.signer_cert)
    except Exception as exc:  # noqa: BLE001  (asn1crypto parses lazily: any error class)
        # Threat: a V4 ``cert`` lies outside TBS_Sign, so anyone can swap in DER that is no
        # certificate; every later check would read it, one by raising (no report at all,
        # and a stopped bulk run). A PDF's CMS parse refuses the same as a format error.
        return replace(common, structure_error=(
            f"{entry.signed_value}: the signer certificate is unreadable: "
            f"{type(exc).__name__}: {exc}")[:500])
    return _SealParts(common, sig, digest_ok, detail, entry.parameters,
                      _parsed_token(sig.timestamp))


def _parsed_token(token: bytes | None) -> SignedCms | None:
    """The token parsed ahead, for its verification to be gathered; on any failure None,
    and token_facts parses it again where the one-piece read did (and words the error)."""
    if token is None:
        return None
    try:
        return parse_cms(token, timestamp=True)
    except Exception:  # noqa: BLE001  (decided, and worded, by token_facts)
        return None


def _finish(part: _Parts) -> SignatureFacts:
    if isinstance(part, SignatureFacts):
        return part
    if isinstance(part, _SignParts):
        return _sign_facts(part)
    sig, common, digest_ok = part.sig, part.common, part.digest_ok
    valid, sig_detail = _seal_signature_valid(sig.signer_cert, sig.signature_algorithm,
                                              sig.signed_message, sig.signature)
    stamp = None if sig.timestamp is None else token_facts(sig.timestamp, sig.signature,
                                                           parsed=part.token)
    info = _cert_names(sig.signer_cert)
    params = dict(part.parameters)
    return replace(
        common,
        signature_algorithm="sm2_sm3" if sig.signature_algorithm in _SM2_METHODS
        else sig.signature_algorithm,
        digest_matches=digest_ok,
        signature_valid=valid if digest_ok is not None else None,
        integrity_detail=part.detail or sig_detail,
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


def _sign_facts(part: _SignParts) -> SignatureFacts:
    result = finish_sign_value(part.value)
    refs_ok, refs_detail = part.refs_ok, part.refs_detail
    # The References decide integrity; the value can only add a mismatch of its own.
    digest_ok = refs_ok if refs_ok is not True or result.digest_matches is None else (
        result.digest_matches)
    info = _cert_names(result.signer_cert) if result.signer_cert else (None, None, None)
    return replace(
        part.common,
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
        # (answered from the chunk's batch only for this very message object)
        ok = sm2_batch.verify(spki, oids.SM2_WITH_SM3, message, sm2_der_signature(signature))
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
