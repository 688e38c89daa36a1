"""GB/T 38540 seals against outside oracles, both ways round.

1. Our seals, read by an independent ASN.1 stack: the structures below are the
   standard's ASN.1 (as digested in shared/standards.md section 3), compiled by
   asn1tools, which shares no code with asn1crypto or trust.seal. Every field
   must decode to what we put in, asn1tools' own DER encoder must reproduce our
   bytes exactly (so our DER is canonical), and the SM2/RSA signatures are
   checked over the bytes asn1tools encodes, with gmssl and cryptography.
2. Seals we did not write, read by ours: the SESeal (Seal.esl) and SES_Signature
   (SignedValue.dat) entries inside the ofdrw-made OFD samples in shared/.

The threat: a format only our own code reads. A field order, tag or time
encoding that drifted from the standard would make our seals unreadable to
other vendors while every round-trip test stayed green.
"""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asn1tools
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from gmssl import func as gm_func
from gmssl import sm2 as gm
from gmssl import sm3 as gm_sm3

from tests.seal_certs import DOCUMENT, PICTURE, SEAL_END, SEAL_START, T0, Kit, make_kit
from tests.shared_samples import shared_dir
from trust.errors import SealTrustError
from trust.indications import Indication, SubIndication
from trust.seal import (
    CertListType,
    Extension,
    Outcome,
    SealFormatError,
    parse_seal,
    parse_seal_signature,
    sign_with_seal,
    verify_seal_signature,
)
from trust.sm3 import sm3

# GB/T 38540-2020 Annex A, V4, in ASN.1 notation (type names with '-' where the standard writes
# '_', which ASN.1 does not allow in type references). SES_CertList is, in the standard,
#     SES-CertList ::= CHOICE { certs CertInfoList, certDigestList CertDigestList }
# a CHOICE of two untagged SEQUENCE OFs that no decoder can tell apart by tag (asn1tools loops
# forever on it, and also on a SEQUENCE OF whose elements have the wrong tag); certListType
# decides, so the module is compiled once per alternative, and once with certList as ANY to read
# certListType first.
SPEC = """
GBT38540 DEFINITIONS EXPLICIT TAGS ::= BEGIN
SESeal ::= SEQUENCE {
    eSealInfo   SES-SealInfo,
    cert        OCTET STRING,
    signAlgID   OBJECT IDENTIFIER,
    signedValue BIT STRING }
SES-SealInfo ::= SEQUENCE {
    header   SES-Header,
    esID     IA5String,
    property SES-ESPropertyInfo,
    picture  SES-ESPictrueInfo,
    extDatas ExtensionDatas OPTIONAL }
SES-Header ::= SEQUENCE { id IA5String, version INTEGER, vid IA5String }
SES-ESPropertyInfo ::= SEQUENCE {
    type         INTEGER,
    name         UTF8String,
    certListType INTEGER,
    certList     SES-CertList,
    createDate   GeneralizedTime,
    validStart   GeneralizedTime,
    validEnd     GeneralizedTime }
SES-CertList ::= %s
CertInfoList ::= SEQUENCE OF OCTET STRING
CertDigestList ::= SEQUENCE OF CertDigestObj
CertDigestObj ::= SEQUENCE { type PrintableString, value OCTET STRING }
SES-ESPictrueInfo ::= SEQUENCE {
    type   IA5String,
    data   OCTET STRING,
    width  INTEGER,
    height INTEGER }
ExtensionDatas ::= SEQUENCE OF ExtData
ExtData ::= SEQUENCE {
    extnID    OBJECT IDENTIFIER,
    critical  BOOLEAN DEFAULT FALSE,
    extnValue OCTET STRING }
TBS-Sign ::= SEQUENCE {
    version      INTEGER,
    eseal        SESeal,
    timeInfo     GeneralizedTime,
    dataHash     BIT STRING,
    propertyInfo IA5String,
    extDatas     [0] ExtensionDatas OPTIONAL }
SES-Signature ::= SEQUENCE {
    toSign         TBS-Sign,
    cert           OCTET STRING,
    signatureAlgID OBJECT IDENTIFIER,
    signature      BIT STRING,
    timeStamp      [0] BIT STRING OPTIONAL }
SM2Signature ::= SEQUENCE { r INTEGER, s INTEGER }
END
"""
PROBE_SPEC = asn1tools.compile_string(SPEC % "ANY", "der")
CERTS_SPEC = asn1tools.compile_string(SPEC % "CertInfoList", "der")
DIGESTS_SPEC = asn1tools.compile_string(SPEC % "CertDigestList", "der")
SM2_WITH_SM3 = "1.2.156.10197.1.501"
SHA256_WITH_RSA = "1.2.840.113549.1.1.11"


