"""SM4-GCM at AES-NI speed: OpenSSL's GCM mode over ipp-crypto's SM4.

Why: ``cryptography`` (and every OpenSSL 3.x build) runs SM4 in portable C at
~120 MB/s on x86-64, which made sealing a licence file a tenth of an issuance.
ipp-crypto computes the SM4 S-box with AES-NI (the affine-isomorphism technique)
at ~600 MB/s here, but offers no SM4-GCM. OpenSSL runs the GCM mode for any
128-bit block cipher through its public ``CRYPTO_gcm128_*`` API (modes.h), with
its PCLMULQDQ GHASH.

Division of work, so that OpenSSL keeps GCM's bookkeeping (H, J0 and E(J0),
GHASH over the associated data and ciphertext, the length block, the tag and its
constant-time comparison) and ipp-crypto does the bulk SM4:

* ``block`` callback: one SM4 block through ipp-crypto (H, E(J0), the last
  partial block);
* the whole blocks of the message: one ipp-crypto SM4-CTR call with GCM's first
  data counter ``nonce || 00000002`` and a 32-bit counter (GCM's ``inc32``);
* OpenSSL then runs ``CRYPTO_gcm128_{en,de}crypt_ctr32`` *in place* over the
  buffer with a ``stream`` callback that does nothing: it hashes the ciphertext
  that is already there and en/decrypts the partial last block itself.

Decryption checks the tag before ipp-crypto decrypts the whole blocks, and a
value that does not authenticate returns nothing. An exception cannot cross the C
frames, so a failing callback sets a thread-local flag and the caller raises
after the C call returns. :mod:`trust.sm4_gcm` uses this backend only after the
RFC 8998 vector and a differential test against ``cryptography`` pass in this
process; tests compare it with ``cryptography`` over every length class.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Final

from trust._ippcp import SONAME, open_library
from trust._libcrypto import load_libcrypto
from trust.errors import CryptoError, TagMismatchError

__all__ = ["IppSm4Gcm"]

TAG_BYTES: Final = 16
KEY_BYTES: Final = 16
NONCE_BYTES: Final = 12
# J0 = nonce || 00000001 is E(J0) for the tag; data starts at the next counter.
_FIRST_DATA_COUNTER: Final = b"\x00\x00\x00\x02"
# ipp-crypto takes lengths as int; larger values go to the reference backend.
MAX_LENGTH: Final = 1 << 30
_IPP_OK: Final = 0

_vp = ctypes.c_void_p
_size = ctypes.c_size_t
_int = ctypes.c_int
_BLOCK = ctypes.CFUNCTYPE(None, _vp, _vp, _vp)  # block128_f(in, out, key)
_STREAM = ctypes.CFUNCTYPE(None, _vp, _vp, _size, _vp, _vp)  # ctr128_f(in, out, blocks, key, iv)


def _bind_ipp(lib: ctypes.CDLL) -> None:
    def sig(name: str, res: Any, *args: Any) -> None:
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = list(args)

    sig("ippsSMS4GetSize", _int, ctypes.POINTER(_int))
    sig("ippsSMS4Init", _int, ctypes.c_char_p, _int, _vp, _int)
    sig("ippsSMS4EncryptECB", _int, _vp, _vp, _int, _vp)
    sig("ippsSMS4EncryptCTR", _int, _vp, _vp, _int, _vp, _vp, _int)


def _bind_gcm(lib: ctypes.CDLL) -> None:
    def sig(name: str, res: Any, *args: Any) -> None:
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = list(args)

    sig("CRYPTO_gcm128_new", _vp, _vp, _BLOCK)
    sig("CRYPTO_gcm128_release", None, _vp)
    sig("CRYPTO_gcm128_setiv", None, _vp, ctypes.c_char_p, _size)
    sig("CRYPTO_gcm128_aad", _int, _vp, ctypes.c_char_p, _size)
    sig("CRYPTO_gcm128_encrypt_ctr32", _int, _vp, _vp, _vp, _size, _STREAM)
    sig("CRYPTO_gcm128_decrypt_ctr32", _int, _vp, _vp, _vp, _size, _STREAM)
    sig("CRYPTO_gcm128_finish", _int, _vp, ctypes.c_char_p, _size)
    sig("CRYPTO_gcm128_tag", None, _vp, ctypes.c_char_p, _size)


class _ThreadState(threading.local):
    """A thread's key schedule buffer, counter copy and callback failure flag."""

    def __init__(self, spec_size: int) -> None:
        self.spec = ctypes.create_string_buffer(spec_size)
        self.counter = ctypes.create_string_buffer(16)
        self.failed = False


