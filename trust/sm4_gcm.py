"""SM4-GCM (96-bit nonce, 128-bit tag) for data at rest and archive packages.

One API, two backends with byte-identical output:

* ``ipp`` (:mod:`trust._sm4_gcm_ipp`): ipp-crypto's AES-NI SM4 inside OpenSSL's
  GCM mode, ~3x ``cryptography`` on a licence file (``sealtrust[fast]``);
* ``cryptography``: the reference, used when ipp-crypto is absent, when the CPU
  path or the self-test fails, or when ``SEALTRUST_SM4`` is ``cryptography``.

The fast backend is chosen on first use, only after it reproduces the RFC 8998
SM4-GCM test vector and agrees with ``cryptography`` (both directions) on
lengths around the block and chunk boundaries in this process. A backend that
decrypts wrongly would show garbage as a citizen's record; one that accepts a
wrong tag would let an edited row through: both are what the self-test stops.
Short values (a holder record) go to ``cryptography`` too, where its per-call
cost is lower than the callback set-up of the fast path (crossover measured in
benchmarks/bench_at_rest.py).
"""

from __future__ import annotations

import os
import threading
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from trust.errors import CryptoError, TagMismatchError

__all__ = ["TAG_BYTES", "TagMismatchError", "backend_name", "decrypt", "encrypt"]

TAG_BYTES: Final = 16
NONCE_BYTES: Final = 12
# Below this many bytes the reference's per-call cost is lower than the fast path's.
FAST_MIN_BYTES: Final = 2048
ENV_BACKEND: Final = "SEALTRUST_SM4"

# RFC 8998 appendix A.1 (SM4-GCM): key, IV, AAD, plaintext, ciphertext || tag.
_KAT: Final = (
    bytes.fromhex("0123456789abcdeffedcba9876543210"),
    bytes.fromhex("00001234567800000000abcd"),
    bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
    bytes.fromhex("aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd"
                  "eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa"),
    bytes.fromhex("17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735"
                  "d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d"
                  "83de3541e4c2b58177e065a9bf7b62ec"),
)


class _Backend(Protocol):
    name: str

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes,
                prefix: bytes = b"") -> bytes: ...

    def decrypt(self, key: bytes, nonce: bytes, data: bytes, aad: bytes,
                start: int) -> bytes: ...


class _Reference:
    """SM4-GCM through ``cryptography`` (its bundled OpenSSL, portable C SM4)."""

    name = "cryptography"

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes,
                prefix: bytes = b"") -> bytes:
        enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        if aad:
            enc.authenticate_additional_data(aad)
        body = enc.update(plaintext)
        tail = enc.finalize()
        return b"".join((prefix, body, tail, enc.tag))

    def decrypt(self, key: bytes, nonce: bytes, data: bytes, aad: bytes,
                start: int) -> bytes:
        if len(data) - start < TAG_BYTES:
            raise TagMismatchError("SM4-GCM: shorter than a tag")
        dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, data[-TAG_BYTES:])).decryptor()
        if aad:
            dec.authenticate_additional_data(aad)
        try:
            return dec.update(memoryview(data)[start:-TAG_BYTES]) + dec.finalize()
        except InvalidTag:
            raise TagMismatchError("SM4-GCM tag mismatch") from None


_REFERENCE: Final = _Reference()
_lock = threading.Lock()
_fast: _Backend | None = None
_chosen = False
_why_not = ""


def _self_test(candidate: _Backend) -> None:
    """Raise unless ``candidate`` matches RFC 8998 and the reference, and refuses bad tags."""
    key, iv, aad, pt, expected = _KAT
    if candidate.encrypt(key, iv, pt, aad) != expected:
        raise CryptoError("RFC 8998 SM4-GCM vector: wrong ciphertext or tag")
    if candidate.decrypt(key, iv, expected, aad, 0) != pt:
        raise CryptoError("RFC 8998 SM4-GCM vector: wrong decryption")
    for n in (0, 1, 15, 16, 17, 255, 3071, 3072, 3073, 6160, 100_003):
        k, nonce, data, ad = os.urandom(16), os.urandom(12), os.urandom(n), os.urandom(n % 41)
        ours = candidate.encrypt(k, nonce, data, ad, b"P")
        if ours != _REFERENCE.encrypt(k, nonce, data, ad, b"P"):
            raise CryptoError(f"differs from cryptography at {n} bytes")
        if _REFERENCE.decrypt(k, nonce, ours, ad, 1) != data or \
                candidate.decrypt(k, nonce, ours, ad, 1) != data:
            raise CryptoError(f"does not decrypt its own output at {n} bytes")
        bad = bytearray(ours)
        bad[-1 - (n % 16)] ^= 1
        try:
            candidate.decrypt(k, nonce, bytes(bad), ad, 1)
        except TagMismatchError:
            continue
        raise CryptoError(f"accepted an altered value at {n} bytes")


def _fast_backend() -> _Backend | None:
    """The self-tested fast backend, chosen once per process (None: use the reference)."""
    global _fast, _chosen, _why_not
    if _chosen:
        return _fast
    with _lock:
        if _chosen:
            return _fast
        wanted = os.environ.get(ENV_BACKEND, "auto").strip().lower()
        if wanted == "cryptography":
            _why_not = f"{ENV_BACKEND}=cryptography"
        else:
            try:
                from trust._sm4_gcm_ipp import IppSm4Gcm

                candidate: _Backend = IppSm4Gcm()
                _self_test(candidate)
                _fast = candidate
            except (ImportError, OSError, CryptoError) as exc:
                _why_not = f"ipp-crypto SM4 unavailable: {exc}"
        _chosen = True
        return _fast


def _backend_for(length: int) -> _Backend:
    if length >= FAST_MIN_BYTES:
        fast = _fast_backend()
        if fast is not None:
            return fast
    return _REFERENCE


def encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"",
            prefix: bytes = b"") -> bytes:
    """``prefix || SM4-GCM ciphertext || 16-byte tag`` of ``plaintext``."""
    if len(key) != 16 or len(nonce) != NONCE_BYTES:
        raise CryptoError("SM4-GCM takes a 16-byte key and a 12-byte nonce")
    return _backend_for(len(plaintext)).encrypt(key, nonce, bytes(plaintext), aad, prefix)


def decrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes = b"", start: int = 0) -> bytes:
    """The plaintext of ``data[start:-16]`` under the tag ``data[-16:]``; else TagMismatchError."""
    if len(key) != 16 or len(nonce) != NONCE_BYTES:
        raise CryptoError("SM4-GCM takes a 16-byte key and a 12-byte nonce")
    if len(data) - start < TAG_BYTES or start < 0:
        raise TagMismatchError("SM4-GCM: shorter than a tag")
    data = bytes(data)
    return _backend_for(len(data) - start).decrypt(key, nonce, data, aad, start)


def backend_name() -> str:
    """Which backend large values use, and why not the fast one (for ``sealtrust doctor``)."""
    fast = _fast_backend()
    if fast is not None:
        return f"{fast.name} (values >= {FAST_MIN_BYTES} bytes; shorter: cryptography)"
    return f"cryptography ({_why_not})"
