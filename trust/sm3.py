"""SM3 digest (GB/T 32905) and the SM2 signer-identity value Z.

Uses the system OpenSSL through hashlib when it has SM3, else ``cryptography``: the
choice is made here once (:data:`HASHLIB`), for every SM3 the package computes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Final, Protocol

from cryptography.hazmat.primitives import hashes

from trust.errors import InputError

__all__ = [
    "DIGEST_SIZE",
    "GX",
    "GY",
    "HASHLIB",
    "A",
    "B",
    "Context",
    "N",
    "SM3InputError",
    "context",
    "e_value",
    "new",
    "prefixed",
    "sm3",
    "z_value",
]

# sm2p256v1 domain parameters (GM/T 0003.5), needed only to hash Z.
A: Final = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC")
B: Final = bytes.fromhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93")
GX: Final = bytes.fromhex("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7")
GY: Final = bytes.fromhex("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")
N: Final = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)
DIGEST_SIZE: Final = 32


class SM3InputError(InputError, ValueError):
    """A malformed point or over-long user ID for Z (also a ValueError, as before)."""

    code = "sm3.input"


def _hashlib_has_sm3() -> bool:
    try:
        hashlib.new("sm3", b"abc")
    except ValueError:
        return False
    return True


HASHLIB: Final = _hashlib_has_sm3()
"""True when hashlib (the system OpenSSL) computes SM3; else ``cryptography`` does."""


class Context(Protocol):
    """An incremental SM3 context, hashlib's interface (what the verifier's hashing needs)."""

    def update(self, data: bytes | memoryview, /) -> None: ...
    def copy(self) -> Context: ...
    def digest(self) -> bytes: ...


class _CryptographyContext:
    """``cryptography``'s SM3 behind hashlib's interface."""

    __slots__ = ("_h",)

    def __init__(self, h: hashes.Hash) -> None:
        self._h = h

    def update(self, data: bytes | memoryview, /) -> None:
        self._h.update(bytes(data))

    def copy(self) -> _CryptographyContext:
        return _CryptographyContext(self._h.copy())

    def digest(self) -> bytes:
        return self._h.copy().finalize()  # (hashlib's digest leaves the context usable)


def context() -> Context:
    """An empty incremental SM3 context from the backend :data:`HASHLIB` names."""
    if HASHLIB:
        return hashlib.new("sm3")
    return _CryptographyContext(hashes.Hash(hashes.SM3()))


def _cryptography_sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _pick() -> Callable[[bytes], bytes]:
    if not HASHLIB:
        return _cryptography_sm3

    def _hashlib_sm3(data: bytes) -> bytes:
        return hashlib.new("sm3", data).digest()

    return _hashlib_sm3


sm3: Callable[[bytes], bytes] = _pick()
"""SM3 of ``data`` (32 bytes)."""


def _pick_prefixed() -> Callable[[bytes], Callable[[bytes], bytes]]:
    if not HASHLIB:

        def _cryptography_prefixed(prefix: bytes) -> Callable[[bytes], bytes]:
            base = hashes.Hash(hashes.SM3())
            base.update(prefix)
            copy = base.copy

            def run(data: bytes) -> bytes:
                h = copy()
                h.update(data)
                return h.finalize()

            return run

        return _cryptography_prefixed

    def _hashlib_prefixed(prefix: bytes) -> Callable[[bytes], bytes]:
        copy = hashlib.new("sm3", prefix).copy

        def run(data: bytes) -> bytes:
            h = copy()
            h.update(data)
            return h.digest()

        return run

    return _hashlib_prefixed


prefixed: Callable[[bytes], Callable[[bytes], bytes]] = _pick_prefixed()
"""``prefixed(p)(data) == sm3(p + data)``, with ``p`` absorbed once.

SM2 verification hashes Z || M with the same Z for every signature of one key
and ID: copying a context that already holds Z saves the digest lookup and the
concatenation (a copy of M) on every verification. The returned function only
copies its base context, never updates it, so threads may share it.
"""


def new() -> hashes.Hash:
    """An incremental SM3 context, for hashing PDF byte ranges without copying."""
    return hashes.Hash(hashes.SM3())


def z_value(public_point: bytes, uid: bytes) -> bytes:
    """Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) for a 65-byte point."""
    if len(public_point) != 65 or public_point[0] != 4:
        raise SM3InputError("public point must be 65 bytes, uncompressed (04||X||Y)")
    bits = len(uid) * 8
    if bits > 0xFFFF:
        raise SM3InputError("SM2 user ID longer than 8191 bytes")
    return sm3(bits.to_bytes(2, "big") + uid + A + B + GX + GY + public_point[1:])


def e_value(public_point: bytes, message: bytes, uid: bytes) -> bytes:
    """e = SM3(Z || M): what a device that signs prehashed input is given."""
    return sm3(z_value(public_point, uid) + message)
