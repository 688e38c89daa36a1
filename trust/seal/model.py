"""Parsed seals and seal signatures as immutable facts, for V4 and V1 alike.

``parse_seal`` and ``parse_seal_signature`` tell the two generations apart by
shape (a V4 SESeal has four members, a V1 SESeal two; a V4 SES_Signature four
or five, a V1 one two) and map both onto the same dataclasses, so verification
and reports never branch on the version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from asn1crypto import core

from trust.seal import _certs, asn1
from trust.seal.errors import SealFormatError

__all__ = [
    "CertListEntry",
    "Extension",
    "Seal",
    "SealPicture",
    "SealSignature",
    "parse_seal",
    "parse_seal_signature",
]

V4: Final = 4
V1: Final = 1
# Names of the two byte strings a maker may have signed (see Seal.maker_signed_messages).
SIGNED_SEAL_INFO: Final = "SES_SealInfo"
SIGNED_V1_FORM: Final = "SEQUENCE{sealInfo,cert,algID}"


@dataclass(frozen=True, slots=True)
class CertListEntry:
    """One certificate the seal authorises: the DER itself (type 1) or a digest (type 2)."""

    certificate: bytes | None = field(default=None, repr=False)
    digest_type: str | None = None
    digest: bytes | None = None


@dataclass(frozen=True, slots=True)
class SealPicture:
    """The seal image: its type ("png", "ofd", "svg", ...), bytes and size in mm."""

    type: str
    data: bytes = field(repr=False)
    width_mm: int
    height_mm: int


@dataclass(frozen=True, slots=True)
class Extension:
    """One ExtData entry (kept opaque: no extension is defined by the standard)."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True, slots=True)
class Seal:
    """An electronic seal as parsed; nothing here has been verified yet."""

    format_version: int  # 4 (GB/T 38540) or 1 (GM/T 0031)
    header_id: str
    header_version: int
    vendor_id: str
    es_id: str
    seal_type: int
    name: str
    cert_list_type: int
    cert_list: tuple[CertListEntry, ...]
    created: datetime
    valid_start: datetime
    valid_end: datetime
    picture: SealPicture
    extensions: tuple[Extension, ...]
    maker_cert: bytes = field(repr=False)
    signature_algorithm: str
    signature: bytes = field(repr=False)
    # (form name, bytes) the maker may have signed: DER(SES_SealInfo) and
    # DER(SEQUENCE{sealInfo, cert, algID}) (the V1 rule), the version's own rule
    # first; verification accepts either.
    maker_signed_messages: tuple[tuple[str, bytes], ...] = field(repr=False)
    der: bytes = field(repr=False)

    def lists(self, cert_der: bytes) -> bool:
        """True iff the certificate may use this seal (certList: bytes for type 1, digest for 2)."""
        return _certs.listed(
            cert_der,
            (e.certificate for e in self.cert_list),
            ((e.digest_type, e.digest) for e in self.cert_list),
        )


@dataclass(frozen=True, slots=True)
class SealSignature:
    """An electronic seal signature (签章) as parsed; nothing verified yet."""

    format_version: int
    version: int
    seal: Seal
    time_info: datetime | None  # None: a V1 timeInfo that is not a readable time
    time_info_raw: bytes = field(repr=False)
    data_hash: bytes
    property_info: str
    signer_cert: bytes = field(repr=False)
    signature_algorithm: str
    signature: bytes = field(repr=False)
    timestamp: bytes | None = field(repr=False)
    extensions: tuple[Extension, ...]
    signed_message: bytes = field(repr=False)  # DER(TBS_Sign)
    der: bytes = field(repr=False)


class _Members(core.SequenceOf):
    _child_spec = core.Any


def _member_count(der: bytes, what: str) -> int:
    if not isinstance(der, bytes | bytearray | memoryview):
        raise SealFormatError(f"{what}: expected DER bytes, got {type(der).__name__}")
    if len(der) > asn1.MAX_DER_SIZE:
        raise SealFormatError(f"{what}: {len(der)} bytes exceeds the size limit")
    try:
        return len(_Members.load(bytes(der), strict=True))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise SealFormatError(f"{what}: malformed DER ({exc})") from exc


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_sequence(*encoded: bytes) -> bytes:
    body = b"".join(encoded)
    return b"\x30" + _der_length(len(body)) + body


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise SealFormatError(f"{what} is not an absolute time (no UTC offset)")
    return value


def _extensions(value: core.Asn1Value) -> tuple[Extension, ...]:
    if isinstance(value, core.Void):
        return ()
    return tuple(
        Extension(ext["extnID"].dotted, bool(ext["critical"].native), ext["extnValue"].native)
        for ext in value
    )


def _cert_list(kind: int, value: core.Asn1Value) -> tuple[CertListEntry, ...]:
    if kind == asn1.CERT_LIST_CERTS:
        return tuple(CertListEntry(certificate=item.native) for item in value)
    return tuple(
        CertListEntry(digest_type=item["type"].native, digest=item["value"].native)
        for item in value
    )


def _picture(info: asn1.SES_ESPictrueInfo) -> SealPicture:
    return SealPicture(
        type=info["type"].native,
        data=info["data"].native,
        width_mm=info["width"].native,
        height_mm=info["height"].native,
    )


def parse_seal(der: bytes) -> Seal:
    """Read a V4 or V1 SESeal; malformed input raises SealFormatError."""
    members = _member_count(der, "SESeal")
    if members == 4:
        return _seal_v4(asn1.load_strict(asn1.SESeal, der, "SESeal (V4)"))
    if members == 2:
        return _seal_v1(asn1.load_strict(asn1.SESeal_V1, der, "SESeal (V1)"))
    raise SealFormatError(f"SESeal: {members} members, neither V4 (4) nor V1 (2)")


