"""ASN.1 classes of GB/T 38540-2020 ("V4") and GM/T 0031-2014 ("V1") electronic seals.

Field names follow the standards (including the standard's own spelling
``SES_ESPictrueInfo``) so code can be read side by side with the text.

``SES_CertList`` is a CHOICE of two untagged SEQUENCE OFs, which no decoder can
tell apart by tag; the sibling field ``certListType`` (1 = certificates,
2 = certificate digests) decides, as every public implementation does.

:func:`load_strict` is the only way the package reads DER: it bounds the
input size, parses every field eagerly, rejects trailing bytes and non-DER
encodings, and turns any decoder failure into :class:`SealFormatError`.
"""

from __future__ import annotations

from typing import Final, TypeVar

from asn1crypto import core

from trust.seal.errors import SealFormatError

__all__ = [
    "MAX_DER_SIZE",
    "CertDigestList",
    "CertDigestObj",
    "CertList",
    "ExtData",
    "ExtensionDatas",
    "SES_ESPictrueInfo",
    "SES_ESPropertyInfo",
    "SES_ESPropertyInfo_V1",
    "SES_Header",
    "SES_SealInfo",
    "SES_SealInfo_V1",
    "SES_SignInfo_V1",
    "SES_Signature",
    "SES_Signature_V1",
    "SESeal",
    "SESeal_V1",
    "TBS_Sign",
    "TBS_Sign_V1",
    "load_strict",
]

# A seal is a picture plus a few certificates; 16 MiB leaves room for large
# pictures and still bounds memory for hostile input.
MAX_DER_SIZE: Final = 16 * 1024 * 1024

CERT_LIST_CERTS: Final = 1
CERT_LIST_DIGESTS: Final = 2


class SES_Header(core.Sequence):
    _fields = [
        ("ID", core.IA5String),
        ("version", core.Integer),
        ("Vid", core.IA5String),
    ]


class CertList(core.SequenceOf):
    """certListType 1: the signers' certificates, each as DER in an OCTET STRING."""

    _child_spec = core.OctetString


class CertDigestObj(core.Sequence):
    _fields = [
        ("type", core.PrintableString),
        ("value", core.OctetString),
    ]


class CertDigestList(core.SequenceOf):
    """certListType 2: digests of the signers' certificates."""

    _child_spec = CertDigestObj


def _cert_list_spec(
    info: core.Sequence,
) -> type[CertList] | type[CertDigestList]:
    kind = info["certListType"].native
    if kind == CERT_LIST_CERTS:
        return CertList
    if kind == CERT_LIST_DIGESTS:
        return CertDigestList
    raise ValueError(f"certListType {kind} is neither 1 (certs) nor 2 (digests)")


class SES_ESPropertyInfo(core.Sequence):
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("certListType", core.Integer),
        ("certList", core.Any),
        ("createDate", core.GeneralizedTime),
        ("validStart", core.GeneralizedTime),
        ("validEnd", core.GeneralizedTime),
    ]
    _spec_callbacks = {"certList": _cert_list_spec}


class SES_ESPictrueInfo(core.Sequence):
    _fields = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class ExtData(core.Sequence):
    _fields = [
        ("extnID", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extnValue", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class SES_SealInfo(core.Sequence):
    _fields = [
        ("header", SES_Header),
        ("esID", core.IA5String),
        ("property", SES_ESPropertyInfo),
        ("picture", SES_ESPictrueInfo),
        ("extDatas", ExtensionDatas, {"optional": True}),
    ]


class SESeal(core.Sequence):
    _fields = [
        ("eSealInfo", SES_SealInfo),
        ("cert", core.OctetString),
        ("signAlgID", core.ObjectIdentifier),
        ("signedValue", core.OctetBitString),
    ]


class TBS_Sign(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("eseal", SESeal),
        ("timeInfo", core.GeneralizedTime),
        ("dataHash", core.OctetBitString),
        ("propertyInfo", core.IA5String),
        ("extDatas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SES_Signature(core.Sequence):
    _fields = [
        ("toSign", TBS_Sign),
        ("cert", core.OctetString),
        ("signatureAlgID", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("timeStamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


# --- GM/T 0031-2014 (V1): read-only -----------------------------------------


class SES_ESPropertyInfo_V1(core.Sequence):
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("certList", CertList),
        ("createDate", core.UTCTime),
        ("validStart", core.UTCTime),
        ("validEnd", core.UTCTime),
    ]


class SES_SealInfo_V1(core.Sequence):
    _fields = [
        ("header", SES_Header),
        ("esID", core.IA5String),
        ("property", SES_ESPropertyInfo_V1),
        ("picture", SES_ESPictrueInfo),
        ("extDatas", ExtensionDatas, {"optional": True}),
    ]


class SES_SignInfo_V1(core.Sequence):
    _fields = [
        ("cert", core.OctetString),
        ("signatureAlgorithm", core.ObjectIdentifier),
        ("signData", core.OctetBitString),
    ]


class SESeal_V1(core.Sequence):
    _fields = [
        ("esealInfo", SES_SealInfo_V1),
        ("signInfo", SES_SignInfo_V1),
    ]


class TBS_Sign_V1(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("eseal", SESeal_V1),
        ("timeInfo", core.OctetBitString),  # UTCTime text or a time-stamp token
        ("dataHash", core.OctetBitString),
        ("propertyInfo", core.IA5String),
        ("cert", core.OctetString),
        ("signatureAlgorithm", core.ObjectIdentifier),
    ]


class SES_Signature_V1(core.Sequence):
    _fields = [
        ("toSign", TBS_Sign_V1),
        ("signature", core.OctetBitString),
    ]


_T = TypeVar("_T", bound=core.Asn1Value)

# Everything asn1crypto raises on hostile input (checked by the fuzz tests).
_DECODE_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    AttributeError,
    RecursionError,
)


def load_strict(cls: type[_T], der: bytes, what: str) -> _T:
    """Parse ``der`` as ``cls`` completely, or raise SealFormatError.

    asn1crypto parses lazily; touching ``.native`` forces every field, so a
    defect deep inside surfaces here and not in the middle of a verification.
    Re-encoding must give the input back: BER variants (indefinite lengths,
    long-form lengths) are refused because signatures cover exact bytes.
    """
    if not isinstance(der, bytes | bytearray | memoryview):
        raise SealFormatError(f"{what}: expected DER bytes, got {type(der).__name__}")
    data = bytes(der)
    if not data:
        raise SealFormatError(f"{what}: empty input")
    if len(data) > MAX_DER_SIZE:
        raise SealFormatError(f"{what}: {len(data)} bytes exceeds the {MAX_DER_SIZE}-byte limit")
    try:
        value: _T = cls.load(data, strict=True)
        _ = value.native
        canonical = cls.load(data, strict=True).dump(force=True)
    except _DECODE_ERRORS as exc:
        raise SealFormatError(f"{what}: malformed DER ({exc})") from exc
    if canonical != data:
        raise SealFormatError(f"{what}: not DER (a BER or non-canonical encoding)")
    return value
