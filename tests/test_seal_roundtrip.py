"""GB/T 38540 V4 seals and seal signatures: build, parse, verify, and independent checks.

Independent oracles: asn1crypto's generic ``core.load`` and ``openssl
asn1parse`` for the structure, the openssl CLI and gmssl for SM2 signatures
over the exact DER bytes, ``cryptography`` for RSA, gmssl's SM3 for dataHash.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import core, parser
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from gmssl import func as gm_func
from gmssl import sm3 as gm_sm3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gmssl_oracle import crypt_sm2
from tests.seal_certs import (
    DOCUMENT,
    PICTURE,
    SEAL_END,
    SEAL_START,
    T0,
    CaChain,
    Kit,
    make_kit,
    resign_seal,
)
from tests.support import require
from trust import oids, sm2
from trust.errors import InputError
from trust.indications import Indication, SubIndication
from trust.seal import (
    CertListType,
    Extension,
    Outcome,
    SealBuildError,
    SealPicture,
    asn1,
    parse_seal,
    parse_seal_signature,
    sign_with_seal,
    unsafe_accept_any_chain,
    verify_seal,
    verify_seal_signature,
)
from trust.sm3 import sm3


@pytest.fixture(scope="module")
def kit() -> Kit:
    return make_kit("sm2")


@pytest.fixture(scope="module")
def rsa_kit() -> Kit:
    return make_kit("rsa-2048", signer_algorithm="rsa-2048")


@pytest.fixture(scope="module")
def openssl() -> str:
    path = shutil.which("openssl")
    require(path is not None, "openssl CLI not installed")
    assert path is not None
    return path


def _pem(der: bytes, label: str) -> str:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _openssl_sm2_verify(openssl: str, tmp: Path, spki: bytes, msg: bytes, sig: bytes) -> bool:
    (tmp / "pub.pem").write_text(_pem(spki, "PUBLIC KEY"))
    (tmp / "msg").write_bytes(msg)
    (tmp / "sig").write_bytes(sig)
    out = subprocess.run(
        [
            openssl,
            "dgst",
            "-sm3",
            "-verify",
            str(tmp / "pub.pem"),
            "-sigopt",
            "distid:1234567812345678",
            "-signature",
            str(tmp / "sig"),
            str(tmp / "msg"),
        ],
        capture_output=True,
        timeout=30,
    )
    return out.returncode == 0 and b"Verified OK" in out.stdout


def _gmssl_verify(spki: bytes, msg: bytes, sig_der: bytes) -> bool:
    point = asn1_keys.PublicKeyInfo.load(spki)["public_key"].native
    r, s = sm2.decode_der(sig_der)
    crypt = crypt_sm2(point)
    return bool(crypt.verify_with_sm3(f"{r:064x}{s:064x}", msg))


def _members(der: bytes) -> list[core.Asn1Value]:
    """Top-level members through asn1crypto's generic parser (no seal classes)."""
    outer = core.load(der)
    assert outer.dump(force=True) == der
    contents, out = outer.contents, []
    while contents:
        _cls, _method, _tag, header, body, trailer = parser.parse(contents)
        size = len(header) + len(body) + len(trailer)
        out.append(core.load(contents[:size]))
        contents = contents[size:]
    return out


@pytest.mark.parametrize("kind", list(CertListType))
def test_seal_round_trip_facts(kit: Kit, kind: CertListType) -> None:
    der = kit.seal(kind)
    seal = parse_seal(der)
    assert (seal.format_version, seal.header_id, seal.header_version) == (4, "ES", 4)
    assert seal.es_id == "11010500000001"
    assert seal.name == "北京市朝阳区市场监督管理局"
    assert seal.cert_list_type == int(kind)
    assert (seal.valid_start, seal.valid_end, seal.created) == (SEAL_START, SEAL_END, SEAL_START)
    assert seal.picture == PICTURE
    assert seal.maker_cert == kit.maker.cert
    assert seal.signature_algorithm == oids.SM2_WITH_SM3
    if kind is CertListType.CERTIFICATES:
        assert [e.certificate for e in seal.cert_list] == [kit.signer.cert, kit.other_signer.cert]
    else:
        expected = [
            gm_sm3.sm3_hash(gm_func.bytes_to_list(c))
            for c in (kit.signer.cert, kit.other_signer.cert)
        ]
        assert [(e.digest_type, (e.digest or b"").hex()) for e in seal.cert_list] == [
            ("sm3", h) for h in expected
        ]
    # Generic re-parse: four members, with the maker certificate and OID in place.
    members = _members(der)
    assert len(members) == 4
    assert members[1].native == kit.maker.cert
    assert members[2].dotted == oids.SM2_WITH_SM3


