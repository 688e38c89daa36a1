"""SM2 through the system libcrypto (OpenSSL 3) with ctypes.

Keys are parsed once into EVP_PKEY objects and reused: each signature costs
one EVP_MD_CTX plus the C sign itself. The user ID is set with
EVP_PKEY_CTX_set1_id on the context returned by EVP_DigestSignInit_ex (the
``distid`` init parameter silently fails on OpenSSL 3.0).
"""

from __future__ import annotations

import ctypes
import weakref
from typing import Any

from asn1crypto import keys

from trust import oids
from trust._libcrypto import load_libcrypto as _load_libcrypto
from trust._sm2_common import encode_der
from trust.errors import CryptoError

_c_void_p = ctypes.c_void_p
_c_char_p = ctypes.c_char_p


def _bind(lib: ctypes.CDLL) -> None:
    def sig(name: str, res: Any, *args: Any) -> None:
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = list(args)

    pp = ctypes.POINTER(ctypes.c_char_p)
    sig("d2i_AutoPrivateKey", _c_void_p, _c_void_p, pp, ctypes.c_long)
    sig("d2i_PUBKEY", _c_void_p, _c_void_p, pp, ctypes.c_long)
    sig("EVP_PKEY_free", None, _c_void_p)
    sig("EVP_PKEY_is_a", ctypes.c_int, _c_void_p, _c_char_p)
    sig("EVP_PKEY_get_octet_string_param", ctypes.c_int, _c_void_p, _c_char_p,
        ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t))
    sig("EVP_MD_CTX_new", _c_void_p)
    sig("EVP_MD_CTX_free", None, _c_void_p)
    sig("EVP_DigestSignInit_ex", ctypes.c_int, _c_void_p, ctypes.POINTER(_c_void_p), _c_char_p,
        _c_void_p, _c_char_p, _c_void_p, _c_void_p)
    sig("EVP_DigestVerifyInit_ex", ctypes.c_int, _c_void_p, ctypes.POINTER(_c_void_p),
        _c_char_p, _c_void_p, _c_char_p, _c_void_p, _c_void_p)
    sig("EVP_PKEY_CTX_set1_id", ctypes.c_int, _c_void_p, _c_char_p, ctypes.c_int)
    sig("EVP_DigestSign", ctypes.c_int, _c_void_p, ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_size_t), _c_char_p, ctypes.c_size_t)
    sig("EVP_DigestVerify", ctypes.c_int, _c_void_p, _c_char_p, ctypes.c_size_t, _c_char_p,
        ctypes.c_size_t)
    sig("ERR_clear_error", None)
    sig("ERR_get_error", ctypes.c_ulong)
    sig("ERR_error_string_n", None, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_size_t)
    sig("OpenSSL_version", _c_char_p, ctypes.c_int)


class _Key:
    """Owns one EVP_PKEY; freed when the Python object dies."""

    __slots__ = ("__weakref__", "backend", "ptr")

    def __init__(self, lib: ctypes.CDLL, ptr: int) -> None:
        self.backend = "openssl"
        self.ptr = ptr
        weakref.finalize(self, lib.EVP_PKEY_free, ptr)


class OpenSSLBackend:
    """SM2 sign/verify with OpenSSL's C implementation."""

    name = "openssl"

    def __init__(self) -> None:
        self._lib = _load_libcrypto()
        _bind(self._lib)
        self.version = (self._lib.OpenSSL_version(0) or b"").decode()

    def _error(self, what: str) -> CryptoError:
        code = self._lib.ERR_get_error()
        buf = ctypes.create_string_buffer(256)
        if code:
            self._lib.ERR_error_string_n(code, buf, 256)
        self._lib.ERR_clear_error()
        return CryptoError(f"OpenSSL {what} failed: {buf.value.decode(errors='replace')}")

    def _d2i(self, fn: Any, der: bytes, what: str) -> _Key:
        buf = ctypes.c_char_p(der)
        ptr = fn(None, ctypes.byref(buf), len(der))
        if not ptr:
            raise self._error(what)
        key = _Key(self._lib, ptr)
        if self._lib.EVP_PKEY_is_a(ptr, b"SM2") != 1:
            raise CryptoError(f"{what}: libcrypto did not produce an SM2 key")
        return key

    def load_private(self, scalar: bytes) -> tuple[object, bytes]:
        ec = keys.ECPrivateKey(
            {
                "version": "ecPrivkeyVer1",
                "private_key": int.from_bytes(scalar, "big"),
                "parameters": keys.ECDomainParameters(name="named", value=oids.SM2P256V1),
            }
        )
        key = self._d2i(self._lib.d2i_AutoPrivateKey, ec.dump(), "SM2 private key import")
        out = ctypes.create_string_buffer(65)
        size = ctypes.c_size_t(0)
        if not self._lib.EVP_PKEY_get_octet_string_param(
            key.ptr, b"pub", out, 65, ctypes.byref(size)
        ) or size.value != 65:
            raise self._error("SM2 public key export")
        return key, out.raw

    def load_public(self, point: bytes) -> object:
        spki = keys.PublicKeyInfo(
            {
                "algorithm": {
                    "algorithm": "ec",
                    "parameters": keys.ECDomainParameters(name="named", value=oids.SM2P256V1),
                },
                "public_key": point,
            }
        ).dump()
        return self._d2i(self._lib.d2i_PUBKEY, spki, "SM2 public key import")

    def sign(self, handle: object, message: bytes, uid: bytes) -> bytes:
        assert isinstance(handle, _Key)
        lib = self._lib
        ctx = lib.EVP_MD_CTX_new()
        if not ctx:
            raise self._error("EVP_MD_CTX_new")
        try:
            pctx = _c_void_p()
            if lib.EVP_DigestSignInit_ex(ctx, ctypes.byref(pctx), b"SM3", None, None,
                                         handle.ptr, None) != 1:
                raise self._error("EVP_DigestSignInit_ex")
            if lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) <= 0:
                raise self._error("EVP_PKEY_CTX_set1_id")
            out = ctypes.create_string_buffer(80)
            size = ctypes.c_size_t(80)
            if lib.EVP_DigestSign(ctx, out, ctypes.byref(size), message, len(message)) != 1:
                raise self._error("EVP_DigestSign")
            return out.raw[: size.value]
        finally:
            lib.EVP_MD_CTX_free(ctx)

    def verify(self, handle: object, message: bytes, r: int, s: int, uid: bytes) -> bool:
        assert isinstance(handle, _Key)
        lib = self._lib
        signature = encode_der(r, s)
        ctx = lib.EVP_MD_CTX_new()
        if not ctx:
            raise self._error("EVP_MD_CTX_new")
        try:
            pctx = _c_void_p()
            if lib.EVP_DigestVerifyInit_ex(ctx, ctypes.byref(pctx), b"SM3", None, None,
                                           handle.ptr, None) != 1:
                raise self._error("EVP_DigestVerifyInit_ex")
            if lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) <= 0:
                raise self._error("EVP_PKEY_CTX_set1_id")
            rc = lib.EVP_DigestVerify(ctx, signature, len(signature), message, len(message))
            if rc != 1:
                lib.ERR_clear_error()
            return bool(rc == 1)
        finally:
            lib.EVP_MD_CTX_free(ctx)