class IppSm4Gcm:
    """SM4-GCM (96-bit nonce, 128-bit tag) with ipp-crypto's SM4 inside OpenSSL's GCM."""

    name = "ipp-crypto SM4 + OpenSSL GCM"

    def __init__(self) -> None:
        ipp, code_path, version = open_library()
        try:
            _bind_ipp(ipp)
            gcm = load_libcrypto()
            _bind_gcm(gcm)
        except AttributeError as exc:
            raise OSError(f"{SONAME} or libcrypto lacks a needed function: {exc}") from exc
        size = _int()
        if ipp.ippsSMS4GetSize(ctypes.byref(size)) != _IPP_OK or size.value <= 0:
            raise OSError("ippsSMS4GetSize failed")
        self.code_path, self.version = code_path, version
        self._ipp, self._gcm, self._spec_size = ipp, gcm, size.value
        self._state = _ThreadState(size.value)
        ecb, state = ipp.ippsSMS4EncryptECB, self._state

        def block(src: int, dst: int, spec: int) -> None:
            try:
                if ecb(src, dst, 16, spec) != _IPP_OK:
                    state.failed = True
            except BaseException:  # noqa: BLE001 - must not unwind through C frames
                state.failed = True

        def already_done(src: int, dst: int, blocks: int, spec: int, iv: int) -> None:
            """The whole blocks were en/decrypted by one ipp-crypto CTR call."""

        # Kept on the instance: C holds only raw pointers to these trampolines.
        self._block, self._stream = _BLOCK(block), _STREAM(already_done)

    def _start(self, key: bytes, nonce: bytes, aad: bytes) -> int:
        state = self._state
        state.failed = False
        spec = state.spec
        if self._ipp.ippsSMS4Init(key, KEY_BYTES, spec, self._spec_size) != _IPP_OK:
            raise CryptoError("ipp-crypto rejected the SM4 key")
        ctx = self._gcm.CRYPTO_gcm128_new(spec, self._block)
        if not ctx:
            raise MemoryError("CRYPTO_gcm128_new failed")
        gcm = self._gcm
        gcm.CRYPTO_gcm128_setiv(ctx, nonce, len(nonce))
        if aad and gcm.CRYPTO_gcm128_aad(ctx, aad, len(aad)) != 0:
            gcm.CRYPTO_gcm128_release(ctx)
            raise CryptoError("GCM refused the associated data")
        return int(ctx)

    def _check(self, status: int, what: str) -> None:
        if status != 0 or self._state.failed:
            raise CryptoError(f"SM4-GCM {what} failed inside ipp-crypto or OpenSSL")

    def _ctr(self, nonce: bytes, src: Any, dst: Any, length: int) -> None:
        """SM4-CTR over whole blocks from GCM's first data counter (96-bit nonces only)."""
        if not length:
            return
        counter = self._state.counter
        ctypes.memmove(counter, nonce + _FIRST_DATA_COUNTER, 16)
        if self._ipp.ippsSMS4EncryptCTR(src, dst, length, self._state.spec, counter,
                                        32) != _IPP_OK:
            raise CryptoError("ipp-crypto SM4-CTR failed")

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes,
                prefix: bytes = b"") -> bytes:
        """``prefix || ciphertext || tag`` in one buffer (a licence file is copied once)."""
        n, p = len(plaintext), len(prefix)
        if len(key) != KEY_BYTES or len(nonce) != NONCE_BYTES or n > MAX_LENGTH:
            raise CryptoError("SM4-GCM: a 16-byte key, a 12-byte nonce, at most 1 GiB")
        whole = n & ~15
        out = bytearray(p + n + TAG_BYTES)
        out[:p] = prefix
        out[p + whole:p + n] = plaintext[whole:]  # the partial block: OpenSSL encrypts it
        dst = (ctypes.c_char * (n + TAG_BYTES)).from_buffer(out, p)
        ctx = self._start(key, nonce, aad)
        gcm = self._gcm
        try:
            self._ctr(nonce, plaintext, dst, whole)
            self._check(gcm.CRYPTO_gcm128_encrypt_ctr32(ctx, dst, dst, n, self._stream),
                        "encryption")
            tag = ctypes.create_string_buffer(TAG_BYTES)
            gcm.CRYPTO_gcm128_tag(ctx, tag, TAG_BYTES)
            self._check(0, "tag")
            ctypes.memmove(ctypes.addressof(dst) + n, tag, TAG_BYTES)
        finally:
            gcm.CRYPTO_gcm128_release(ctx)
            del dst  # releases the export of ``out``
        return bytes(out)

    def decrypt(self, key: bytes, nonce: bytes, data: bytes, aad: bytes, start: int) -> bytes:
        """Open ``data[start:-16]`` with the tag ``data[-16:]``, or raise :class:`TagMismatchError`.

        The tag is compared (by OpenSSL, in constant time) before the whole blocks are
        decrypted; a value that does not authenticate is never turned into plaintext.
        """
        n = len(data) - start - TAG_BYTES
        if len(key) != KEY_BYTES or len(nonce) != NONCE_BYTES or n < 0 or n > MAX_LENGTH \
                or start < 0:
            raise CryptoError("SM4-GCM: a 16-byte key, a 12-byte nonce, a ciphertext and tag")
        out = ctypes.create_string_buffer(max(n, 1))
        base = ctypes.cast(ctypes.c_char_p(data), _vp).value or 0  # bytes: no copy
        ctypes.memmove(out, base + start, n)
        ctx = self._start(key, nonce, aad)
        gcm = self._gcm
        try:
            self._check(gcm.CRYPTO_gcm128_decrypt_ctr32(ctx, out, out, n, self._stream),
                        "decryption")
            ok = gcm.CRYPTO_gcm128_finish(ctx, data[-TAG_BYTES:], TAG_BYTES) == 0
            self._check(0, "tag")
        finally:
            gcm.CRYPTO_gcm128_release(ctx)
        if not ok:
            raise TagMismatchError("SM4-GCM tag mismatch")
        self._ctr(nonce, out, out, n & ~15)
        return out.raw[:n]
