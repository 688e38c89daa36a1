"""An immutable, fully parsed X.509 certificate.

asn1crypto parses lazily, so a malformed field would surface as a random
exception deep inside chain validation. :class:`Certificate` reads every
field it exposes once, at construction, and turns any failure into
:class:`CertificateFormatError`; afterwards nothing can fail and nothing is
re-parsed (the bulk verifier's hot path).

    >>> cert = Certificate.from_pem(pem_text)            # doctest: +SKIP
    >>> cert.subject_text, cert.key_algorithm, cert.is_ca  # doctest: +SKIP
    ('C=CN,O=示例,CN=测试', 'sm2', False)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from asn1crypto import pem, x509

from trust import sm3
from trust.keys import UnsupportedKeyError, algorithm_of_spki
from trust.pki.errors import CertificateFormatError, require_aware
from trust.pki.names import uscc_of_identifier

__all__ = ["MAX_CERTIFICATE_SIZE", "Certificate", "parse_cached"]

MAX_CERTIFICATE_SIZE: Final = 64 * 1024
_ASN1_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)

# Extensions whose meaning SealTrust applies; any other critical one fails validation.
HANDLED_EXTENSIONS: Final = frozenset(
    {
        "2.5.29.14",  # subjectKeyIdentifier
        "2.5.29.15",  # keyUsage
        "2.5.29.19",  # basicConstraints
        "2.5.29.31",  # cRLDistributionPoints
        "2.5.29.32",  # certificatePolicies (recorded; no policy mapping is processed)
        "2.5.29.35",  # authorityKeyIdentifier
        "2.5.29.37",  # extKeyUsage
    }
)

_SHORT_NAMES: Final = {
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "common_name": "CN",
    "serial_number": "serialNumber",
    "organization_identifier": "organizationIdentifier",
}


def _escape(value: str) -> str:
    """RFC 4514 escaping, enough that a name cannot impersonate another in text."""
    out = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def _name_text(name: x509.Name) -> tuple[str, dict[str, str]]:
    """RFC 4514-style text (most significant RDN first, as people read it) and a field map."""
    parts: list[str] = []
    fields: dict[str, str] = {}
    for rdn in name.chosen:
        for atv in rdn:
            key = atv["type"].native
            value = atv["value"].native
            if not isinstance(value, str):
                value = str(value)
            fields.setdefault(key, value)
            parts.append(f"{_SHORT_NAMES.get(key, atv['type'].dotted)}={_escape(value)}")
    return ",".join(parts), fields


@dataclass(frozen=True, slots=True, init=False, eq=False, repr=False)
class Certificate:
    """A parsed certificate; build it with :meth:`from_der` / :meth:`from_pem` only.

    ``key_usage`` holds asn1crypto KeyUsage names (``digital_signature``,
    ``key_cert_sign``...) and ``ext_key_usage`` dotted OIDs; both are ``None``
    when the extension is absent, which RFC 5280 reads as "unrestricted".
    ``key_algorithm`` is the :mod:`trust.keys` name, ``None`` for keys
    SealTrust cannot verify with. ``unhandled_critical`` lists critical
    extensions SealTrust does not process (chain validation rejects them).
    """

    der: bytes
    tbs_der: bytes  # what the issuer signed
    signature_oid: str  # dotted
    signature: bytes
    version: int  # 1..3
    serial: int
    subject_der: bytes
    issuer_der: bytes
    subject_text: str  # RFC 4514 style, most significant first: C=CN,O=...,CN=...
    issuer_text: str
    subject_fields: MappingProxyType[str, str]  # asn1crypto attribute name -> first value
    not_before: datetime  # timezone-aware UTC
    not_after: datetime
    spki_der: bytes
    key_algorithm: str | None
    is_ca: bool
    path_len: int | None
    key_usage: frozenset[str] | None
    ext_key_usage: frozenset[str] | None
    ski: bytes | None
    aki: bytes | None
    policies: frozenset[str]
    crl_urls: tuple[str, ...]  # hook for the revocation layer
    unhandled_critical: frozenset[str]
    sha256: bytes  # fingerprints of the DER: cache keys, kid values, seal cert digests
    sm3: bytes

    def __init__(self, der: bytes | bytearray | memoryview) -> None:
        if not isinstance(der, bytes | bytearray | memoryview):
            raise CertificateFormatError("a certificate must be given as bytes")
        der = bytes(der)
        if not der or len(der) > MAX_CERTIFICATE_SIZE:
            raise CertificateFormatError(
                f"certificate size {len(der)} outside 1..{MAX_CERTIFICATE_SIZE} bytes"
            )
        try:
            values = _parse(der)
        except CertificateFormatError:
            raise
        except _ASN1_ERRORS as exc:
            raise CertificateFormatError(f"malformed certificate: {exc}") from None
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_der(cls, der: bytes | bytearray | memoryview) -> Certificate:
        """Parse one DER certificate (no trailing bytes); malformed input raises."""
        return cls(der)

    @classmethod
    def from_pem(cls, data: bytes | str) -> Certificate:
        """Parse exactly one PEM ``CERTIFICATE`` block."""
        from trust.pki.pem import pem_certificates

        blocks = pem_certificates(data)
        if len(blocks) != 1:
            raise CertificateFormatError(f"expected one PEM certificate, found {len(blocks)}")
        return cls(blocks[0])

    def to_pem(self) -> str:
        """PEM text (``-----BEGIN CERTIFICATE-----``)."""
        armored: bytes = pem.armor("CERTIFICATE", self.der)
        return armored.decode("ascii")

    def to_asn1(self) -> x509.Certificate:
        """A fresh asn1crypto object, for libraries (pyHanko, CMS builders) that need one."""
        return x509.Certificate.load(self.der)

    @property
    def uscc(self) -> str | None:
        """The subject's unified social credit code from organizationIdentifier, if valid."""
        return uscc_of_identifier(self.subject_fields.get("organization_identifier"))

    @property
    def common_name(self) -> str | None:
        return self.subject_fields.get("common_name")

    @property
    def self_issued(self) -> bool:
        """Subject and issuer are the same name (a root or a CA key-rollover certificate)."""
        return self.subject_der == self.issuer_der

    def valid_at(self, at: datetime) -> bool:
        """``not_before <= at <= not_after`` (RFC 5280 §4.1.2.5: both ends inclusive)."""
        require_aware(at, "at")
        return self.not_before <= at <= self.not_after

    def __repr__(self) -> str:
        return (
            f"Certificate(subject={self.subject_text!r}, issuer={self.issuer_text!r}, "
            f"serial={self.serial:#x}, sha256={self.sha256[:8].hex()}...)"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.sha256)


