"""One wrong field at a time: each must fail exactly its own check.

Tampered seals and signatures are re-signed with the right key (see
``tests.seal_certs.resign_*``), so a failure can only come from the field
under test and never from a broken signature.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import core

from tests.seal_certs import (
    DOCUMENT,
    SEAL_END,
    SEAL_START,
    T0,
    CaChain,
    Issued,
    Kit,
    issue,
    make_kit,
    resign_seal,
    resign_signature,
)
from trust import oids
from trust.errors import TrustError
from trust.indications import Indication, SubIndication
from trust.seal import (
    CertListType,
    Outcome,
    SealFormatError,
    SealResult,
    SealSignatureResult,
    asn1,
    parse_seal,
    parse_seal_signature,
    unsafe_accept_any_chain,
    verify_seal,
    verify_seal_signature,
)
from trust.sm3 import sm3


@pytest.fixture(scope="module")
def kit() -> Kit:
    return make_kit("sm2")


def _failed(result: SealResult | SealSignatureResult) -> set[str]:
    return {c.name for c in result.checks if not c.passed}


def _verify_sig(kit: Kit, sig: bytes, **kw: object) -> SealSignatureResult:
    kw.setdefault("data", DOCUMENT)
    return verify_seal_signature(sig, T0, chain_validator=CaChain(kit.maker), **kw)  # type: ignore[arg-type]


def test_bad_maker_signature(kit: Kit) -> None:
    seal = asn1.SESeal.load(kit.seal())
    value = bytearray(seal["signedValue"].native)
    value[10] ^= 0x01
    seal["signedValue"] = bytes(value)
    result = verify_seal(seal.dump(force=True), T0, chain_validator=CaChain(kit.maker))
    assert _failed(result) == {"seal.maker_signature"}
    assert result.sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_seal_info_changed_after_signing(kit: Kit) -> None:
    seal = asn1.SESeal.load(kit.seal())
    seal["eSealInfo"]["property"]["name"] = "伪造局"
    result = verify_seal(seal.dump(force=True), T0, chain_validator=CaChain(kit.maker))
    assert _failed(result) == {"seal.maker_signature"}


def test_maker_signature_by_another_key(kit: Kit) -> None:
    forged = resign_seal(kit.seal(), kit.outsider.key, lambda s: None)
    result = verify_seal(forged, T0, chain_validator=CaChain(kit.maker))
    assert _failed(result) == {"seal.maker_signature"}


@pytest.mark.parametrize(
    ("at", "sub"),
    [
        (SEAL_START - timedelta(seconds=1), SubIndication.NOT_YET_VALID),
        (SEAL_END + timedelta(seconds=1), SubIndication.EXPIRED),
    ],
)
def test_seal_outside_validity_window(kit: Kit, at: datetime, sub: SubIndication) -> None:
    result = verify_seal(kit.seal(), at, chain_validator=unsafe_accept_any_chain)
    assert _failed(result) == {"seal.validity"}
    assert result.indication is Indication.TOTAL_FAILED and result.sub_indication is sub
    assert verify_seal(kit.seal(), SEAL_START, chain_validator=unsafe_accept_any_chain).passed
    assert verify_seal(kit.seal(), SEAL_END, chain_validator=unsafe_accept_any_chain).passed


def test_signature_made_outside_the_seal_window(kit: Kit) -> None:
    late = SEAL_END + timedelta(days=1)
    sig = resign_signature(
        kit.signature(kit.seal()),
        kit.signer.key,
        lambda s: s["toSign"].__setitem__("timeInfo", late),
    )
    result = verify_seal_signature(
        sig, late + timedelta(days=1), data=DOCUMENT, chain_validator=unsafe_accept_any_chain
    )
    assert _failed(result) == {"seal.validity"}
    assert result.check("seal.validity").sub_indication is SubIndication.EXPIRED


@pytest.mark.parametrize("kind", list(CertListType))
def test_signer_not_in_cert_list(kit: Kit, kind: CertListType) -> None:
    sig = resign_signature(
        kit.signature(kit.seal(kind)),
        kit.outsider.key,
        lambda s: s.__setitem__("cert", kit.outsider.cert),
    )
    result = _verify_sig(kit, sig)
    assert _failed(result) == {"signature.signer_listed"}
    assert result.check("signature.value").passed
    assert result.indication is Indication.TOTAL_FAILED


def test_digest_list_with_unknown_digest_type_does_not_match(kit: Kit) -> None:
    seal = kit.seal(CertListType.DIGESTS, digest_type="sha256")
    assert _verify_sig(kit, kit.signature(seal)).passed  # sha256 digests are understood

    def rename(s: asn1.SESeal) -> None:
        for entry in s["eSealInfo"]["property"]["certList"]:
            entry["type"] = "md5"

    renamed = resign_seal(seal, kit.maker.key, rename)
    sig = resign_signature(
        kit.signature(seal),
        kit.signer.key,
        lambda s: s["toSign"].__setitem__("eseal", asn1.SESeal.load(renamed)),
    )
    assert _failed(_verify_sig(kit, sig)) == {"signature.signer_listed"}


def test_wrong_data_hash(kit: Kit) -> None:
    sig = kit.signature(kit.seal())
    result = _verify_sig(kit, sig, data=DOCUMENT + b"!")
    assert _failed(result) == {"signature.data_hash"}
    assert result.sub_indication is SubIndication.HASH_FAILURE
    assert _failed(_verify_sig(kit, sig, data=None, data_hash=sm3(b"other"))) == {
        "signature.data_hash"
    }


def test_tampered_data_hash_breaks_the_signature(kit: Kit) -> None:
    sig = asn1.SES_Signature.load(kit.signature(kit.seal()))
    sig["toSign"]["dataHash"] = sm3(b"other")
    result = _verify_sig(kit, sig.dump(force=True), data=b"other")
    assert _failed(result) == {"signature.value"}


@pytest.mark.parametrize("oid", [oids.RSA_WITH_SM3, "1.2.840.10045.4.3.2", "1.2.3.4"])
def test_unexpected_maker_algorithm_oid(kit: Kit, oid: str) -> None:
    der = resign_seal(kit.seal(), kit.maker.key, lambda s: s.__setitem__("signAlgID", oid))
    result = verify_seal(der, T0, chain_validator=CaChain(kit.maker))
    assert "seal.algorithm" in _failed(result)
    assert result.check("seal.algorithm").sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE


def test_ecdsa_seal_verifies_cryptographically_but_is_refused_by_default() -> None:
    ecdsa = make_kit("ecdsa-p256", signer_algorithm="ecdsa-p256")
    seal = ecdsa.seal()
    refused = verify_seal(seal, T0, chain_validator=CaChain(ecdsa.maker))
    assert _failed(refused) == {"seal.algorithm", "seal.maker_signature"}
    allowed = verify_seal(
        seal, T0, chain_validator=CaChain(ecdsa.maker), accepted_algorithms={"1.2.840.10045.4.3.2"}
    )
    assert allowed.passed, allowed.summary


def test_unexpected_signature_algorithm_oid(kit: Kit) -> None:
    sig = resign_signature(
        kit.signature(kit.seal()),
        kit.signer.key,
        lambda s: s.__setitem__("signatureAlgID", oids.RSA_WITH_SM3),
    )
    result = _verify_sig(kit, sig)
    assert {"signature.algorithm", "signature.value"} == _failed(result)


@pytest.mark.parametrize(("field", "value"), [("ID", "EX"), ("version", 3), ("version", 1)])
def test_wrong_header(kit: Kit, field: str, value: object) -> None:
    der = resign_seal(
        kit.seal(), kit.maker.key, lambda s: s["eSealInfo"]["header"].__setitem__(field, value)
    )
    result = verify_seal(der, T0, chain_validator=CaChain(kit.maker))
    assert _failed(result) == {"seal.header"}
    assert result.sub_indication is SubIndication.FORMAT_FAILURE


def test_tbs_version_differs_from_seal(kit: Kit) -> None:
    sig = resign_signature(
        kit.signature(kit.seal()), kit.signer.key, lambda s: s["toSign"].__setitem__("version", 3)
    )
    assert _failed(_verify_sig(kit, sig)) == {"signature.version"}


def test_truncated_der_gives_typed_errors(kit: Kit) -> None:
    seal = kit.seal()
    sig = kit.signature(seal)
    for der, parse in ((seal, parse_seal), (sig, parse_seal_signature)):
        for cut in [*range(0, 64), *range(64, len(der), 97), len(der) - 1]:
            with pytest.raises(SealFormatError):
                parse(der[:cut])
    result = verify_seal(seal[:-1], T0, chain_validator=unsafe_accept_any_chain)
    assert _failed(result) == {"seal.format"} and result.facts is None
    bad = verify_seal_signature(
        sig[:100], T0, data=DOCUMENT, chain_validator=unsafe_accept_any_chain
    )
    assert _failed(bad) == {"signature.format"}
    assert bad.sub_indication is SubIndication.FORMAT_FAILURE


def test_trailing_bytes_and_ber_are_refused(kit: Kit) -> None:
    seal = kit.seal()
    with pytest.raises(SealFormatError):
        parse_seal(seal + b"\x00")
    # Same content with a non-minimal (long-form) outer length: BER, not DER.
    body = core.load(seal).contents
    ber = b"\x30\x84" + len(body).to_bytes(4, "big") + body
    assert core.load(ber).native is not None  # a lenient decoder takes it
    with pytest.raises(SealFormatError, match="not DER"):
        parse_seal(ber)


def test_unknown_cert_list_type(kit: Kit) -> None:
    seal = asn1.SESeal.load(kit.seal())
    raw = bytearray(seal.dump())
    prop = seal["eSealInfo"]["property"].dump()
    patched = prop.replace(b"\x02\x01\x01\x30", b"\x02\x01\x03\x30", 1)  # certListType 1 -> 3
    assert patched != prop
    start = raw.find(prop)
    raw[start : start + len(prop)] = patched
    with pytest.raises(SealFormatError):
        parse_seal(bytes(raw))


def test_local_time_without_offset_is_refused(kit: Kit) -> None:
    seal = asn1.SESeal.load(kit.seal())
    seal["eSealInfo"]["property"]["validEnd"] = core.GeneralizedTime.load(
        b"\x18\x0e20270101000000"  # local time: no "Z", no offset
    )
    der = seal.dump()
    assert b"20270101000000Z" not in der and b"20270101000000" in der
    with pytest.raises(SealFormatError, match=r"timezone|validEnd"):
        parse_seal(der)


def test_non_ascii_ia5_string_is_refused(kit: Kit) -> None:
    der = kit.seal()
    assert der.count(b"11010500000001") == 1
    with pytest.raises(SealFormatError):
        parse_seal(der.replace(b"11010500000001", "1101050000000é".encode("latin-1")))


def test_maker_chain_rejected_or_erroring(kit: Kit) -> None:
    stranger = issue("Stranger CA", ca=True)
    result = verify_seal(kit.seal(), T0, chain_validator=CaChain(stranger))
    assert _failed(result) == {"seal.maker_chain"}
    assert result.indication is Indication.INDETERMINATE
    assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND

    def broken(cert: bytes, at: datetime) -> Outcome:
        raise TrustError("CRL unreachable", code="trust.crl_unreachable")

    errored = verify_seal(kit.seal(), T0, chain_validator=broken)
    assert _failed(errored) == {"seal.maker_chain"}
    assert "trust.crl_unreachable" in errored.check("seal.maker_chain").detail


def test_signer_certificate_expired_at_signing_time(kit: Kit) -> None:
    short: Issued = issue(
        "Short-lived",
        issuer=kit.maker,
        not_before=datetime(2026, 1, 1, tzinfo=UTC),
        not_after=datetime(2026, 2, 1, tzinfo=UTC),
    )
    seal = kit.seal(certificates=[kit.signer.cert, short.cert])
    sig = resign_signature(
        kit.signature(seal),
        short.key,
        lambda s: s.__setitem__("cert", short.cert),
    )
    result = _verify_sig(kit, sig)  # timeInfo T0 is 2026-03-01, after not_after
    assert _failed(result) == {"signature.signer_validity"}
    assert result.check("signature.signer_validity").sub_indication is SubIndication.EXPIRED


def test_signing_time_after_validation_time(kit: Kit) -> None:
    sig = kit.signature(kit.seal())
    result = verify_seal_signature(
        sig, T0 - timedelta(minutes=1), data=DOCUMENT, chain_validator=unsafe_accept_any_chain
    )
    assert _failed(result) == {"signature.signing_time"}
    assert result.indication is Indication.INDETERMINATE


def test_malformed_signer_certificate(kit: Kit) -> None:
    sig = asn1.SES_Signature.load(kit.signature(kit.seal()))
    sig["cert"] = b"not a certificate"
    result = _verify_sig(kit, sig.dump(force=True))
    assert "signature.value" in _failed(result)
    assert result.check("signature.value").sub_indication is SubIndication.FORMAT_FAILURE


def test_every_byte_of_seal_and_signature_is_protected(kit: Kit) -> None:
    """Flip one bit in every 5th byte: with both chains validated, nothing may still pass.

    (Every byte takes ~8 s; the stride keeps the suite fast and the fuzz tests
    cover random positions.)
    """
    seal = kit.seal()
    sig = kit.signature(seal)
    chain = CaChain(kit.maker)
    for i in range(0, len(seal), 5):
        bad = bytearray(seal)
        bad[i] ^= 1 << (i % 8)
        assert not verify_seal(bytes(bad), T0, chain_validator=chain).passed, i
    for i in range(2, len(sig), 5):
        bad = bytearray(sig)
        bad[i] ^= 1 << (i % 8)
        result = verify_seal_signature(
            bytes(bad), T0, data=DOCUMENT, chain_validator=chain, signer_chain_validator=chain
        )
        assert not result.passed, i
