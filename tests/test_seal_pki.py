"""Seals judged with the real PKI (trust.pki) through the injected chain-validator hook.

This is the adapter the verification layer is expected to write: the seal
package hands over (certificate DER, time) and gets back an ETSI outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.seal_certs import DOCUMENT, PICTURE
from trust.indications import SubIndication
from trust.pki import EKU_SEAL_MAKING, DemoPKI, build_demo_pki, parse_cached, validate_chain
from trust.seal import (
    ChainValidator,
    Outcome,
    make_seal,
    sign_with_seal,
    verify_seal,
    verify_seal_signature,
)
from trust.sm3 import sm3

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def pki_validator(pki: DemoPKI, eku: str | None) -> ChainValidator:
    issuing = [pki.certificate(f"{alg}-issuing-ca") for alg in ("sm2", "rsa")]

    def validate(cert_der: bytes, at: datetime) -> Outcome:
        # Department signers chain through the issuing CAs (key roles).
        result = validate_chain(parse_cached(cert_der), issuing, pki.trust_anchors, at,
                                required_eku=eku)
        return Outcome(result.indication, result.sub_indication, result.message)

    return validate


@pytest.fixture(scope="module")
def pki() -> DemoPKI:
    return build_demo_pki(b"seal tests", NOW)


def _seal(pki: DemoPKI, alg: str, maker_role: str) -> bytes:
    return make_seal(
        es_id="11010500000009",
        seal_type=1,
        name="示例市市场监督管理局",
        certificates=[pki.certificate(f"{alg}-issuer").der],
        created=NOW,
        valid_start=NOW - timedelta(days=1),
        valid_end=NOW + timedelta(days=365),
        picture=PICTURE,
        maker_key=pki.key(f"{alg}-{maker_role}"),
        maker_cert=pki.certificate(f"{alg}-{maker_role}").der,
    )


@pytest.mark.parametrize("alg", ["sm2", "rsa"])
def test_seal_and_signature_with_demo_pki(pki: DemoPKI, alg: str) -> None:
    seal = _seal(pki, alg, "seal-maker")
    makers = pki_validator(pki, EKU_SEAL_MAKING)
    assert verify_seal(seal, NOW, chain_validator=makers).passed
    signed = sign_with_seal(
        seal,
        pki.key(f"{alg}-issuer"),
        pki.certificate(f"{alg}-issuer").der,
        sm3(DOCUMENT),
        "licence.pdf",
        NOW,
    )
    result = verify_seal_signature(
        signed,
        NOW + timedelta(hours=1),
        data=DOCUMENT,
        chain_validator=makers,
        signer_chain_validator=pki_validator(pki, None),
    )
    assert result.passed, result.summary
    assert result.check("signature.signer_chain").passed


def test_maker_without_seal_making_purpose_is_refused(pki: DemoPKI) -> None:
    seal = _seal(pki, "sm2", "issuer")  # a document signer posing as a seal maker
    result = verify_seal(seal, NOW, chain_validator=pki_validator(pki, EKU_SEAL_MAKING))
    assert [c.name for c in result.checks if not c.passed] == ["seal.maker_chain"]


def test_maker_certificate_expired(pki: DemoPKI) -> None:
    seal = _seal(pki, "sm2", "seal-maker")
    late = NOW + timedelta(days=5 * 365)
    result = verify_seal(seal, late, chain_validator=pki_validator(pki, EKU_SEAL_MAKING))
    failed = {c.name: c for c in result.checks if not c.passed}
    assert set(failed) == {"seal.maker_chain", "seal.validity"}
    assert failed["seal.maker_chain"].sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE
