"""The embedded RFC 3161 signature time-stamp: integrity facts, read once per file.

The token proves the signature value existed at genTime, so its message
imprint must hash exactly the SignerInfo signature value (RFC 3161 appendix
A, EN 319 122-1 5.3). Its TSA chain (timeStamping key usage) depends on trust
anchors and time and is therefore judged later, in the checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from verification.certinfo import sha256_hex
from verification.cms import SignedCms, digest_ranges, parse_cms
from verification.errors import CmsFormatError

__all__ = ["TokenFacts", "token_facts"]


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """What the checks need from one signature time-stamp token."""

    gen_time: datetime | None
    valid: bool | None  # None: an algorithm we cannot check
    detail: str
    tsa_cert: bytes | None
    certificates: tuple[bytes, ...]


def token_facts(token: bytes, signature_value: bytes, *,
                parsed: SignedCms | None = None) -> TokenFacts:
    """Parse the token (unless ``parsed`` is its parse) and check its imprint and its
    signature (never raises)."""
    try:
        stamp = parsed if parsed is not None else parse_cms(token, timestamp=True)
        imprint = digest_ranges(
            signature_value, ((0, len(signature_value)),), stamp.range_digest_algorithm
        )
    except CmsFormatError as exc:
        return TokenFacts(None, False, f"time-stamp token unreadable: {exc.message}", None, ())
    integrity = stamp.check(imprint)
    if not integrity.digest_matches:
        valid: bool | None = False
        detail = "time-stamp imprint does not hash this signature value"
    else:
        valid = integrity.signature_valid
        detail = integrity.detail or f"TSA signature verifies ({stamp.signature_algorithm})"
    return TokenFacts(
        stamp.timestamp_time, valid, detail, stamp.signer_cert, stamp.certificates
    )


def fingerprint(der: bytes) -> str:
    """SHA-256 hex of a DER object: the key of every per-process cache here."""
    return sha256_hex(der)
