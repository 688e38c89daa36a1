"""Generate the QR token conformance suite: one JSON file per case.

Modelled on the EU DCC test data: every stage (payload, CBOR hex, COSE hex,
Base45, prefixed text, PNG) plus the context (signer certificate, pinned
trust-list anchor, signed trust list and status list, validation clock,
online state) and the expected outcome of each stage.

Negative cases are built here with cbor2 and the SigningKey directly, not
with trust.token.cose, so the suite is an independent check of the decoder.

    .venv/bin/python -m tests.vectors.qr.make_vectors   # rewrites tests/vectors/qr/*.json
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2

from tests.vectors.qr import testpki
from tests.vectors.qr.testpki import CLOCK, ISSUER, ISSUER_B, ISSUER_X, LICENCE_TYPE, Party
from trust import sm2
from trust.qrimage import to_png
from trust.status import LicenceStatus
from trust.token import base45
from trust.token.claims import Claims, Grant, TokenKind, mask_id_number, mask_name
from trust.token.codec import PREFIX
from trust.token.cose import ALG_ES256, ALG_SM2_SM3, kid_of

HERE = Path(__file__).parent
SM2_ALG = ALG_SM2_SM3


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def claims(kind: TokenKind = TokenKind.PRESENTATION, **overrides: Any) -> Claims:
    iat = CLOCK - timedelta(seconds=10)
    base: dict[str, Any] = {
        "kind": kind,
        "issuer": ISSUER,
        "licence_id": "BL-310000-2026-000123-K",
        "licence_type": LICENCE_TYPE,
        "holder_name": mask_name("张三明"),
        "holder_id_last4": mask_id_number("11010519491231002X"),
        "valid_from": date(2026, 1, 1),
        "valid_until": date(2046, 1, 1),
        "issued_at": iat,
        "expires_at": iat
        + (timedelta(seconds=60) if kind is TokenKind.PRESENTATION else timedelta(days=3650)),
        "jti": bytes.fromhex("5a17c0de0000000000000001"),
        "status_list": "SH-2026-0",
        "status_index": 123,
    }
    base.update(overrides)
    return Claims(**base)


def payload_map(c: Claims) -> Any:
    return cbor2.loads(c.to_cbor())


def cose(
    payload: bytes,
    signer: Party,
    *,
    alg: int | None = None,
    kid: bytes | None = None,
    unprotected: dict[int, Any] | None = None,
    tag: bool = True,
    signature: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """COSE_Sign1 written out by hand (RFC 9052 §4.4), with knobs for breaking it."""
    if alg is None:
        alg = SM2_ALG if signer.key.algorithm == "sm2" else ALG_ES256
    kid = kid_of(signer.cert) if kid is None else kid
    header: dict[int, Any] = {1: alg} if unprotected and 4 in unprotected else {1: alg, 4: kid}
    protected = cbor2.dumps(header, canonical=True)
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    der = signer.key.sign(tbs)
    if signature is not None:
        sig = signature(der)
    elif signer.key.algorithm == "sm2":
        sig = sm2.der_to_raw(der)
    else:
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    body = [protected, unprotected or {}, payload, sig]
    return cbor2.dumps(cbor2.CBORTag(18, body) if tag else body)


@dataclass
class Case:
    name: str
    description: str
    expected: dict[str, Any]
    payload: Claims | None = None
    raw_payload: bytes | None = None
    signer: str = "token_signer"
    cose_kw: dict[str, Any] = field(default_factory=dict)
    mutate_cose: Callable[[bytes], bytes] | None = None
    mutate_text: Callable[[str], str] | None = None
    broken_image: bool = False
    clock: datetime = CLOCK
    status: dict[str, Any] = field(default_factory=dict)
    trust: dict[str, Any] = field(default_factory=dict)
    online: dict[str, Any] | None = None


def stages(**fail: bool) -> dict[str, bool]:
    names = ("picture_decode", "unprefix", "base45_decode", "cose_decode", "claims_decode")
    return {n: fail.get(n, True) for n in names}


def ok(**fail: bool) -> dict[str, Any]:
    return {**stages(**fail), "indication": "TOTAL_PASSED", "sub_indication": None}


def outcome(indication: str, sub: str | None, **fail: bool) -> dict[str, Any]:
    return {**stages(**fail), "indication": indication, "sub_indication": sub}


FMT = {"indication": "TOTAL_FAILED", "sub_indication": "FORMAT_FAILURE"}


def cases() -> list[Case]:
    tamper_payload = claims()
    return [
        Case(
            "valid_presentation_sm2",
            "Presentation code, SM2 raw r||s, all checks pass.",
            ok(),
            claims(),
        ),
        Case(
            "valid_document_sm2",
            "Static document code (printed), ten-year lifetime.",
            ok(),
            claims(TokenKind.DOCUMENT),
        ),
        Case(
            "valid_presentation_es256_other_region",
            "Mutual recognition: a Guangdong issuer signing with ES256, listed in the "
            "trust list (checked online: the suite's status list is Shanghai's).",
            ok(),
            claims(issuer=ISSUER_B),
            signer="token_signer_b",
            online={"live": "VALID", "seen": []},
        ),
        Case(
            "valid_with_grant",
            "Presentation code carrying a 授权用证 grant to counter GOV-HALL-07 for two fields.",
            ok(),
            claims(
                grant=Grant(
                    "GOV-HALL-07",
                    ("holder_name", "address"),
                    CLOCK + timedelta(minutes=10),
                    bytes(range(1, 13)),
                )
            ),
        ),
        Case(
            "online_valid",
            "Online: live status valid, jti not seen before.",
            ok(),
            claims(),
            online={"live": "VALID", "seen": []},
        ),
        Case(
            "broken_image",
            "Valid token, but its PNG is truncated.",
            ok(picture_decode=False),
            claims(),
            broken_image=True,
        ),
        Case(
            "wrong_prefix",
            "DCC prefix HC1: instead of LZ1:.",
            {
                **stages(
                    unprefix=False, base45_decode=False, cose_decode=False, claims_decode=False
                ),
                **FMT,
            },
            claims(),
            mutate_text=lambda t: "HC1:" + t[len(PREFIX) :],
        ),
        Case(
            "bad_base45",
            "A lower-case letter (outside the Base45 alphabet).",
            {**stages(base45_decode=False, cose_decode=False, claims_decode=False), **FMT},
            claims(),
            mutate_text=lambda t: t[:10] + "a" + t[11:],
        ),
        Case(
            "der_signature",
            "SM2 signature in DER instead of raw r||s.",
            {**stages(cose_decode=False, claims_decode=False), **FMT},
            claims(),
            cose_kw={"signature": lambda der: der},
        ),
        Case(
            "overlong_signature",
            "A 1000-byte signature must be refused, not crash.",
            {**stages(cose_decode=False, claims_decode=False), **FMT},
            claims(),
            cose_kw={"signature": lambda der: sm2.der_to_raw(der) + b"\xa5" * 936},
        ),
        Case(
            "wrong_algorithm",
            "Header says ES256, signer key is SM2: algorithm confusion.",
            outcome("TOTAL_FAILED", "SIG_CRYPTO_FAILURE"),
            claims(),
            cose_kw={"alg": ALG_ES256},
        ),
        Case(
            "unsupported_algorithm",
            "EdDSA (-8) is not accepted.",
            {**stages(cose_decode=False, claims_decode=False), **FMT},
            claims(),
            cose_kw={"alg": -8},
        ),
        Case(
            "kid_7_bytes",
            "kid of 7 bytes.",
            {**stages(cose_decode=False, claims_decode=False), **FMT},
            claims(),
            cose_kw={"kid": bytes(7)},
        ),
        Case(
            "kid_9_bytes",
            "kid of 9 bytes.",
            {**stages(cose_decode=False, claims_decode=False), **FMT},
            claims(),
            cose_kw={"kid": bytes(9)},
        ),
        Case(
            "kid_in_unprotected_header",
            "kid moved to the unprotected header.",
            {**stages(cose_decode=False, claims_decode=False), **FMT},
            claims(),
            cose_kw={"unprotected": {4: b"12345678"}},
        ),
        Case(
            "clock_before_iat",
            "Validation clock 10 minutes before iat.",
            outcome("INDETERMINATE", "NOT_YET_VALID"),
            claims(),
            clock=CLOCK - timedelta(minutes=10),
        ),
        Case(
            "clock_after_exp",
            "Validation clock 5 minutes after exp.",
            outcome("TOTAL_FAILED", "EXPIRED"),
            claims(),
            clock=CLOCK + timedelta(minutes=5),
        ),
        Case(
            "within_clock_skew",
            "20 s after exp: inside the 30 s skew allowance.",
            ok(),
            claims(),
            clock=CLOCK + timedelta(seconds=70),
        ),
        Case(
            "replayed_jti",
            "Online: this jti was already presented.",
            outcome("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE"),
            claims(),
            online={"live": "VALID", "seen": ["5a17c0de0000000000000001"]},
        ),
        Case(
            "revoked_licence",
            "Status list marks index 123 revoked.",
            outcome("TOTAL_FAILED", "REVOKED"),
            claims(),
            status={"revoked": (123,)},
        ),
        Case(
            "suspended_licence",
            "Status list marks index 123 suspended.",
            outcome("INDETERMINATE", "TRY_LATER"),
            claims(),
            status={"suspended": (123,)},
        ),
        Case(
            "revoked_live",
            "Online: the registry says revoked.",
            outcome("TOTAL_FAILED", "REVOKED"),
            claims(),
            online={"live": "REVOKED", "seen": []},
        ),
        Case(
            "stale_status_list",
            "Status list issued 3 days before the clock (max 24 h).",
            outcome("INDETERMINATE", "TRY_LATER"),
            claims(),
            status={"issued_at": CLOCK - timedelta(days=3)},
        ),
        Case(
            "future_status_list",
            "Status list dated one hour in the future.",
            outcome("INDETERMINATE", "TRY_LATER"),
            claims(),
            status={"issued_at": CLOCK + timedelta(hours=1)},
        ),
        Case(
            "stale_trust_list",
            "Trust list issued 30 days before the clock (max 7 days).",
            outcome("INDETERMINATE", "TRY_LATER"),
            claims(),
            trust={
                "issued_at": CLOCK - timedelta(days=30),
                "next_update": CLOCK + timedelta(days=1),
            },
        ),
        Case(
            "tampered_payload",
            "Status index changed after signing.",
            outcome("TOTAL_FAILED", "SIG_CRYPTO_FAILURE"),
            tamper_payload,
            mutate_cose=lambda blob: _swap_payload(
                blob, replace(tamper_payload, status_index=124).to_cbor()
            ),
        ),
        Case(
            "unknown_issuer",
            "Signed by a CA absent from the trust list.",
            outcome("INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND"),
            claims(issuer=ISSUER_X),
            signer="rogue_signer",
        ),
        Case(
            "issuer_mismatch",
            "A listed Guangdong signer signs a token naming Shanghai.",
            outcome("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE"),
            claims(),
            signer="token_signer_b",
        ),
        Case(
            "expired_signer_certificate",
            "Signer certificate expired before iat.",
            outcome("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE"),
            claims(),
            signer="expired_signer",
        ),
        Case(
            "licence_expired",
            "Licence validity ended 2026-05-31.",
            outcome("TOTAL_FAILED", "EXPIRED"),
            claims(valid_from=date(2021, 6, 1), valid_until=date(2026, 5, 31)),
        ),
        Case(
            "unmasked_holder_name",
            "Full holder name in the payload must be refused.",
            {**stages(claims_decode=False), **FMT},
            None,
            raw_payload=cbor2.dumps({**payload_map(claims()), -4: "张三明"}, canonical=True),
        ),
        Case(
            "missing_status_list",
            "The token names a status list the verifier lacks.",
            outcome("INDETERMINATE", "TRY_LATER"),
            claims(status_list="SH-2026-9"),
        ),
    ]


def _swap_payload(blob: bytes, payload: bytes) -> bytes:
    tag = cbor2.loads(blob)
    protected, unprotected, _, sig = tag.value
    return cbor2.dumps(cbor2.CBORTag(18, [protected, dict(unprotected), payload, sig]))


def render(case: Case, pki: testpki.Pki) -> dict[str, Any]:
    signer: Party = getattr(pki, case.signer)
    payload = case.raw_payload if case.raw_payload is not None else case.payload.to_cbor()  # type: ignore[union-attr]
    blob = cose(payload, signer, **case.cose_kw)
    if case.mutate_cose:
        blob = case.mutate_cose(blob)
        payload = cbor2.loads(blob).value[2]
    text = PREFIX + base45.encode(blob)
    if case.mutate_text:
        text = case.mutate_text(text)
    png = to_png(text)
    if case.broken_image:
        png = png[: len(png) // 2]
    trust_list = pki.trust_list(**case.trust)
    status_list = pki.status_list(**case.status)
    return {
        "case": case.name,
        "description": case.description,
        "payload": None if case.payload is None else Claims.from_cbor(payload).to_dict(),
        "cbor_hex": payload.hex(),
        "cose_hex": blob.hex(),
        "base45": text[len(PREFIX) :] if text.startswith(PREFIX) else None,
        "prefixed": text,
        "png_base64": b64(png),
        "context": {
            "validation_clock": case.clock.isoformat(),
            "signer_certificate": b64(signer.cert),
            "trust_list_anchor": b64(pki.operator.cert),
            "trust_list": b64(trust_list.sign(pki.operator.key, pki.operator.cert)),
            "status_list": b64(status_list.sign(pki.status_signer.key, pki.status_signer.cert)),
            "online": case.online,
        },
        "expected": case.expected,
    }


def write_vectors(out: Path) -> list[Path]:
    """Write every case to ``out`` (replacing old *.json there); same bytes on every run."""
    pki = testpki.build(deterministic=True)
    for old in out.glob("*.json"):
        old.unlink()
    written = []
    for case in cases():
        data = render(case, pki)
        path = out / f"{case.name}.json"
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    assert LicenceStatus.VALID.value == 0
    return written


def main() -> None:
    write_vectors(HERE)


if __name__ == "__main__":
    main()
