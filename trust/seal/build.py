"""Make GB/T 38540 V4 seals and seal signatures.

The seal maker signs DER(SES_SealInfo) alone, as the public V4
implementations do (GM/T 0031 V1 signed SEQUENCE{sealInfo, cert, algID}; the
verifier accepts both). A seal signature signs DER(TBS_Sign), whose dataHash
is SM3 over the protected bytes whatever the signature algorithm.

Builders refuse what the verifier would reject (a signer outside the
certList, a seal used outside its validity window, a key that does not match
its certificate), so a failed verification always means tampering or time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import IntEnum
from functools import lru_cache

from asn1crypto import core

from trust import keys
from trust.seal import _certs, asn1
from trust.seal.errors import SealBuildError
from trust.seal.model import Extension, SealPicture, parse_seal
from trust.sm3 import DIGEST_SIZE

# A department seals every licence with the same seal: parse each once (Seal is frozen).
_parsed_seal = lru_cache(maxsize=64)(parse_seal)

__all__ = ["DEFAULT_VENDOR_ID", "CertListType", "make_seal", "sign_with_seal"]

DEFAULT_VENDOR_ID = "SealTrust"
SEAL_VERSION = 4


class CertListType(IntEnum):
    """How SES_ESPropertyInfo names the certificates allowed to use the seal."""

    CERTIFICATES = 1  # the certificates themselves
    DIGESTS = 2  # CertDigestObj {type, digest of the certificate DER}


def _utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise SealBuildError(f"{what} must be a timezone-aware datetime", code="seal.build.time")
    return value.astimezone(UTC).replace(microsecond=0)


def _ia5(value: str, what: str) -> str:
    if not value or not value.isascii() or not value.isprintable():
        raise SealBuildError(f"{what} must be non-empty printable ASCII, got {value!r}")
    return value


def _matching_key(key: keys.SigningKey, cert_der: bytes, who: str) -> None:
    cert = _certs.load_certificate(cert_der, f"{who} certificate")
    if _certs.spki(cert) != key.public_key_der():
        raise SealBuildError(
            f"the {who} key does not match the {who} certificate", code="seal.build.key_mismatch"
        )


def _extension_datas(extensions: Sequence[Extension]) -> asn1.ExtensionDatas:
    return asn1.ExtensionDatas(
        [
            asn1.ExtData({"extnID": ext.oid, "critical": ext.critical, "extnValue": ext.value})
            for ext in extensions
        ]
    )


def _cert_list(
    certificates: Sequence[bytes], kind: CertListType, digest_type: str
) -> asn1.CertList | asn1.CertDigestList:
    if not certificates:
        raise SealBuildError("a seal needs at least one signer certificate in its certList")
    for i, cert in enumerate(certificates):
        _certs.load_certificate(cert, f"certList[{i}]")
    if kind is CertListType.CERTIFICATES:
        return asn1.CertList(list(certificates))
    entries = []
    for cert in certificates:
        value = _certs.digest(cert, digest_type)
        if value is None:
            raise SealBuildError(f"unknown certificate digest type {digest_type!r}")
        entries.append(asn1.CertDigestObj({"type": digest_type, "value": value}))
    return asn1.CertDigestList(entries)


def make_seal(
    *,
    es_id: str,
    seal_type: int,
    name: str,
    certificates: Sequence[bytes],
    created: datetime,
    valid_start: datetime,
    valid_end: datetime,
    picture: SealPicture,
    maker_key: keys.SigningKey,
    maker_cert: bytes,
    cert_list_type: CertListType = CertListType.CERTIFICATES,
    digest_type: str = "sm3",
    vendor_id: str = DEFAULT_VENDOR_ID,
    extensions: Sequence[Extension] = (),
) -> bytes:
    """DER SESeal (V4) for ``certificates``, signed by the seal maker over DER(SES_SealInfo)."""
    start, end = _utc(valid_start, "valid_start"), _utc(valid_end, "valid_end")
    if not start < end:
        raise SealBuildError("valid_start must be before valid_end", code="seal.build.time")
    if not name.strip():
        raise SealBuildError("the seal name is empty")
    if picture.width_mm <= 0 or picture.height_mm <= 0 or not picture.data:
        raise SealBuildError("the seal picture needs data and a positive size in mm")
    kind = CertListType(cert_list_type)
    _matching_key(maker_key, maker_cert, "maker")
    property_info = asn1.SES_ESPropertyInfo(
        {
            "type": seal_type,
            "name": name,
            "certListType": int(kind),
            "certList": _cert_list(certificates, kind, _ia5(digest_type, "digest_type")),
            "createDate": _utc(created, "created"),
            "validStart": start,
            "validEnd": end,
        }
    )
    info = asn1.SES_SealInfo(
        {
            "header": {"ID": "ES", "version": SEAL_VERSION, "Vid": _ia5(vendor_id, "vendor_id")},
            "esID": _ia5(es_id, "es_id"),
            "property": property_info,
            "picture": {
                "type": _ia5(picture.type, "picture type"),
                "data": picture.data,
                "width": picture.width_mm,
                "height": picture.height_mm,
            },
        }
    )
    if extensions:
        info["extDatas"] = _extension_datas(extensions)
    algorithm = keys.signature_algorithm_oid(maker_key.algorithm)
    seal = asn1.SESeal(
        {
            "eSealInfo": info,
            "cert": maker_cert,
            "signAlgID": algorithm,
            "signedValue": maker_key.sign(info.dump()),
        }
    )
    encoded: bytes = seal.dump()
    return encoded


def sign_with_seal(
    seal_der: bytes,
    signer: keys.SigningKey,
    signer_cert: bytes,
    data_hash: bytes,
    property_info: str,
    at: datetime,
    *,
    timestamper: Callable[[bytes], bytes] | None = None,
    extensions: Sequence[Extension] = (),
) -> bytes:
    """DER SES_Signature (V4): ``signer`` seals the data whose SM3 is ``data_hash`` at ``at``.

    ``timestamper`` receives the signature value and returns the time-stamp
    token to embed (the standard stamps the signature, which exists only here).
    """
    when = _utc(at, "at")
    if len(data_hash) != DIGEST_SIZE:
        raise SealBuildError(f"data_hash must be an SM3 digest ({DIGEST_SIZE} bytes)")
    seal = _parsed_seal(seal_der)
    if seal.format_version != SEAL_VERSION:
        raise SealBuildError("only V4 (GB/T 38540) seals can sign; V1 seals are read-only")
    if not seal.valid_start <= when <= seal.valid_end:
        raise SealBuildError(
            f"the seal is valid {seal.valid_start} .. {seal.valid_end}, not at {when}",
            code="seal.build.seal_not_valid",
        )
    _matching_key(signer, signer_cert, "signer")
    not_before, not_after = _certs.validity(_certs.load_certificate(signer_cert, "signer"))
    if not not_before <= when <= not_after:
        raise SealBuildError(
            f"the signer certificate is not valid at {when}", code="seal.build.cert_not_valid"
        )
    if not seal.lists(signer_cert):
        raise SealBuildError(
            "the signer certificate is not in the seal's certList",
            code="seal.build.signer_not_listed",
        )
    tbs = asn1.TBS_Sign(
        {
            "version": SEAL_VERSION,
            "eseal": asn1.SESeal.load(seal.der),
            "timeInfo": when,
            "dataHash": data_hash,
            "propertyInfo": _ia5(property_info, "property_info"),
        }
    )
    if extensions:
        tbs["extDatas"] = _extension_datas(extensions)
    signature = signer.sign(tbs.dump())
    result = asn1.SES_Signature(
        {
            "toSign": tbs,
            "cert": signer_cert,
            "signatureAlgID": keys.signature_algorithm_oid(signer.algorithm),
            "signature": signature,
        }
    )
    if timestamper is not None:
        result["timeStamp"] = core.OctetBitString(timestamper(signature))
    encoded: bytes = result.dump()
    return encoded
