"""The 亮证 QR token: signed, compact, masked; offline and online validation.

    >>> from trust.token import PREFIX
    >>> PREFIX
    'LZ1:'

Issue with :func:`encode_token`, validate with :func:`verify_token` against a
:class:`~trust.trustlist.TrustList` and :class:`~trust.status.StatusList`
(formats in docs/qr-format.md).

Names resolve lazily (PEP 562): trust.status and trust.trustlist import the
low-level modules of this package (cose, certs), and this package's verifier
imports them back; loading submodules on first use keeps that cycle benign.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trust.token.claims import (
        PRESENTATION_LIFETIME,
        REFRESH_INTERVAL,
        Claims,
        Grant,
        TokenKind,
        mask_id_number,
        mask_name,
        new_jti,
    )
    from trust.token.codec import PREFIX, DecodedToken, decode_token, encode_token
    from trust.token.cose import kid_of
    from trust.token.errors import ClaimsError, CoseFormatError, TokenFormatError, TokenTrustError
    from trust.token.online import InMemoryLiveStatus, InMemoryReplayCache, LiveStatus, ReplayCache
    from trust.token.verify import TokenResult, VerifierPolicy, verify_token

__all__ = [
    "PREFIX",
    "PRESENTATION_LIFETIME",
    "REFRESH_INTERVAL",
    "Claims",
    "ClaimsError",
    "CoseFormatError",
    "DecodedToken",
    "Grant",
    "InMemoryLiveStatus",
    "InMemoryReplayCache",
    "LiveStatus",
    "ReplayCache",
    "TokenFormatError",
    "TokenKind",
    "TokenResult",
    "TokenTrustError",
    "VerifierPolicy",
    "decode_token",
    "encode_token",
    "kid_of",
    "mask_id_number",
    "mask_name",
    "new_jti",
    "verify_token",
]

_HOME = {
    "PREFIX": "codec",
    "DecodedToken": "codec",
    "decode_token": "codec",
    "encode_token": "codec",
    "kid_of": "cose",
    "TokenResult": "verify",
    "VerifierPolicy": "verify",
    "verify_token": "verify",
    "InMemoryLiveStatus": "online",
    "InMemoryReplayCache": "online",
    "LiveStatus": "online",
    "ReplayCache": "online",
    "ClaimsError": "errors",
    "CoseFormatError": "errors",
    "TokenFormatError": "errors",
    "TokenTrustError": "errors",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'trust.token' has no attribute {name!r}")
    module = importlib.import_module(f"trust.token.{_HOME.get(name, 'claims')}")
    value = getattr(module, name)
    globals()[name] = value
    return value