def oracle_decode(type_name: str, der: bytes) -> tuple[Any, dict[str, Any]]:
    """(the compiled module that fits, decoded value): certListType picks the alternative."""
    probe = PROBE_SPEC.decode(type_name, der)
    seal = probe["toSign"]["eseal"] if type_name == "SES-Signature" else probe
    kind = seal["eSealInfo"]["property"]["certListType"]
    assert kind in (1, 2), f"certListType {kind}"
    spec = CERTS_SPEC if kind == 1 else DIGESTS_SPEC
    value = spec.decode(type_name, der)
    return spec, value


def _utc(naive: datetime) -> datetime:
    """asn1tools returns GeneralizedTime 'Z' values as naive datetimes."""
    return naive.replace(tzinfo=UTC) if naive.tzinfo is None else naive


def _bits(value: tuple[bytes, int]) -> bytes:
    data, length = value
    assert length == 8 * len(data), "a BIT STRING with unused bits"
    return data


def _sm3_hex(data: bytes) -> str:
    return str(gm_sm3.sm3_hash(gm_func.bytes_to_list(data)))


def independent_verify(cert_der: bytes, algorithm: str, message: bytes, signature: bytes) -> bool:
    """gmssl (SM2, default ID) or cryptography (RSA): no trust.* code on this path."""
    spki = x509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]
    if algorithm == SM2_WITH_SM3:
        point = asn1_keys.PublicKeyInfo.load(spki.dump())["public_key"].native
        rs = CERTS_SPEC.decode("SM2Signature", signature)
        crypt = gm.CryptSM2(private_key="", public_key=point[1:].hex())
        return bool(crypt.verify_with_sm3(f"{rs['r']:064x}{rs['s']:064x}", message))
    assert algorithm == SHA256_WITH_RSA, algorithm
    public = serialization.load_der_public_key(spki.dump())
    assert isinstance(public, rsa.RSAPublicKey)
    try:
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return True


# --- 1. our seals, read by the oracle --------------------------------------------------------

EXTENSION = Extension("1.2.156.112233.1", False, b"\x04\x03abc")


@pytest.fixture(scope="module", params=["sm2", "rsa-2048"])
def kit(request: pytest.FixtureRequest) -> Kit:
    return make_kit(request.param, signer_algorithm=request.param)


def _maker_algorithm(kit: Kit) -> str:
    return SM2_WITH_SM3 if kit.maker.key.algorithm == "sm2" else SHA256_WITH_RSA


@pytest.mark.parametrize("kind", list(CertListType))
def test_our_seal_decodes_field_for_field(kit: Kit, kind: CertListType) -> None:
    der = kit.seal(kind, extensions=[EXTENSION])
    spec, seal = oracle_decode("SESeal", der)
    # Canonical DER: an independent encoder writes exactly our bytes.
    assert spec.encode("SESeal", seal) == der
    info = seal["eSealInfo"]
    assert info["header"] == {"id": "ES", "version": 4, "vid": info["header"]["vid"]}
    assert info["esID"] == "11010500000001"
    prop = info["property"]
    assert (prop["type"], prop["name"], prop["certListType"]) == (1, "北京市朝阳区市场监督管理局", int(kind))
    certs = [kit.signer.cert, kit.other_signer.cert]
    if kind is CertListType.CERTIFICATES:
        assert prop["certList"] == certs
    else:
        assert [(d["type"], d["value"].hex()) for d in prop["certList"]] == [("sm3", _sm3_hex(c)) for c in certs]
    assert [_utc(prop[k]) for k in ("createDate", "validStart", "validEnd")] == [SEAL_START, SEAL_START, SEAL_END]
    assert info["picture"] == {"type": "png", "data": PICTURE.data, "width": 42, "height": 42}
    assert info["extDatas"] == [{"extnID": EXTENSION.oid, "critical": False, "extnValue": EXTENSION.value}]
    assert seal["cert"] == kit.maker.cert
    assert seal["signAlgID"] == _maker_algorithm(kit)
    # The maker signed DER(SES_SealInfo), as the oracle encodes it.
    sealinfo = spec.encode("SES-SealInfo", info)
    assert independent_verify(kit.maker.cert, seal["signAlgID"], sealinfo, _bits(seal["signedValue"]))
    assert not independent_verify(kit.maker.cert, seal["signAlgID"], sealinfo + b"\x00", _bits(seal["signedValue"]))