def test_openssl_asn1parse_accepts_seal_and_signature(
    kit: Kit, openssl: str, tmp_path: Path
) -> None:
    seal = kit.seal()
    for name, der in (("seal", seal), ("sig", kit.signature(seal))):
        (tmp_path / name).write_bytes(der)
        out = subprocess.run(
            [openssl, "asn1parse", "-inform", "DER", "-in", str(tmp_path / name)],
            capture_output=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert b"GENERALIZEDTIME" in out.stdout


def test_maker_signature_is_sm2_over_der_sealinfo(kit: Kit, openssl: str, tmp_path: Path) -> None:
    der = kit.seal()
    sealinfo, _, _, signed = _members(der)
    signature = signed.contents[1:]  # BIT STRING: drop the unused-bits byte
    spki = kit.maker.key.public_key_der()
    assert _openssl_sm2_verify(openssl, tmp_path, spki, sealinfo.dump(), signature)
    assert _gmssl_verify(spki, sealinfo.dump(), signature)
    assert not _openssl_sm2_verify(openssl, tmp_path, spki, sealinfo.dump() + b"x", signature)


def test_rsa_maker_signature_checked_by_cryptography(rsa_kit: Kit) -> None:
    der = rsa_kit.seal()
    sealinfo, _, alg, signed = _members(der)
    assert alg.dotted == "1.2.840.113549.1.1.11"
    public = serialization.load_der_public_key(rsa_kit.maker.key.public_key_der())
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signed.contents[1:], sealinfo.dump(), padding.PKCS1v15(), hashes.SHA256())
    result = verify_seal(der, T0, chain_validator=CaChain(rsa_kit.maker))
    assert result.passed, result.summary


def test_seal_verifies_with_named_checks(kit: Kit) -> None:
    chain = CaChain(kit.maker)
    result = verify_seal(kit.seal(), T0, chain_validator=chain)
    assert result.passed, result.summary
    assert result.indication is Indication.TOTAL_PASSED
    assert [c.name for c in result.checks] == [
        "seal.format",
        "seal.header",
        "seal.algorithm",
        "seal.maker_signature",
        "seal.maker_chain",
        "seal.validity",
    ]
    assert chain.calls == [(kit.maker.cert, T0)]
    assert result.facts is not None
    assert result.facts.maker_signed_form == "SES_SealInfo"
    assert result.facts.maker_subject is not None and "Seal Maker CA" in result.facts.maker_subject
    assert "Signer One" in result.facts.cert_list[0]
    assert (result.facts.picture_type, result.facts.picture_bytes) == ("png", len(PICTURE.data))
    report = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert report["indication"] == "TOTAL_PASSED"
    assert report["seal"]["name"] == "北京市朝阳区市场监督管理局"


@pytest.mark.parametrize("kind", list(CertListType))
def test_seal_signature_round_trip_and_verify(kit: Kit, kind: CertListType) -> None:
    seal_der = kit.seal(kind)
    sig_der = kit.signature(seal_der)
    sig = parse_seal_signature(sig_der)
    assert sig.seal.der == seal_der  # the seal is embedded byte for byte
    assert sig.time_info == T0
    assert sig.data_hash.hex() == gm_sm3.sm3_hash(gm_func.bytes_to_list(DOCUMENT))
    assert sig.signer_cert == kit.signer.cert
    assert sig.timestamp is None
    generic = _members(sig_der)
    assert len(generic) == 4
    assert generic[0].dump() == sig.signed_message

    for data, data_hash in ((DOCUMENT, None), (None, sm3(DOCUMENT))):
        result = verify_seal_signature(
            sig_der,
            T0 + timedelta(days=1),
            data=data,
            data_hash=data_hash,
            chain_validator=CaChain(kit.maker),
            signer_chain_validator=CaChain(kit.maker),
        )
        assert result.passed, result.summary
        names = {c.name for c in result.checks}
        assert {
            "signature.value",
            "signature.signer_listed",
            "signature.data_hash",
            "signature.signer_validity",
            "signature.signer_chain",
            "seal.maker_signature",
            "seal.validity",
            "signature.version",
            "signature.algorithm",
        } <= names
    assert result.facts is not None and result.facts.signing_time == T0
    json.dumps(result.to_dict(), ensure_ascii=False)


