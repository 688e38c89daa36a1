"""Per-process cache of what reports need from a certificate.

A batch of licences is signed by a handful of keys: parsing the same signer
certificate and normalising its names once per process instead of once per
file is a large share of the fast path's budget.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from asn1crypto import x509

from trust.pki.names import uscc_of_identifier

__all__ = ["CertInfo", "cert_info", "sha256_hex"]

_MAX_ENTRIES: Final = 4096
_cache: dict[bytes, CertInfo] = {}
_digests: dict[bytes, str] = {}


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str
    issuer: str
    serial: str
    spki: bytes
    issuer_der: bytes
    serial_number: int
    key_identifier: bytes | None
    uscc: str | None = None  # the organisation's USCC (organizationIdentifier), if any


def cert_info(der: bytes) -> CertInfo:
    """Names, serial, SubjectPublicKeyInfo and identifiers of a certificate (DER)."""
    info = _cache.get(der)
    if info is None:
        cert = x509.Certificate.load(der)
        info = CertInfo(
            subject=str(cert.subject.human_friendly),
            issuer=str(cert.issuer.human_friendly),
            serial=format(cert.serial_number, "x"),
            spki=bytes(cert["tbs_certificate"]["subject_public_key_info"].dump()),
            issuer_der=bytes(cert.issuer.dump()),
            serial_number=int(cert.serial_number),
            key_identifier=cert.key_identifier,
            uscc=uscc_of_identifier(_organisation_id(cert)),
        )
        if len(_cache) >= _MAX_ENTRIES:
            _cache.clear()
        _cache[der] = info
    return info


def _organisation_id(cert: x509.Certificate) -> str | None:
    """The subject's organizationIdentifier (2.5.4.97), as text, or None."""
    value = cert.subject.native.get("organization_identifier")
    if isinstance(value, list):  # several: ambiguous, no organisation
        return None
    return value if isinstance(value, str) else None


def sha256_hex(der: bytes) -> str:
    """SHA-256 (hex) of a certificate -- its registry key and report fingerprint --
    once per process while remembered (any bytes: nothing is parsed)."""
    digest = _digests.get(der)
    if digest is None:
        if len(_digests) >= _MAX_ENTRIES:
            _digests.clear()
        digest = _digests[der] = hashlib.sha256(der).hexdigest()
    return digest
