"""Typed errors of the token, status-list and trust-list formats.

Each carries a stable dotted code so the API and CLI can map it without
knowing the class; all are InputError (bad bytes) or TrustError (bad trust).
"""

from __future__ import annotations

from trust.errors import InputError, TrustError

__all__ = ["ClaimsError", "CoseFormatError", "TokenFormatError", "TokenTrustError"]


class TokenFormatError(InputError):
    """The text or bytes are not a well-formed token (prefix, Base45, size)."""

    code = "token.format"


class CoseFormatError(TokenFormatError):
    """The CBOR / COSE_Sign1 structure is malformed or uses a refused option."""

    code = "token.cose"


class ClaimsError(TokenFormatError):
    """The payload claims are missing, mistyped or would leak unmasked data."""

    code = "token.claims"


class TokenTrustError(TrustError):
    """A signed list (trust list, status list) failed its signature or rules."""

    code = "token.trust"