def test_signature_value_checked_by_openssl(kit: Kit, openssl: str, tmp_path: Path) -> None:
    sig_der = kit.signature(kit.seal())
    tbs, _cert, alg, value = _members(sig_der)
    assert alg.dotted == oids.SM2_WITH_SM3
    assert _openssl_sm2_verify(
        openssl, tmp_path, kit.signer.key.public_key_der(), tbs.dump(), value.contents[1:]
    )


def test_v1_style_maker_signature_is_accepted(kit: Kit) -> None:
    class SignedV1Form(core.Sequence):
        _fields = [("info", core.Any), ("cert", core.OctetString), ("alg", core.ObjectIdentifier)]

    seal = asn1.SESeal.load(kit.seal())
    message = SignedV1Form(
        {
            "info": core.Any.load(seal["eSealInfo"].dump()),
            "cert": kit.maker.cert,
            "alg": oids.SM2_WITH_SM3,
        }
    ).dump()
    seal["signedValue"] = kit.maker.key.sign(message)
    result = verify_seal(seal.dump(force=True), T0, chain_validator=CaChain(kit.maker))
    assert result.passed, result.summary
    assert result.facts is not None
    assert result.facts.maker_signed_form == "SEQUENCE{sealInfo,cert,algID}"


def test_algorithm_oids_501_and_301_1_are_both_accepted(kit: Kit) -> None:
    for oid in (oids.SM2_WITH_SM3, oids.SM2_1_SIGN):

        def set_oid(seal: asn1.SESeal, oid: str = oid) -> None:
            seal["signAlgID"] = oid

        der = resign_seal(kit.seal(), kit.maker.key, set_oid)
        result = verify_seal(der, T0, chain_validator=CaChain(kit.maker))
        assert result.passed, (oid, result.summary)


def test_timestamp_embedded_and_validated(kit: Kit) -> None:
    seen: list[tuple[bytes, bytes]] = []
    sig_der = sign_with_seal(
        kit.seal(),
        kit.signer.key,
        kit.signer.cert,
        sm3(DOCUMENT),
        "doc",
        T0,
        timestamper=lambda value: b"TST" + sm3(value),
    )
    sig = parse_seal_signature(sig_der)
    assert sig.timestamp == b"TST" + sm3(sig.signature)

    def stamp_ok(token: bytes, value: bytes) -> Outcome:
        seen.append((token, value))
        ok = token == b"TST" + sm3(value)
        return Outcome(
            Indication.TOTAL_PASSED if ok else Indication.TOTAL_FAILED,
            None if ok else SubIndication.HASH_FAILURE,
        )

    result = verify_seal_signature(
        sig_der, T0, data=DOCUMENT, chain_validator=CaChain(kit.maker), timestamp_validator=stamp_ok
    )
    assert result.passed and result.check("signature.timestamp").passed
    assert seen == [(sig.timestamp, sig.signature)]
    assert result.facts is not None and result.facts.timestamp_present

    def stamp_bad(token: bytes, value: bytes) -> Outcome:
        return Outcome(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, "imprint mismatch")

    bad = verify_seal_signature(
        sig_der,
        T0,
        data=DOCUMENT,
        chain_validator=CaChain(kit.maker),
        timestamp_validator=stamp_bad,
    )
    assert bad.indication is Indication.TOTAL_FAILED
    assert bad.check("signature.timestamp").sub_indication is SubIndication.HASH_FAILURE


def test_extensions_round_trip(kit: Kit) -> None:
    exts = [Extension("1.2.156.112562.99.1", True, b"\x04\x02hi"), Extension("1.2.3.4", False, b"")]
    seal = parse_seal(kit.seal(extensions=exts))
    assert seal.extensions == tuple(exts)
    assert verify_seal(seal.der, T0, chain_validator=unsafe_accept_any_chain).passed


def test_trusted_maker_pinning(kit: Kit, rsa_kit: Kit) -> None:
    der = kit.seal()
    ok = verify_seal(
        der,
        T0,
        chain_validator=unsafe_accept_any_chain,
        trusted_makers=[rsa_kit.maker.cert, kit.maker.cert],
    )
    assert ok.check("seal.maker_pinned").passed
    bad = verify_seal(
        der, T0, chain_validator=unsafe_accept_any_chain, trusted_makers=[rsa_kit.maker.cert]
    )
    assert bad.check("seal.maker_pinned").failed and not bad.passed