def _parse(der: bytes) -> dict[str, Any]:
    cert = x509.Certificate.load(der, strict=True)
    tbs = cert["tbs_certificate"]
    if tbs["signature"].dump() != cert["signature_algorithm"].dump():
        raise CertificateFormatError("signature algorithm differs inside and outside the TBS")
    version = {"v1": 1, "v2": 2, "v3": 3}[tbs["version"].native]
    serial = tbs["serial_number"].native
    if not isinstance(serial, int) or serial <= 0:
        raise CertificateFormatError("certificate serial number must be a positive integer")
    not_before = tbs["validity"]["not_before"].native
    not_after = tbs["validity"]["not_after"].native
    if not isinstance(not_before, datetime) or not isinstance(not_after, datetime):
        raise CertificateFormatError("validity times are not valid dates")
    subject_text, subject_fields = _name_text(tbs["subject"])
    issuer_text, _ = _name_text(tbs["issuer"])
    spki_der = tbs["subject_public_key_info"].dump()
    try:
        key_algorithm: str | None = algorithm_of_spki(spki_der)
    except UnsupportedKeyError:
        key_algorithm = None
    signature = cert["signature_value"].native
    if not isinstance(signature, bytes):
        raise CertificateFormatError("signature value is not a byte string")
    values: dict[str, Any] = {
        "der": der,
        "tbs_der": tbs.dump(),
        "signature_oid": cert["signature_algorithm"]["algorithm"].dotted,
        "signature": signature,
        "version": version,
        "serial": serial,
        "subject_der": tbs["subject"].dump(),
        "issuer_der": tbs["issuer"].dump(),
        "subject_text": subject_text,
        "issuer_text": issuer_text,
        "subject_fields": MappingProxyType(subject_fields),
        "not_before": not_before,
        "not_after": not_after,
        "spki_der": spki_der,
        "key_algorithm": key_algorithm,
        "sha256": hashlib.sha256(der).digest(),
        "sm3": sm3.sm3(der),
    }
    values.update(_extensions(tbs))
    return values


def _extensions(tbs: x509.TbsCertificate) -> dict[str, Any]:
    seen: set[str] = set()
    unhandled: set[str] = set()
    out: dict[str, Any] = {
        "is_ca": False,
        "path_len": None,
        "key_usage": None,
        "ext_key_usage": None,
        "ski": None,
        "aki": None,
        "policies": frozenset(),
        "crl_urls": (),
    }
    extensions = tbs["extensions"]
    if not isinstance(extensions, x509.Extensions):
        return {**out, "unhandled_critical": frozenset()}
    for ext in extensions:
        oid = ext["extn_id"].dotted
        if oid in seen:
            raise CertificateFormatError(f"extension {oid} appears twice")
        seen.add(oid)
        critical = bool(ext["critical"].native)
        if oid not in HANDLED_EXTENSIONS:
            if critical:
                unhandled.add(oid)
            continue
        value = ext["extn_value"].parsed
        if oid == "2.5.29.19":
            out["is_ca"] = bool(value["ca"].native)
            out["path_len"] = value["path_len_constraint"].native
        elif oid == "2.5.29.15":
            out["key_usage"] = frozenset(value.native)
        elif oid == "2.5.29.37":
            out["ext_key_usage"] = frozenset(p.dotted for p in value)
        elif oid == "2.5.29.14":
            out["ski"] = value.native
        elif oid == "2.5.29.35":
            out["aki"] = value["key_identifier"].native
        elif oid == "2.5.29.32":
            out["policies"] = frozenset(p["policy_identifier"].dotted for p in value)
        elif oid == "2.5.29.31":
            out["crl_urls"] = tuple(_crl_urls(value))
    out["unhandled_critical"] = frozenset(unhandled)
    return out


def _crl_urls(points: x509.CRLDistributionPoints) -> list[str]:
    urls: list[str] = []
    for point in points:
        name = point["distribution_point"]
        if name.name != "full_name":
            continue
        urls.extend(g.native for g in name.chosen if g.name == "uniform_resource_identifier")
    return urls


def parse_cached(der: bytes | bytearray | memoryview) -> Certificate:
    """:meth:`Certificate.from_der` memoised on the bytes: bulk verification sees the same
    few CA and signer certificates in every document, and certificates are immutable."""
    if isinstance(der, bytes):
        return _parse_memo(der)
    return Certificate(der)  # bytearray/memoryview are unhashable: parse, do not cache


@lru_cache(maxsize=4096)
def _parse_memo(der: bytes) -> Certificate:
    return Certificate(der)
