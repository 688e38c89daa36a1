"""The few facts token-side trust needs from an X.509 certificate.

Trust lists and token verifiers need a certificate's key, kid, validity and
issuer link, not path building; asn1crypto parses (it reads SM2
certificates, which ``cryptography`` cannot), trust.keys verifies. (When
trust/pki lands with full path validation, this stays the cheap per-token view.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from asn1crypto import x509

from trust import keys
from trust.errors import InputError
from trust.token.cose import kid_of

__all__ = ["CertFacts", "ext_key_usage"]

_ASN1_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("time must be a timezone-aware datetime", code="input.naive_datetime")
    return moment


@lru_cache(maxsize=1024)
def ext_key_usage(der: bytes) -> frozenset[str]:
    """The extended key usage OIDs of a certificate (empty without the extension)."""
    try:
        value = x509.Certificate.load(der, strict=True).extended_key_usage_value
        return frozenset(str(p.dotted) for p in value) if value is not None else frozenset()
    except _ASN1_ERRORS as exc:
        raise InputError(f"malformed certificate: {exc}", code="input.certificate") from None


@dataclass(frozen=True, slots=True)
class CertFacts:
    """Parsed once at load: everything later checks read, nothing they must re-parse."""

    der: bytes
    kid: bytes
    spki: bytes
    subject: str
    subject_name: bytes
    issuer_name: bytes
    not_before: datetime
    not_after: datetime
    signature_oid: str
    signature: bytes
    tbs: bytes

    @classmethod
    def from_der(cls, der: bytes) -> CertFacts:
        """Parse DER; any malformation is an InputError, never a bare exception."""
        if not isinstance(der, bytes) or len(der) > 16384:
            raise InputError("certificate must be at most 16 KiB of DER bytes")
        try:
            cert = x509.Certificate.load(der, strict=True)
            tbs = cert["tbs_certificate"]
            validity = tbs["validity"]
            return cls(
                der=der,
                kid=kid_of(der),
                spki=bytes(tbs["subject_public_key_info"].dump()),
                subject=str(tbs["subject"].human_friendly),
                subject_name=bytes(tbs["subject"].dump()),
                issuer_name=bytes(tbs["issuer"].dump()),
                not_before=validity["not_before"].native,
                not_after=validity["not_after"].native,
                signature_oid=str(cert["signature_algorithm"]["algorithm"].dotted),
                signature=bytes(cert["signature_value"].native),
                tbs=bytes(tbs.dump()),
            )
        except _ASN1_ERRORS as exc:
            raise InputError(f"malformed certificate: {exc}", code="input.certificate") from None

    def valid_at(self, moment: datetime) -> bool:
        """Inside notBefore..notAfter at an explicit aware ``moment``."""
        return self.not_before <= _aware(moment) <= self.not_after

    def issued_by(self, ca: CertFacts) -> bool:
        """Issuer name matches ``ca``'s subject and ``ca``'s key verifies the signature."""
        if self.issuer_name != ca.subject_name:
            return False
        try:
            return keys.verify_signature(ca.spki, self.signature_oid, self.tbs, self.signature)
        except keys.UnsupportedKeyError:
            return False
