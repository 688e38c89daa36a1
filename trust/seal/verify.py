"""Verify GB/T 38540 seals and seal signatures (V4; V1 read through the same path).

Every step is a named check with an ETSI indication, and all steps run even
after one fails, so a report shows everything that is wrong at once:

- ``seal.header``: ID "ES", version 4 (V4) or 1..4 (V1, not pinned: unconfirmed);
- ``seal.algorithm`` / ``signature.algorithm``: the OID is in the accepted set
  (by default SM2-with-SM3 1.2.156.10197.1.501, SM2-1 .301.1 and
  sha256WithRSAEncryption; .501 itself is accepted, a known defect elsewhere);
- ``seal.maker_signature``: over DER(SES_SealInfo) or, as GM/T 0031 V1 did,
  over DER(SEQUENCE{sealInfo, cert, algID}); both are accepted and the facts
  say which one matched;
- ``seal.maker_pinned`` (only with ``trusted_makers``) and ``seal.maker_chain``
  (the injected chain validator, at the validation time);
- ``seal.validity``: validStart <= t <= validEnd, t being the validation time
  for a seal alone and the signing time (timeInfo) for a seal signature;
- ``signature.value`` over DER(TBS_Sign), ``signature.version``,
  ``signature.signer_listed`` (byte compare for certListType 1, digest compare
  for 2), ``signature.signing_time`` (timeInfo not after the validation time),
  ``signature.signer_validity`` (signer certificate valid at timeInfo),
  ``signature.signer_chain`` (optional validator), ``signature.data_hash``
  (SM3 of the protected bytes) and ``signature.timestamp`` (only when a token
  is present and a validator is given; otherwise the facts say it is there).

Signatures are checked only through :func:`trust.keys.verify_signature`.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from trust import keys, oids
from trust.errors import InputError, SealTrustError
from trust.indications import Check, Indication, SubIndication
from trust.seal import _certs
from trust.seal.errors import SealFormatError
from trust.seal.model import V4, Seal, SealSignature, parse_seal, parse_seal_signature
from trust.seal.results import (
    ChainValidator,
    Outcome,
    SealFacts,
    SealResult,
    SealSignatureResult,
    SignatureFacts,
    TimestampValidator,
)
from trust.sm3 import sm3

__all__ = [
    "DEFAULT_ALGORITHMS",
    "unsafe_accept_any_chain",
    "verify_seal",
    "verify_seal_signature",
]

DEFAULT_ALGORITHMS: Final = frozenset(
    {oids.SM2_WITH_SM3, oids.SM2_1_SIGN, keys.SIGNATURE_OIDS["rsa-2048"]}
)

_PASS: Final = Indication.TOTAL_PASSED
_FAIL: Final = Indication.TOTAL_FAILED
_UNSURE: Final = Indication.INDETERMINATE


def unsafe_accept_any_chain(cert_der: bytes, at: datetime) -> Outcome:
    """A chain validator that trusts every certificate: for tests and demos only."""
    return Outcome(_PASS, detail="UNSAFE: chain not validated")


def _require_aware(at: datetime) -> None:
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise InputError("the validation time must be timezone-aware", code="time.naive")


def _ok(name: str, detail: str = "") -> Check:
    return Check(name, _PASS, None, detail)


def _outcome_check(name: str, outcome: Outcome) -> Check:
    if outcome.indication is _PASS:
        return _ok(name, outcome.detail)
    return Check(name, outcome.indication, outcome.sub_indication, outcome.detail)


def _external(name: str, call: ChainValidator, cert: bytes, at: datetime) -> Check:
    try:
        return _outcome_check(name, call(cert, at))
    except SealTrustError as exc:
        return Check(
            name, _UNSURE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, f"{exc.code}: {exc}"
        )


def _window(name: str, start: datetime, end: datetime, t: datetime, what: str) -> Check:
    if t < start:
        return Check(name, _FAIL, SubIndication.NOT_YET_VALID, f"{what} not valid before {start}")
    if t > end:
        return Check(name, _FAIL, SubIndication.EXPIRED, f"{what} expired at {end}")
    return _ok(name, f"{start} <= {t} <= {end}")


def _algorithm(name: str, oid: str, accepted: Collection[str]) -> Check:
    if oid in accepted:
        return _ok(name, oid)
    return Check(
        name, _FAIL, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, f"algorithm {oid} not accepted"
    )


def _verify(spki: bytes, oid: str, message: bytes, signature: bytes) -> bool:
    try:
        return keys.verify_signature(spki, oid, message, signature)
    except InputError:
        return False


@dataclass(frozen=True, slots=True)
class _MakerFindings:
    subject: str | None
    signed_form: str | None
    checks: tuple[Check, ...]


def _maker(seal: Seal, accepted: Collection[str]) -> _MakerFindings:
    name = "seal.maker_signature"
    try:
        cert = _certs.load_certificate(seal.maker_cert, "the maker certificate")
    except SealFormatError as exc:
        return _MakerFindings(
            None, None, (Check(name, _FAIL, SubIndication.FORMAT_FAILURE, str(exc)),)
        )
    subject = _certs.subject(cert)
    if seal.signature_algorithm not in accepted:
        check = Check(
            name, _UNSURE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, "not run: algorithm refused"
        )
        return _MakerFindings(subject, None, (check,))
    spki = _certs.spki(cert)
    for form, message in seal.maker_signed_messages:
        if _verify(spki, seal.signature_algorithm, message, seal.signature):
            return _MakerFindings(subject, form, (_ok(name, f"over {form} by {subject}"),))
    check = Check(
        name, _FAIL, SubIndication.SIG_CRYPTO_FAILURE, "the maker signature does not verify"
    )
    return _MakerFindings(subject, None, (check,))


def _header(seal: Seal) -> Check:
    allowed = {V4} if seal.format_version == V4 else {1, 2, 3, 4}
    if seal.header_id != "ES":
        return Check(
            "seal.header", _FAIL, SubIndication.FORMAT_FAILURE, f"ID {seal.header_id!r} is not 'ES'"
        )
    if seal.header_version not in allowed:
        return Check(
            "seal.header",
            _FAIL,
            SubIndication.FORMAT_FAILURE,
            f"header version {seal.header_version} in a V{seal.format_version} structure",
        )
    return _ok("seal.header", f"ES v{seal.header_version} by {seal.vendor_id}")


def _cert_summary(seal: Seal) -> tuple[str, ...]:
    out = []
    for entry in seal.cert_list:
        if entry.certificate is not None:
            try:
                out.append(_certs.subject(_certs.load_certificate(entry.certificate, "certList")))
            except SealFormatError:
                out.append("<malformed certificate>")
        else:
            out.append(f"{entry.digest_type}:{(entry.digest or b'').hex()}")
    return tuple(out)


def _seal_checks(
    seal: Seal,
    *,
    window_time: datetime,
    chain_time: datetime,
    chain_validator: ChainValidator,
    trusted_makers: Collection[bytes] | None,
    accepted: Collection[str],
) -> tuple[SealFacts, tuple[Check, ...]]:
    maker = _maker(seal, accepted)
    checks = [_header(seal), _algorithm("seal.algorithm", seal.signature_algorithm, accepted)]
    checks += maker.checks
    if trusted_makers is not None:
        pinned = any(hmac.compare_digest(seal.maker_cert, c) for c in trusted_makers)
        checks.append(
            _ok("seal.maker_pinned", "maker certificate is trusted")
            if pinned
            else Check(
                "seal.maker_pinned",
                _FAIL,
                SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                "maker certificate is not among the trusted seal makers",
            )
        )
    if maker.subject is None:
        checks.append(
            Check(
                "seal.maker_chain",
                _UNSURE,
                SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                "not run: the maker certificate is malformed",
            )
        )
    else:
        checks.append(_external("seal.maker_chain", chain_validator, seal.maker_cert, chain_time))
    checks.append(_window("seal.validity", seal.valid_start, seal.valid_end, window_time, "seal"))
    if not seal.cert_list:
        checks.append(
            Check("seal.cert_list", _FAIL, SubIndication.FORMAT_FAILURE, "empty certList")
        )
    facts = SealFacts(
        format_version=seal.format_version,
        header_version=seal.header_version,
        vendor_id=seal.vendor_id,
        es_id=seal.es_id,
        name=seal.name,
        seal_type=seal.seal_type,
        created=seal.created,
        valid_start=seal.valid_start,
        valid_end=seal.valid_end,
        maker_subject=maker.subject,
        maker_signature_algorithm=seal.signature_algorithm,
        maker_signed_form=maker.signed_form,
        cert_list_type=seal.cert_list_type,
        cert_list=_cert_summary(seal),
        picture_type=seal.picture.type,
        picture_bytes=len(seal.picture.data),
        picture_width_mm=seal.picture.width_mm,
        picture_height_mm=seal.picture.height_mm,
    )
    return facts, tuple(checks)


def verify_seal(
    seal_der: bytes,
    at: datetime,
    *,
    chain_validator: ChainValidator,
    trusted_makers: Collection[bytes] | None = None,
    accepted_algorithms: Collection[str] = DEFAULT_ALGORITHMS,
) -> SealResult:
    """Verify an electronic seal (V4 or V1) as of ``at`` (timezone-aware)."""
    _require_aware(at)
    try:
        seal = parse_seal(seal_der)
    except SealFormatError as exc:
        failed = Check("seal.format", _FAIL, SubIndication.FORMAT_FAILURE, str(exc))
        return SealResult(at, None, (failed,))
    facts, checks = _seal_checks(
        seal,
        window_time=at,
        chain_time=at,
        chain_validator=chain_validator,
        trusted_makers=trusted_makers,
        accepted=accepted_algorithms,
    )
    return SealResult(at, facts, (_ok("seal.format", f"V{seal.format_version}"), *checks))


def _expected_hash(data: bytes | None, data_hash: bytes | None) -> bytes:
    if (data is None) == (data_hash is None):
        raise InputError("give exactly one of data and data_hash", code="seal.verify.arguments")
    return sm3(data) if data is not None else bytes(data_hash or b"")


def _signer_checks(
    sig: SealSignature,
    at: datetime,
    signer_chain_validator: ChainValidator | None,
) -> tuple[str | None, list[Check]]:
    checks: list[Check] = []
    try:
        cert = _certs.load_certificate(sig.signer_cert, "the signer certificate")
    except SealFormatError as exc:
        return None, [Check("signature.value", _FAIL, SubIndication.FORMAT_FAILURE, str(exc))]
    subject = _certs.subject(cert)
    if _verify(_certs.spki(cert), sig.signature_algorithm, sig.signed_message, sig.signature):
        checks.append(_ok("signature.value", f"over DER(TBS_Sign) by {subject}"))
    else:
        checks.append(
            Check(
                "signature.value",
                _FAIL,
                SubIndication.SIG_CRYPTO_FAILURE,
                "signature does not verify",
            )
        )
    if sig.time_info is None:
        checks.append(
            Check(
                "signature.signer_validity",
                _UNSURE,
                SubIndication.OUT_OF_BOUNDS_NO_POE,
                "no readable signing time",
            )
        )
    else:
        not_before, not_after = _certs.validity(cert)
        checks.append(
            _window(
                "signature.signer_validity",
                not_before,
                not_after,
                sig.time_info,
                "signer certificate",
            )
        )
    if signer_chain_validator is not None:
        checks.append(
            _external("signature.signer_chain", signer_chain_validator, sig.signer_cert, at)
        )
    return subject, checks


def _listed(sig: SealSignature) -> Check:
    if sig.seal.lists(sig.signer_cert):
        return _ok("signature.signer_listed", f"certListType {sig.seal.cert_list_type}")
    return Check(
        "signature.signer_listed",
        _FAIL,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        "the signer certificate is not in the seal's certList",
    )


def _signing_time(sig: SealSignature, at: datetime) -> Check:
    if sig.time_info is None:
        return Check("signature.signing_time", _UNSURE, SubIndication.NO_POE, "unreadable timeInfo")
    if sig.time_info > at:
        return Check(
            "signature.signing_time",
            _UNSURE,
            SubIndication.TIMESTAMP_ORDER_FAILURE,
            f"signed at {sig.time_info}, after the validation time {at}",
        )
    return _ok("signature.signing_time", sig.time_info.isoformat())


def verify_seal_signature(
    signature_der: bytes,
    at: datetime,
    *,
    data: bytes | None = None,
    data_hash: bytes | None = None,
    chain_validator: ChainValidator,
    signer_chain_validator: ChainValidator | None = None,
    timestamp_validator: TimestampValidator | None = None,
    trusted_makers: Collection[bytes] | None = None,
    accepted_algorithms: Collection[str] = DEFAULT_ALGORITHMS,
) -> SealSignatureResult:
    """Verify a seal signature over ``data`` (or its SM3 ``data_hash``) as of ``at``.

    ``chain_validator`` judges the seal maker's certificate and
    ``signer_chain_validator`` (optional) the signer's, both at ``at``.
    """
    _require_aware(at)
    expected = _expected_hash(data, data_hash)
    try:
        sig = parse_seal_signature(signature_der)
    except SealFormatError as exc:
        failed = Check("signature.format", _FAIL, SubIndication.FORMAT_FAILURE, str(exc))
        return SealSignatureResult(at, None, None, (failed,))
    seal_facts, seal_checks = _seal_checks(
        sig.seal,
        window_time=sig.time_info if sig.time_info is not None else at,
        chain_time=at,
        chain_validator=chain_validator,
        trusted_makers=trusted_makers,
        accepted=accepted_algorithms,
    )
    checks = [_ok("signature.format", f"V{sig.format_version}"), *seal_checks]
    if sig.version == sig.seal.header_version:
        checks.append(_ok("signature.version", str(sig.version)))
    else:
        checks.append(
            Check(
                "signature.version",
                _FAIL,
                SubIndication.FORMAT_FAILURE,
                f"TBS_Sign version {sig.version} differs from the seal's {sig.seal.header_version}",
            )
        )
    checks.append(_algorithm("signature.algorithm", sig.signature_algorithm, accepted_algorithms))
    subject, signer_checks = _signer_checks(sig, at, signer_chain_validator)
    checks += signer_checks
    checks.append(_listed(sig))
    checks.append(_signing_time(sig, at))
    if hmac.compare_digest(sig.data_hash, expected):
        checks.append(_ok("signature.data_hash", "SM3 of the protected data matches"))
    else:
        checks.append(
            Check(
                "signature.data_hash",
                _FAIL,
                SubIndication.HASH_FAILURE,
                "dataHash differs from the SM3 of the protected data",
            )
        )
    if sig.timestamp is not None and timestamp_validator is not None:
        try:
            outcome = timestamp_validator(sig.timestamp, sig.signature)
            checks.append(_outcome_check("signature.timestamp", outcome))
        except SealTrustError as exc:
            checks.append(Check("signature.timestamp", _UNSURE, SubIndication.TRY_LATER, str(exc)))
    facts = SignatureFacts(
        format_version=sig.format_version,
        version=sig.version,
        signer_subject=subject,
        signing_time=sig.time_info,
        property_info=sig.property_info,
        data_hash=sig.data_hash.hex(),
        signature_algorithm=sig.signature_algorithm,
        timestamp_present=sig.timestamp is not None,
    )
    return SealSignatureResult(at, seal_facts, facts, tuple(checks))