def test_our_seal_signature_decodes_field_for_field(kit: Kit) -> None:
    seal_der = kit.seal()
    token = b"\x30\x03\x02\x01\x07"  # opaque to the format: any bytes the time-stamper returns
    sig_der = kit.signature(seal_der)
    stamped = parse_seal_signature(sig_der)  # sanity: ours reads it
    assert stamped.timestamp is None
    with_ts = sign_with_seal(seal_der, kit.signer.key, kit.signer.cert, sm3(DOCUMENT), "document.pdf", T0,
                             timestamper=lambda _sig: token)
    for der, expect_ts in ((sig_der, None), (with_ts, token)):
        spec, sig = oracle_decode("SES-Signature", der)
        assert spec.encode("SES-Signature", sig) == der
        tbs = sig["toSign"]
        assert tbs["version"] == 4
        assert spec.encode("SESeal", tbs["eseal"]) == seal_der  # the seal embedded byte for byte
        assert _utc(tbs["timeInfo"]) == T0
        assert _bits(tbs["dataHash"]).hex() == _sm3_hex(DOCUMENT)
        assert tbs["propertyInfo"] == "document.pdf"
        assert "extDatas" not in tbs
        assert sig["cert"] == kit.signer.cert
        assert (_bits(sig["timeStamp"]) if "timeStamp" in sig else None) == expect_ts
        message = spec.encode("TBS-Sign", tbs)
        assert independent_verify(kit.signer.cert, sig["signatureAlgID"], message, _bits(sig["signature"]))


def test_oracle_rejects_what_ours_rejects(kit: Kit) -> None:
    """A truncated seal is malformed to both readers (ours raises its typed error)."""
    der = kit.seal()[:-3]
    with pytest.raises(asn1tools.DecodeError):
        PROBE_SPEC.decode("SESeal", der)
    with pytest.raises(SealFormatError):
        parse_seal(der)


# --- 2. third-party seals (ofdrw), read by ours ----------------------------------------------

def _ofd_samples() -> Path:
    return shared_dir("ofd-samples") / "ofd-samples"


# (sample, signature folder) -> the verdict without trust anchors; see ofd-samples/README.md.
# SESV4SignDoc was made on 2026-08-04 with ofdrw's test seal, which expired on 2022-04-22:
# its timeInfo lies after the seal's validEnd, so the seal signature itself fails (EXPIRED)
# although its bytes are intact.
THIRD_PARTY = [
    ("ofdrw-SESV4SignDoc.ofd", "Sign_0", Indication.TOTAL_FAILED),
    ("ofdrw-V4RideRight.ofd", "Sign_0", Indication.INDETERMINATE),
    ("ofdrw-allprotected.ofd", "Sign_0", Indication.INDETERMINATE),
    ("ofdrw-h-second-signature-broke-first.ofd", "Sign_0", Indication.INDETERMINATE),
    ("ofdrw-h-second-signature-broke-first.ofd", "Sign_1", Indication.INDETERMINATE),
]


def _no_anchor(cert_der: bytes, at: datetime) -> Outcome:
    """No trust anchor is configured for ofdrw's test CA: never PASSED, never FAILED."""
    return Outcome(Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "no anchor")


def _read(sample: str, sign: str) -> tuple[bytes, bytes, bytes]:
    with zipfile.ZipFile(_ofd_samples() / sample) as z:
        base = f"Doc_0/Signs/{sign}/"
        return z.read(base + "Seal.esl"), z.read(base + "SignedValue.dat"), z.read(base + "Signature.xml")


