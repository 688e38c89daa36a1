"""The few certificate facts seals need, read with asn1crypto.

Seals only need a certificate's key, validity, subject and digest; chain
building and revocation belong to the injected chain validator.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final

from asn1crypto import x509

from trust import oids
from trust.seal.errors import SealFormatError
from trust.sm3 import sm3


def _sha(name: str) -> Callable[[bytes], bytes]:
    return lambda data: hashlib.new(name, data).digest()


# CertDigestObj.type values we can compute. The standard leaves the spelling
# open; we write "sm3" and read the common variants.
DIGESTS: Final[dict[str, Callable[[bytes], bytes]]] = {
    "sm3": sm3,
    oids.SM3: sm3,
    "sha256": _sha("sha256"),
    "sha-256": _sha("sha256"),
    "2.16.840.1.101.3.4.2.1": _sha("sha256"),
    "sha1": _sha("sha1"),
    "sha-1": _sha("sha1"),
}


@functools.lru_cache(maxsize=256)
def _parse(der: bytes) -> x509.Certificate:
    # Bulk verification meets the same few maker and signer certificates again
    # and again; parsed certificates are only read, never changed.
    cert = x509.Certificate.load(der, strict=True)
    _ = cert.native  # parse every field now, not halfway through a verification
    _ = cert.subject.human_friendly
    return cert


def load_certificate(der: bytes, what: str) -> x509.Certificate:
    """A fully parsed certificate, or SealFormatError naming ``what``."""
    try:
        return _parse(bytes(der))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as exc:
        raise SealFormatError(f"{what} is not a valid X.509 certificate ({exc})") from exc


def spki(cert: x509.Certificate) -> bytes:
    encoded: bytes = cert["tbs_certificate"]["subject_public_key_info"].dump()
    return encoded


def validity(cert: x509.Certificate) -> tuple[datetime, datetime]:
    period = cert["tbs_certificate"]["validity"]
    return period["not_before"].native, period["not_after"].native


def subject(cert: x509.Certificate) -> str:
    text: str = cert.subject.human_friendly
    return text


def digest(cert_der: bytes, digest_type: str) -> bytes | None:
    """The digest of ``cert_der`` named by a CertDigestObj type, or None if unknown."""
    fn = DIGESTS.get(digest_type.strip().lower())
    return None if fn is None else fn(cert_der)


def listed(
    cert_der: bytes,
    certificates: Iterable[bytes | None],
    digests: Iterable[tuple[str | None, bytes | None]],
) -> bool:
    """True iff the certificate is in a type 1 list (bytes) or a type 2 list (digest)."""
    if any(c is not None and hmac.compare_digest(c, cert_der) for c in certificates):
        return True
    for kind, value in digests:
        if kind is None or value is None:
            continue
        computed = digest(cert_der, kind)
        if computed is not None and hmac.compare_digest(computed, value):
            return True
    return False