def _seal_v4(seal: asn1.SESeal) -> Seal:
    info = seal["eSealInfo"]
    prop = info["property"]
    kind = prop["certListType"].native
    return Seal(
        format_version=V4,
        header_id=info["header"]["ID"].native,
        header_version=info["header"]["version"].native,
        vendor_id=info["header"]["Vid"].native,
        es_id=info["esID"].native,
        seal_type=prop["type"].native,
        name=prop["name"].native,
        cert_list_type=kind,
        cert_list=_cert_list(kind, prop["certList"]),
        created=_aware(prop["createDate"].native, "createDate"),
        valid_start=_aware(prop["validStart"].native, "validStart"),
        valid_end=_aware(prop["validEnd"].native, "validEnd"),
        picture=_picture(info["picture"]),
        extensions=_extensions(info["extDatas"]),
        maker_cert=seal["cert"].native,
        signature_algorithm=seal["signAlgID"].dotted,
        signature=seal["signedValue"].native,
        maker_signed_messages=(
            (SIGNED_SEAL_INFO, info.dump()),
            (
                SIGNED_V1_FORM,
                _der_sequence(info.dump(), seal["cert"].dump(), seal["signAlgID"].dump()),
            ),
        ),
        der=_der_of(seal),
    )


def _seal_v1(seal: asn1.SESeal_V1) -> Seal:
    info = seal["esealInfo"]
    prop = info["property"]
    sign_info = seal["signInfo"]
    return Seal(
        format_version=V1,
        header_id=info["header"]["ID"].native,
        header_version=info["header"]["version"].native,
        vendor_id=info["header"]["Vid"].native,
        es_id=info["esID"].native,
        seal_type=prop["type"].native,
        name=prop["name"].native,
        cert_list_type=asn1.CERT_LIST_CERTS,
        cert_list=_cert_list(asn1.CERT_LIST_CERTS, prop["certList"]),
        created=_aware(prop["createDate"].native, "createDate"),
        valid_start=_aware(prop["validStart"].native, "validStart"),
        valid_end=_aware(prop["validEnd"].native, "validEnd"),
        picture=_picture(info["picture"]),
        extensions=_extensions(info["extDatas"]),
        maker_cert=sign_info["cert"].native,
        signature_algorithm=sign_info["signatureAlgorithm"].dotted,
        signature=sign_info["signData"].native,
        maker_signed_messages=(
            (
                SIGNED_V1_FORM,
                _der_sequence(
                    info.dump(), sign_info["cert"].dump(), sign_info["signatureAlgorithm"].dump()
                ),
            ),
            (SIGNED_SEAL_INFO, info.dump()),
        ),
        der=_der_of(seal),
    )


def _der_of(value: core.Asn1Value) -> bytes:
    """The exact bytes a parsed value came from (what signatures cover)."""
    encoded: bytes = value.dump()
    return encoded


def parse_seal_signature(der: bytes) -> SealSignature:
    """Read a V4 or V1 SES_Signature; malformed input raises SealFormatError."""
    members = _member_count(der, "SES_Signature")
    if members in (4, 5):
        return _signature_v4(asn1.load_strict(asn1.SES_Signature, der, "SES_Signature (V4)"))
    if members == 2:
        return _signature_v1(asn1.load_strict(asn1.SES_Signature_V1, der, "SES_Signature (V1)"))
    raise SealFormatError(f"SES_Signature: {members} members, neither V4 (4-5) nor V1 (2)")


def _signature_v4(sig: asn1.SES_Signature) -> SealSignature:
    tbs = sig["toSign"]
    stamp = sig["timeStamp"]
    return SealSignature(
        format_version=V4,
        version=tbs["version"].native,
        seal=_seal_v4(tbs["eseal"]),
        time_info=_aware(tbs["timeInfo"].native, "timeInfo"),
        time_info_raw=tbs["timeInfo"].contents,
        data_hash=tbs["dataHash"].native,
        property_info=tbs["propertyInfo"].native,
        signer_cert=sig["cert"].native,
        signature_algorithm=sig["signatureAlgID"].dotted,
        signature=sig["signature"].native,
        timestamp=None if isinstance(stamp, core.Void) else stamp.native,
        extensions=_extensions(tbs["extDatas"]),
        signed_message=_der_of(tbs),
        der=_der_of(sig),
    )


def _v1_time(raw: bytes) -> datetime | None:
    """V1 timeInfo is a BIT STRING holding UTCTime text or a time-stamp token."""
    for spec in (core.UTCTime, core.GeneralizedTime):
        try:
            value = spec.load(bytes([spec.tag]) + _der_length(len(raw)) + raw).native
        except (ValueError, TypeError, OverflowError):
            continue
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value
    return None


def _signature_v1(sig: asn1.SES_Signature_V1) -> SealSignature:
    tbs = sig["toSign"]
    raw_time: bytes = tbs["timeInfo"].native
    return SealSignature(
        format_version=V1,
        version=tbs["version"].native,
        seal=_seal_v1(tbs["eseal"]),
        time_info=_v1_time(raw_time),
        time_info_raw=raw_time,
        data_hash=tbs["dataHash"].native,
        property_info=tbs["propertyInfo"].native,
        signer_cert=tbs["cert"].native,
        signature_algorithm=tbs["signatureAlgorithm"].dotted,
        signature=sig["signature"].native,
        timestamp=None,
        extensions=(),
        signed_message=_der_of(tbs),
        der=_der_of(sig),
    )