@pytest.mark.parametrize(("sample", "sign", "verdict"), THIRD_PARTY)
def test_third_party_seal_parses_like_the_oracle(sample: str, sign: str, verdict: Indication) -> None:
    esl, signed_value, _xml = _read(sample, sign)
    spec, oracle = oracle_decode("SESeal", esl)
    assert spec.encode("SESeal", oracle) == esl  # ofdrw writes canonical DER too
    seal = parse_seal(esl)
    info, prop = oracle["eSealInfo"], oracle["eSealInfo"]["property"]
    assert (seal.format_version, seal.header_id, seal.header_version, seal.vendor_id) == (
        4, info["header"]["id"], info["header"]["version"], info["header"]["vid"])
    assert (seal.es_id, seal.seal_type, seal.name, seal.cert_list_type) == (
        info["esID"], prop["type"], prop["name"], prop["certListType"])
    assert [e.certificate for e in seal.cert_list] == prop["certList"]
    assert (seal.created, seal.valid_start, seal.valid_end) == tuple(
        _utc(prop[k]) for k in ("createDate", "validStart", "validEnd"))
    assert (seal.picture.type, seal.picture.data, seal.picture.width_mm, seal.picture.height_mm) == (
        info["picture"]["type"], info["picture"]["data"], info["picture"]["width"], info["picture"]["height"])
    assert seal.maker_cert == oracle["cert"]
    assert seal.signature_algorithm == oracle["signAlgID"] == SM2_WITH_SM3
    assert seal.signature == _bits(oracle["signedValue"])
    # The seal inside SignedValue.dat is the same Seal.esl, byte for byte.
    assert parse_seal_signature(signed_value).seal.der == esl


@pytest.mark.parametrize(("sample", "sign", "verdict"), THIRD_PARTY)
def test_third_party_seal_signature_verifies_with_ours(sample: str, sign: str, verdict: Indication) -> None:
    _esl, signed_value, xml = _read(sample, sign)
    spec, oracle = oracle_decode("SES-Signature", signed_value)
    tbs = oracle["toSign"]
    # The oracle's view first: the ofdrw signature is genuine over the DER TBS_Sign.
    assert independent_verify(oracle["cert"], oracle["signatureAlgID"], spec.encode("TBS-Sign", tbs),
                              _bits(oracle["signature"]))
    assert _bits(tbs["dataHash"]).hex() == _sm3_hex(xml)  # dataHash is SM3 of Signature.xml
    sig = parse_seal_signature(signed_value)
    assert sig.time_info == _utc(tbs["timeInfo"])
    assert sig.property_info == tbs["propertyInfo"] == f"/Doc_0/Signs/{sign}/Signature.xml"
    assert sig.signer_cert == oracle["cert"]
    assert sig.signed_message == spec.encode("TBS-Sign", tbs)

    at = datetime(2026, 12, 1, tzinfo=UTC)
    result = verify_seal_signature(signed_value, at, data=xml, chain_validator=_no_anchor,
                                   signer_chain_validator=_no_anchor)
    checks = {c.name: c for c in result.checks}
    for name in ("seal.maker_signature", "signature.value", "signature.data_hash", "signature.signer_listed"):
        assert checks[name].indication is Indication.TOTAL_PASSED, (name, checks[name])
    assert result.indication is verdict, result.summary
    if verdict is Indication.TOTAL_FAILED:
        assert checks["seal.validity"].sub_indication is SubIndication.EXPIRED

    # Tampering with what ofdrw signed: the data, the signature value, the signing time.
    assert verify_seal_signature(signed_value, at, data=xml + b" ", chain_validator=_no_anchor
                                 ).indication is Indication.TOTAL_FAILED
    bad_sig = bytearray(signed_value)
    bad_sig[-10] ^= 0x01  # inside the signature BIT STRING (the last member)
    bad = verify_seal_signature(bytes(bad_sig), at, data=xml, chain_validator=_no_anchor)
    assert bad.indication is Indication.TOTAL_FAILED
    assert {c.name: c for c in bad.checks}["signature.value"].indication is Indication.TOTAL_FAILED


def test_bare_sm2_signature_is_a_typed_format_error() -> None:
    """ofdrw's "DigitalSign" stores a bare SM2 signature, not an SES_Signature: both readers refuse."""
    with zipfile.ZipFile(_ofd_samples() / "ofdrw-DigitalSign-raw.ofd") as z:
        raw = z.read("Doc_0/Signs/Sign_0/SignedValue.dat")
    with pytest.raises(asn1tools.DecodeError):
        PROBE_SPEC.decode("SES-Signature", raw)
    with pytest.raises(SealFormatError) as err:
        parse_seal_signature(raw)
    assert isinstance(err.value, SealTrustError) and err.value.code == "seal.format"
    result = verify_seal_signature(raw, T0, data=b"x", chain_validator=_no_anchor)
    assert result.indication is Indication.TOTAL_FAILED
    assert result.checks[0].sub_indication is SubIndication.FORMAT_FAILURE