def test_naive_times_are_refused(kit: Kit) -> None:
    der = kit.seal()
    with pytest.raises(InputError):
        verify_seal(der, T0.replace(tzinfo=None), chain_validator=unsafe_accept_any_chain)
    with pytest.raises(InputError):
        verify_seal_signature(
            kit.signature(der),
            T0.replace(tzinfo=None),
            data=DOCUMENT,
            chain_validator=unsafe_accept_any_chain,
        )
    with pytest.raises(SealBuildError):
        kit.seal(valid_start=SEAL_START.replace(tzinfo=None))
    with pytest.raises(SealBuildError):
        sign_with_seal(
            der, kit.signer.key, kit.signer.cert, sm3(DOCUMENT), "d", T0.replace(tzinfo=None)
        )


def test_exactly_one_of_data_and_hash(kit: Kit) -> None:
    sig = kit.signature(kit.seal())
    for kwargs in ({}, {"data": DOCUMENT, "data_hash": sm3(DOCUMENT)}):
        with pytest.raises(InputError):
            verify_seal_signature(sig, T0, chain_validator=unsafe_accept_any_chain, **kwargs)  # type: ignore[arg-type]


def test_builders_refuse_what_verification_would_reject(kit: Kit) -> None:
    seal = kit.seal()
    with pytest.raises(SealBuildError) as not_listed:
        sign_with_seal(seal, kit.outsider.key, kit.outsider.cert, sm3(b"x"), "d", T0)
    assert not_listed.value.code == "seal.build.signer_not_listed"
    with pytest.raises(SealBuildError) as expired:
        kit.signature(seal, at=SEAL_END + timedelta(seconds=1))
    assert expired.value.code == "seal.build.seal_not_valid"
    with pytest.raises(SealBuildError) as mismatch:
        sign_with_seal(seal, kit.other_signer.key, kit.signer.cert, sm3(b"x"), "d", T0)
    assert mismatch.value.code == "seal.build.key_mismatch"
    with pytest.raises(SealBuildError):
        sign_with_seal(seal, kit.signer.key, kit.signer.cert, b"short", "d", T0)
    with pytest.raises(SealBuildError):
        kit.seal(maker_key=kit.signer.key)
    with pytest.raises(SealBuildError):
        kit.seal(valid_start=SEAL_END, valid_end=SEAL_START)
    with pytest.raises(SealBuildError):
        kit.seal(certificates=[])
    with pytest.raises(SealBuildError):
        kit.seal(es_id="印章")


_printable_ascii = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=30).filter(
        lambda s: s.strip() != ""
    ),
    es_id=_printable_ascii,
    seal_type=st.integers(-(2**63), 2**63),
    size=st.tuples(st.integers(1, 10**6), st.integers(1, 10**6)),
    picture=st.binary(min_size=1, max_size=300),
    start=st.datetimes(
        min_value=datetime(1950, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_field_values_round_trip(
    kit: Kit,
    name: str,
    es_id: str,
    seal_type: int,
    size: tuple[int, int],
    picture: bytes,
    start: datetime,
) -> None:
    der = kit.seal(
        name=name,
        es_id=es_id,
        seal_type=seal_type,
        created=start,
        valid_start=start,
        valid_end=start + timedelta(days=1),
        picture=SealPicture("png", picture, *size),
    )
    seal = parse_seal(der)
    assert (seal.name, seal.es_id, seal.seal_type) == (name, es_id, seal_type)
    assert seal.picture == SealPicture("png", picture, *size)
    assert seal.valid_start == start.replace(microsecond=0)
    assert verify_seal(der, seal.valid_start, chain_validator=unsafe_accept_any_chain).passed


@pytest.mark.parametrize("kind", list(CertListType))
def test_seal_lists_exactly_its_certificates(kit: Kit, kind: CertListType) -> None:
    seal = parse_seal(kit.seal(kind))
    assert seal.lists(kit.signer.cert) and seal.lists(kit.other_signer.cert)
    assert not seal.lists(kit.outsider.cert)
    assert not seal.lists(kit.signer.cert[:-1])
