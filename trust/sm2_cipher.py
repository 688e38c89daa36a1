"""SM2 public-key encryption (GB/T 32918.4) through libcrypto's EVP_PKEY_encrypt.

Used to hand a fresh SM4 content key to a recipient named by an SM2
certificate (the records office, :mod:`trust.archive`). No elliptic-curve
arithmetic happens here: libcrypto (OpenSSL 3) does the encryption and the
decryption; this module only owns the EVP objects. The ciphertext is what
OpenSSL writes: the GM/T 0009 ``SM2Cipher`` DER structure
``SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING (C3), ciphertext OCTET
STRING (C2) }``, so ``openssl pkeyutl -decrypt`` and other GM/T tools read it.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Final

from trust._libcrypto import load_libcrypto as _load_libcrypto
from trust.errors import CryptoError, InputError

__all__ = ["MAX_PLAINTEXT", "Sm2CipherError", "decrypt", "encrypt"]

MAX_PLAINTEXT: Final = 4096  # a key or two; SM2 encryption is not for bulk data
MAX_CIPHERTEXT: Final = MAX_PLAINTEXT + 160
_c_void_p = ctypes.c_void_p
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


class Sm2CipherError(CryptoError):
    """SM2 encryption or decryption failed (a wrong key, an altered ciphertext)."""

    code = "sm2.cipher"


def _libcrypto() -> ctypes.CDLL:
    global _lib
    with _lock:
        if _lib is None:
            lib = _load_libcrypto()

            def sig(name: str, res: object, *args: object) -> None:
                fn = getattr(lib, name)
                fn.restype = res
                fn.argtypes = list(args)

            pp = ctypes.POINTER(ctypes.c_char_p)
            size_p = ctypes.POINTER(ctypes.c_size_t)
            sig("d2i_AutoPrivateKey", _c_void_p, _c_void_p, pp, ctypes.c_long)
            sig("d2i_PUBKEY", _c_void_p, _c_void_p, pp, ctypes.c_long)
            sig("EVP_PKEY_free", None, _c_void_p)
            sig("EVP_PKEY_is_a", ctypes.c_int, _c_void_p, ctypes.c_char_p)
            sig("EVP_PKEY_CTX_new_from_pkey", _c_void_p, _c_void_p, _c_void_p, ctypes.c_char_p)
            sig("EVP_PKEY_CTX_free", None, _c_void_p)
            sig("EVP_PKEY_encrypt_init", ctypes.c_int, _c_void_p)
            sig("EVP_PKEY_decrypt_init", ctypes.c_int, _c_void_p)
            sig("EVP_PKEY_encrypt", ctypes.c_int, _c_void_p, ctypes.c_char_p, size_p,
                ctypes.c_char_p, ctypes.c_size_t)
            sig("EVP_PKEY_decrypt", ctypes.c_int, _c_void_p, ctypes.c_char_p, size_p,
                ctypes.c_char_p, ctypes.c_size_t)
            sig("ERR_clear_error", None)
            _lib = lib
        return _lib


def _load(lib: ctypes.CDLL, fn: object, der: bytes, what: str) -> int:
    buf = ctypes.c_char_p(der)
    ptr = fn(None, ctypes.byref(buf), len(der))  # type: ignore[operator]
    if not ptr:
        lib.ERR_clear_error()
        raise InputError(f"{what} is not a key libcrypto can read", code="sm2.key")
    if lib.EVP_PKEY_is_a(ptr, b"SM2") != 1:
        lib.EVP_PKEY_free(ptr)
        raise InputError(f"{what} is not an SM2 key", code="sm2.key")
    return int(ptr)


def _run(private: bool, key_der: bytes, data: bytes) -> bytes:
    lib = _libcrypto()
    loader = lib.d2i_AutoPrivateKey if private else lib.d2i_PUBKEY
    pkey = _load(lib, loader, key_der, "the private key" if private else "the public key")
    ctx = None
    try:
        ctx = lib.EVP_PKEY_CTX_new_from_pkey(None, pkey, None)
        init = lib.EVP_PKEY_decrypt_init if private else lib.EVP_PKEY_encrypt_init
        call = lib.EVP_PKEY_decrypt if private else lib.EVP_PKEY_encrypt
        if not ctx or init(ctx) != 1:
            raise Sm2CipherError("libcrypto refused to set up SM2 encryption")
        size = ctypes.c_size_t(0)
        if call(ctx, None, ctypes.byref(size), data, len(data)) != 1:
            raise Sm2CipherError("SM2: libcrypto cannot size the output")
        out = ctypes.create_string_buffer(max(1, size.value))
        if call(ctx, out, ctypes.byref(size), data, len(data)) != 1:
            # Threat: an altered ciphertext or another recipient's key; C3 (SM3 over the
            # plaintext and the shared point) fails and nothing is returned.
            raise Sm2CipherError("SM2 decryption failed: not encrypted to this key, or "
                                 "altered" if private else "SM2 encryption failed")
        return out.raw[:size.value]
    finally:
        lib.ERR_clear_error()
        if ctx:
            lib.EVP_PKEY_CTX_free(ctx)
        lib.EVP_PKEY_free(pkey)


def encrypt(spki_der: bytes, plaintext: bytes) -> bytes:
    """SM2-encrypt ``plaintext`` (at most :data:`MAX_PLAINTEXT` bytes) to an SM2 public key."""
    if not 0 < len(plaintext) <= MAX_PLAINTEXT:
        raise InputError(f"SM2 encrypts 1..{MAX_PLAINTEXT} bytes", code="sm2.cipher_size")
    return _run(False, bytes(spki_der), bytes(plaintext))


def decrypt(private_der: bytes, ciphertext: bytes) -> bytes:
    """Decrypt a GM/T 0009 SM2 ciphertext with a DER private key (PKCS#8 or SEC1)."""
    if not 0 < len(ciphertext) <= MAX_CIPHERTEXT:
        raise Sm2CipherError("an SM2 ciphertext of this size is not one of ours")
    return _run(True, bytes(private_der), bytes(ciphertext))
