"""Token text <-> signed claims: sign, encode, and the staged decoder.

Wire format (version 1): ``LZ1:`` + Base45(COSE_Sign1(claims CBOR)). No zlib:
below ~400 bytes compression gains nothing (DCC measured the same), and one
stage fewer is one parser fewer. A future format gets a new prefix.

Each decoding stage is its own function raising its own typed error, so the
conformance suite and the verifier can say which stage refused a token.

    >>> unprefix("LZ1:ABC")
    'ABC'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from asn1crypto import x509

from trust import keys
from trust.token import base45
from trust.token.claims import Claims
from trust.token.cose import Sign1, decode_sign1, kid_of, sign1
from trust.token.errors import CoseFormatError, TokenFormatError

__all__ = [
    "MAX_TOKEN_CHARS",
    "PREFIX",
    "DecodedToken",
    "PrefixError",
    "decode_token",
    "encode_token",
    "unprefix",
]

PREFIX: Final = "LZ1:"
MAX_TOKEN_CHARS: Final = 4096


class PrefixError(TokenFormatError):
    """Not a SealTrust token (or a version this verifier does not read)."""

    code = "token.prefix"


@dataclass(frozen=True, slots=True)
class DecodedToken:
    """A structurally valid token whose signature is NOT yet checked."""

    envelope: Sign1
    claims: Claims


def _certificate_spki(certificate_der: bytes) -> bytes:
    try:
        cert = x509.Certificate.load(certificate_der, strict=True)
        return bytes(cert["tbs_certificate"]["subject_public_key_info"].dump())
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        raise TokenFormatError(f"malformed signer certificate: {exc}") from None


def encode_token(claims: Claims, key: keys.SigningKey, certificate_der: bytes) -> str:
    """Sign ``claims`` with ``key`` (whose certificate is ``certificate_der``) into QR text."""
    if _certificate_spki(certificate_der) != key.public_key_der():
        raise TokenFormatError("signing key does not match the signer certificate")
    signed = sign1(claims.to_cbor(), key, kid=kid_of(certificate_der))
    return PREFIX + base45.encode(signed)


def unprefix(text: str) -> str:
    """Strip the versioned prefix; refuse over-long text before any decoding."""
    if not isinstance(text, str):
        raise TokenFormatError("token must be text")
    if len(text) > MAX_TOKEN_CHARS:
        raise TokenFormatError(f"token of {len(text)} characters exceeds {MAX_TOKEN_CHARS}")
    if not text.startswith(PREFIX):
        raise PrefixError(f"token does not start with {PREFIX!r}")
    return text[len(PREFIX) :]


def decode_token(text: str) -> DecodedToken:
    """Prefix -> Base45 -> COSE_Sign1 -> claims; the signature is checked by the verifier."""
    envelope = decode_sign1(base45.decode(unprefix(text)))
    if envelope.content_type is not None:
        raise CoseFormatError("a token carries no content type (is this a signed list?)")
    return DecodedToken(envelope, Claims.from_cbor(envelope.payload))
