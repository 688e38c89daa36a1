"""GM/T 0031-2014 (V1) seals and signatures are read and verified, never written.

The V1 structures here are assembled field by field from the standard's
layout (UTCTime, no certListType, maker cert and algorithm in SES_SignInfo,
signer cert and algorithm inside TBS_Sign, timeInfo a BIT STRING).
"""

from __future__ import annotations

import pytest
from asn1crypto import core

from tests.seal_certs import DOCUMENT, PICTURE, SEAL_END, SEAL_START, T0, CaChain, Kit, make_kit
from trust import oids
from trust.indications import Indication
from trust.seal import (
    SealBuildError,
    asn1,
    parse_seal,
    parse_seal_signature,
    sign_with_seal,
    verify_seal,
    verify_seal_signature,
)
from trust.sm3 import sm3


class _MakerSigned(core.Sequence):
    """What a V1 maker signs: SEQUENCE{sealInfo, cert, algID}."""

    _fields = [("info", core.Any), ("cert", core.OctetString), ("alg", core.ObjectIdentifier)]


@pytest.fixture(scope="module")
def kit() -> Kit:
    return make_kit("sm2")


def _v1_seal(kit: Kit, header_version: int = 2) -> bytes:
    info = asn1.SES_SealInfo_V1(
        {
            "header": {"ID": "ES", "version": header_version, "Vid": "LegacyVendor"},
            "esID": "V1-0001",
            "property": {
                "type": 1,
                "name": "旧版测试章",
                "certList": [kit.signer.cert],
                "createDate": SEAL_START,
                "validStart": SEAL_START,
                "validEnd": SEAL_END,
            },
            "picture": {"type": PICTURE.type, "data": PICTURE.data, "width": 40, "height": 40},
        }
    )
    message = _MakerSigned(
        {"info": core.Any.load(info.dump()), "cert": kit.maker.cert, "alg": oids.SM2_WITH_SM3}
    ).dump()
    seal = asn1.SESeal_V1(
        {
            "esealInfo": info,
            "signInfo": {
                "cert": kit.maker.cert,
                "signatureAlgorithm": oids.SM2_WITH_SM3,
                "signData": kit.maker.key.sign(message),
            },
        }
    )
    return bytes(seal.dump())


def _v1_signature(
    kit: Kit, seal: bytes, time_info: bytes = b"260301080000Z", version: int = 2
) -> bytes:
    tbs = asn1.TBS_Sign_V1(
        {
            "version": version,
            "eseal": asn1.SESeal_V1.load(seal),
            "timeInfo": time_info,
            "dataHash": sm3(DOCUMENT),
            "propertyInfo": "legacy.ofd",
            "cert": kit.signer.cert,
            "signatureAlgorithm": oids.SM2_WITH_SM3,
        }
    )
    sig = asn1.SES_Signature_V1({"toSign": tbs, "signature": kit.signer.key.sign(tbs.dump())})
    return bytes(sig.dump())


def test_v1_seal_is_read_and_verified(kit: Kit) -> None:
    der = _v1_seal(kit)
    seal = parse_seal(der)
    assert (seal.format_version, seal.header_version, seal.cert_list_type) == (1, 2, 1)
    assert seal.name == "旧版测试章" and seal.valid_end == SEAL_END
    result = verify_seal(der, T0, chain_validator=CaChain(kit.maker))
    assert result.passed, result.summary
    assert result.facts is not None
    assert result.facts.maker_signed_form == "SEQUENCE{sealInfo,cert,algID}"
    assert result.facts.format_version == 1


def test_v1_seal_tampered(kit: Kit) -> None:
    seal = asn1.SESeal_V1.load(_v1_seal(kit))
    seal["esealInfo"]["esID"] = "V1-0002"
    result = verify_seal(seal.dump(force=True), T0, chain_validator=CaChain(kit.maker))
    assert {c.name for c in result.checks if not c.passed} == {"seal.maker_signature"}


def test_v1_signature_is_read_and_verified(kit: Kit) -> None:
    sig_der = _v1_signature(kit, _v1_seal(kit))
    sig = parse_seal_signature(sig_der)
    assert (sig.format_version, sig.time_info, sig.property_info) == (1, T0, "legacy.ofd")
    result = verify_seal_signature(sig_der, T0, data=DOCUMENT, chain_validator=CaChain(kit.maker))
    assert result.passed, result.summary
    wrong = verify_seal_signature(sig_der, T0, data=b"x", chain_validator=CaChain(kit.maker))
    assert {c.name for c in wrong.checks if not c.passed} == {"signature.data_hash"}


def test_v1_time_stamp_time_info_is_indeterminate(kit: Kit) -> None:
    sig_der = _v1_signature(kit, _v1_seal(kit), time_info=b"\x30\x03\x02\x01\x01")
    assert parse_seal_signature(sig_der).time_info is None
    result = verify_seal_signature(sig_der, T0, data=DOCUMENT, chain_validator=CaChain(kit.maker))
    assert result.indication is Indication.INDETERMINATE
    assert result.check("signature.signing_time").indication is Indication.INDETERMINATE


def test_v1_seals_cannot_sign_new_documents(kit: Kit) -> None:
    with pytest.raises(SealBuildError):
        sign_with_seal(_v1_seal(kit), kit.signer.key, kit.signer.cert, sm3(b"x"), "d", T0)
