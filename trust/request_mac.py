"""Keyed request digests: HMAC-SM3 under a deployment key instead of a plain SHA-256.

Issuance remembers a digest of each request so that a retry with the same
idempotency key is told apart from a different request, and batch runs use
the digest of a record as that record's idempotency key. A plain hash of a
licence record is a dictionary attack away from the identity number inside
it (a resident ID number has about 40 bits of entropy), so what is stored is

    HMAC-SM3(request key, "SealTrust request v1" || 0x00 || SHA-256(canonical request))

The SHA-256 inside is the digest rows stored before migration 0012: keeping
it as the MAC's input lets :func:`trust.registry.request_macs.upgrade_request_macs`
key every existing row from its stored digest alone, without decrypting a
single record, and makes the keyed value of a request the same whether its
row was issued after the upgrade or upgraded. The key is a 32-byte random
file (``keys/request-digest.key``, 0600) held like the holder-reference key.

    >>> key = RequestKey(bytes(32))
    >>> len(key.mac("00" * 32))
    64
"""

from __future__ import annotations

import re
from typing import Final

from cryptography.hazmat.primitives import hashes, hmac

from trust.errors import InputError

__all__ = ["LEGACY_KEY", "MAC_MARK", "RequestKey", "keyed_idempotency_key"]

KEY_BYTES: Final = 32
_LABEL: Final = b"SealTrust request v1\x00"
_SHA256_HEX: Final = re.compile(r"^[0-9a-f]{64}$")
MAC_MARK: Final = "m"
# Derived idempotency keys from before 0012: "batch:<sha256>" and "job:<job id>:<sha256>".
LEGACY_KEY: Final = re.compile(r"^(batch|job:[0-9a-f]{1,64}):([0-9a-f]{64})$")


class RequestKey:
    """The request-digest key; its bytes never appear in ``repr`` or errors."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) < KEY_BYTES:
            raise InputError(f"a request key has at least {KEY_BYTES} bytes",
                             code="request.key")
        self._secret = secret

    def mac(self, sha256_hex: str) -> str:
        """Hex HMAC-SM3 (64 characters) of a request's SHA-256 (64 lower-case hex digits)."""
        if not _SHA256_HEX.match(sha256_hex):
            raise InputError("a request digest is 64 lower-case hex digits",
                             code="request.digest")
        mac = hmac.HMAC(self._secret, hashes.SM3())
        mac.update(_LABEL + bytes.fromhex(sha256_hex))
        return mac.finalize().hex()

    def __repr__(self) -> str:
        return "RequestKey(<secret>)"


def keyed_idempotency_key(key: RequestKey, scope: str, sha256_hex: str) -> str:
    """``<scope>:m:<mac>``: a derived idempotency key that names no unkeyed digest.

    ``scope`` is ``batch`` or ``job:<job id>``; the pre-0012 form was
    ``<scope>:<sha256>`` (:data:`LEGACY_KEY`), looked up but never written.
    """
    return f"{scope}:{MAC_MARK}:{key.mac(sha256_hex)}"
