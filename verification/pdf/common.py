"""Shared by both PDF paths, so they cannot disagree: structure and integrity facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from trust.licence_id import LicenceIdError
from verification.certinfo import cert_info
from verification.cms import SignedCms, digest_ranges
from verification.errors import CmsFormatError
from verification.facts import SignatureFacts
from verification.revocation import archived_material
from verification.seal import seal_id
from verification.status import parsed_licence_id
from verification.timestamp import token_facts

__all__ = ["SIGNATURE_SUBFILTERS", "TIMESTAMP_SUBFILTER", "byte_range_error", "signature_facts"]

SIGNATURE_SUBFILTERS: Final = frozenset({"/adbe.pkcs7.detached", "/ETSI.CAdES.detached"})
TIMESTAMP_SUBFILTER: Final = "/ETSI.RFC3161"


def byte_range_error(data: bytes, br: Sequence[int], contents: bytes | None) -> str | None:
    """Why /ByteRange and /Contents are not a well-formed pair, or None.

    Well-formed: four integers [0 b c d], the gap [b, c) is exactly the
    /Contents hex string ``<...>`` (no whitespace) and c + d stays in the file.
    """
    if contents is None:
        return "signature dictionary has no string /Contents"
    if len(br) != 4:
        return "/ByteRange is not four integers"
    a, b, c, d = (int(v) for v in br)
    if a != 0 or b <= 0 or c <= b or d < 0:
        return f"/ByteRange {list(br)} does not start at 0 with one gap"
    if c + d > len(data):
        return "/ByteRange extends beyond the end of the file (truncated?)"
    gap = data[b:c]
    if gap[:1] != b"<" or gap[-1:] != b">":
        return "the /ByteRange gap is not exactly the /Contents hex string"
    hex_part = gap[1:-1]
    if len(hex_part) != 2 * len(contents):
        return "the /ByteRange gap does not match /Contents (wrapped byte range?)"
    try:
        if bytes.fromhex(hex_part.decode("ascii")) != contents:
            return "the /ByteRange gap does not hold /Contents"
    except (UnicodeDecodeError, ValueError):
        return "/Contents is not a plain hex string"
    return None


def signature_facts(
    data: bytes,
    *,
    byte_range: Sequence[int],
    signed: SignedCms | None,
    field_name: str | None,
    subfilter: str | None,
    claimed_time: datetime | None,
    coverage: str,
    signed_revision: int | None,
    revisions_after: int,
    modification_level: str | None,
    changes: tuple[str, ...] = (),
    modification_detail: str = "",
    range_digest: bytes | None = None,
    parsed_token: SignedCms | None = None,
) -> SignatureFacts:
    """Parse the CMS, hash the ranges and verify: the facts of one well-formed signature.

    The facts are built once (``dataclasses.replace`` on 35 fields would cost
    as much as building them twice). ``range_digest``: the ranges' digest under
    ``signed.range_digest_algorithm``, when the caller already hashed them;
    ``parsed_token``: the time-stamp token, when the caller already parsed it.
    """
    where: dict[str, Any] = {
        "kind": "doc_timestamp" if subfilter == TIMESTAMP_SUBFILTER else "signature",
        "field_name": field_name,
        "subfilter": subfilter,
        "byte_range": tuple(byte_range),
        "coverage": coverage,
        "signed_revision": signed_revision,
        "revisions_after": revisions_after,
        "modification_level": modification_level,
        "changes": changes,
        "modification_detail": modification_detail,
    }
    if subfilter != TIMESTAMP_SUBFILTER and subfilter not in SIGNATURE_SUBFILTERS:
        return SignatureFacts(**where, signing_time=claimed_time,
                              structure_error=f"unsupported /SubFilter {subfilter}")
    if signed is None:
        return SignatureFacts(**where, signing_time=claimed_time,
                              structure_error="no CMS SignedData")
    _, b, c, d = byte_range
    try:
        digest = range_digest if range_digest is not None else digest_ranges(
            data, ((0, b), (c, d)), signed.range_digest_algorithm)
    except CmsFormatError as exc:  # a digest algorithm we do not accept: cannot decide
        return SignatureFacts(**where, signing_time=claimed_time, integrity_detail=exc.message)
    content = None if signed.signed_attrs is not None else data[:b] + data[c : c + d]
    integrity = signed.check(digest, content)
    cert = cert_info(signed.signer_cert)
    stamp = None if signed.timestamp_token is None else token_facts(
        signed.timestamp_token, signed.signature, parsed=parsed_token
    )
    # (a walked CMS has only the attributes the walk knows, none of them an archive:
    # the ~15 KB byte scan for one is skipped; anything else is scanned as before)
    archived_crls, archived_ocsps = archived_material(
        None if signed.walked else signed.signed_attrs)
    return SignatureFacts(
        **where,
        digest_algorithm=signed.digest_algorithm,
        signature_algorithm=signed.signature_algorithm,
        digest_matches=integrity.digest_matches,
        signature_valid=integrity.signature_valid,
        integrity_detail=integrity.detail,
        signer_cert_bound=signed.signer_cert_bound,
        signer_cert=signed.signer_cert,
        certificates=signed.certificates,
        signer_subject=cert.subject,
        signer_issuer=cert.issuer,
        signer_serial=cert.serial,
        signing_time=signed.signing_time or claimed_time,
        timestamp_time=signed.timestamp_time if stamp is None else stamp.gen_time,
        licence_id=signed.licence_id,
        status_index=signed.status_index,
        licence_type=_licence_type(signed.licence_id),
        valid_from=None if signed.validity is None else signed.validity[0],
        valid_until=None if signed.validity is None else signed.validity[1],
        seal=seal_id(signed.seal_der),
        seal_der=signed.seal_der,
        timestamp_valid=None if stamp is None else stamp.valid,
        timestamp_detail="" if stamp is None else stamp.detail,
        tsa_cert=None if stamp is None else stamp.tsa_cert,
        tsa_certificates=() if stamp is None else stamp.certificates,
        revocation_crls=archived_crls,
        revocation_ocsps=archived_ocsps,
    )


def _licence_type(licence_id: str | None) -> str | None:
    """The type code, or None when the id is malformed (the status check reports it)."""
    parsed = None if licence_id is None else parsed_licence_id(licence_id)
    return None if parsed is None or isinstance(parsed, LicenceIdError) else parsed.type_code
