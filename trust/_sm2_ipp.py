"""SM2 verification (only) through Intel's Cryptography Primitives Library.

PyPI ``ipp-crypto`` (Apache-2.0, needs only libc) ships ``libippcp.so``; we
load the copy that wheel installed (:mod:`trust._wheel_lib`) with ctypes. The
library dispatches at run time to code for the CPU (``l9``: AVX2/BMI2/ADX,
``k0``/``k1``: AVX-512); we accept only those paths, where its SM2 arithmetic
is hand-optimised, and :mod:`trust.sm2` uses this backend only after a
known-answer test and a differential test against OpenSSL passed.

What the C code is given: e = SM3(Z || M) reduced mod n (the same Z rules as
OpenSSL: ENTL || ID || a || b || G || P, any ID length up to
:data:`~trust._sm2_common.MAX_UID`, the empty ID allowed), hashed from an SM3
context that already holds Z, cached per (key, ID) in the key object; r and s
already range-checked by :mod:`trust.sm2`; and a public point checked to be on
the curve when loaded.

The per-verification Python around the C call is kept to a few microseconds
(the C verify takes ~130 us on l9): the two hot functions are called without
ctypes argtypes, the result pointer is made once per thread, and every status
is checked (a failed import must not leave the previous e, r or s in place).

IPP contexts keep scratch elements inside the curve state, so one state must
not be used by two threads at once: each thread gets its own (a few KiB).
Loaded public points are plain data and are shared.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any, Final

from trust import sm3
from trust._ippcp import SONAME, open_library
from trust._sm2_common import DEFAULT_UID, reduce_e
from trust.errors import CryptoError

__all__ = ["FAST_CODE_PATHS", "MAX_CACHED_UIDS", "IppBackend", "load_library"]

# l9 = AVX2 + BMI2 + ADX (Haswell, Zen), k0 = AVX-512, k1 = AVX-512 IFMA.
FAST_CODE_PATHS: Final = frozenset({"l9", "k0", "k1"})
MAX_CACHED_UIDS: Final = 8  # Z contexts per key: the default ID plus a few seen in use
_CACHE_FILL: Final = threading.Lock()
_IPP_OK: Final = 0
_EC_VALID: Final = 0  # IppECResult ippECValid

_int = ctypes.c_int
_vp = ctypes.c_void_p
_buf = ctypes.c_char_p


def _bind(lib: ctypes.CDLL) -> None:
    def sig(name: str, res: Any, *args: Any) -> None:
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = list(args)

    p_int = ctypes.POINTER(_int)
    sig("ippcpGetEnabledCpuFeatures", ctypes.c_uint64)
    sig("ippsGFpMethod_p256sm2", _vp)
    sig("ippsGFpGetSize", _int, _int, p_int)
    sig("ippsGFpInitFixed", _int, _int, _vp, _buf)
    sig("ippsGFpECGetSize", _int, _buf, p_int)
    sig("ippsGFpECInitStdSM2", _int, _buf, _buf)
    sig("ippsGFpECBindGxyTblStdSM2", _int, _buf)
    sig("ippsGFpECScratchBufferSize", _int, _int, _buf, p_int)
    sig("ippsGFpECPointGetSize", _int, _buf, p_int)
    sig("ippsGFpECPointInit", _int, _vp, _vp, _buf, _buf)
    sig("ippsGFpECSetPointOctString", _int, _buf, _int, _buf, _buf)
    sig("ippsGFpECTstPoint", _int, _buf, p_int, _buf)
    sig("ippsBigNumGetSize", _int, _int, p_int)
    sig("ippsBigNumInit", _int, _int, _buf)
    sig("ippsSetOctString_BN", _int, _buf, _int, _buf)
    sig("ippsGFpECVerifySM2", _int, _buf, _buf, _buf, _buf, p_int, _buf, _buf)


def _unchecked(lib: ctypes.CDLL, name: str) -> Any:
    """A second pointer to ``name`` returning int, with no argtypes (hot path only).

    :func:`_bind` checked the symbol exists and gave the library's own attribute
    its full prototype, which every other call uses.
    """
    fn = lib._FuncPtr((name, lib))  # type: ignore[attr-defined]
    fn.restype = _int
    return fn


def load_library() -> tuple[ctypes.CDLL, str, str]:
    """(library, code path such as ``l9``, version string); OSError/ImportError if absent."""
    lib, code_path, version = open_library()
    try:
        _bind(lib)
    except AttributeError as exc:  # another ipp-crypto release without a symbol we call
        raise OSError(f"{SONAME} lacks a needed function: {exc}") from exc
    return lib, code_path, version


class _Context:
    """One thread's GF(p)/curve state, scratch buffer and big-number slots."""

    __slots__ = ("e", "ec", "gf", "r", "result", "result_ref", "s", "scratch")

    def __init__(self, lib: ctypes.CDLL) -> None:
        size = _int()

        def check(status: int, what: str) -> None:
            if status != _IPP_OK:
                raise CryptoError(f"ipp-crypto {what} failed with status {status}")

        check(lib.ippsGFpGetSize(256, ctypes.byref(size)), "ippsGFpGetSize")
        self.gf = ctypes.create_string_buffer(size.value)
        check(lib.ippsGFpInitFixed(256, lib.ippsGFpMethod_p256sm2(), self.gf), "GFp init")
        check(lib.ippsGFpECGetSize(self.gf, ctypes.byref(size)), "ippsGFpECGetSize")
        self.ec = ctypes.create_string_buffer(size.value)
        check(lib.ippsGFpECInitStdSM2(self.gf, self.ec), "ippsGFpECInitStdSM2")
        # The precomputed table of multiples of G: without it [s]G is a generic multiplication.
        check(lib.ippsGFpECBindGxyTblStdSM2(self.ec), "ippsGFpECBindGxyTblStdSM2")
        check(lib.ippsGFpECScratchBufferSize(2, self.ec, ctypes.byref(size)), "scratch size")
        self.scratch = ctypes.create_string_buffer(size.value)
        check(lib.ippsBigNumGetSize(8, ctypes.byref(size)), "ippsBigNumGetSize")
        self.e, self.r, self.s = (ctypes.create_string_buffer(size.value) for _ in range(3))
        for bn in (self.e, self.r, self.s):
            check(lib.ippsBigNumInit(8, bn), "ippsBigNumInit")
        self.result = _int()
        self.result_ref = ctypes.byref(self.result)  # made once: byref costs per call


class _IppKey:
    """A public point in IPP's form plus SM3 contexts holding Z, per user ID.

    Z = SM3(ENTL || ID || curve || point) depends only on this key and the ID,
    so it is hashed once per (key, ID), not per signature. The cache is keyed
    by the exact ID bytes inside the key's own object, so another key or ID
    can never hit it; it holds at most :data:`MAX_CACHED_UIDS` IDs (the
    default one first), beyond which Z is computed per call: IDs come from the
    documents being verified, and an attacker must not grow memory with them.
    """

    __slots__ = ("backend", "hashers", "point", "pt")

    def __init__(self, point: bytes, pt: ctypes.Array[ctypes.c_char]) -> None:
        self.backend = "ipp"
        self.point = point
        self.pt = pt
        self.hashers: dict[bytes, Callable[[bytes], bytes]] = {}
        self.hasher(DEFAULT_UID)

    def hasher(self, uid: bytes) -> Callable[[bytes], bytes]:
        """message -> SM3(Z || message) for ``uid``, remembered while the cache has room."""
        found = self.hashers.get(uid)
        if found is not None:
            return found
        made = sm3.prefixed(sm3.z_value(self.point, uid))
        with _CACHE_FILL:  # misses are rare (a few per key): the bound holds under threads
            if len(self.hashers) < MAX_CACHED_UIDS:
                self.hashers.setdefault(bytes(uid), made)
        return made


class IppBackend:
    """Verify-only SM2 backend; signing stays with OpenSSL (constant-time, not the bottleneck)."""

    name = "ipp"

    def __init__(self) -> None:
        self._lib, self.code_path, self.version = load_library()
        self.cpu_features = int(self._lib.ippcpGetEnabledCpuFeatures())
        if self.code_path not in FAST_CODE_PATHS:
            raise OSError(
                f"ipp-crypto dispatched to its {self.code_path!r} code path: this CPU lacks "
                "AVX2/BMI2/ADX, where ipp-crypto is no faster than OpenSSL"
            )
        self._local = threading.local()
        # The two calls of every verification, without argtypes: ctypes' per-argument
        # from_param conversion of c_char_p cost 1.5 us of a 7 us wrapper (measured). Our
        # own code passes ctypes arrays, a byref, bytes (pointers) and the int 32 only.
        self._set_bn = _unchecked(self._lib, "ippsSetOctString_BN")
        self._verify_sm2 = _unchecked(self._lib, "ippsGFpECVerifySM2")
        self._point_size = _int()
        ctx = self._context()
        if self._lib.ippsGFpECPointGetSize(ctx.ec, ctypes.byref(self._point_size)) != _IPP_OK:
            raise CryptoError("ippsGFpECPointGetSize failed")

    def _context(self) -> _Context:
        try:
            ctx: _Context = self._local.ctx
        except AttributeError:  # this thread's first call
            ctx = _Context(self._lib)
            self._local.ctx = ctx
        return ctx

    def load_private(self, scalar: bytes) -> tuple[object, bytes]:
        raise CryptoError("the ipp backend only verifies; signing stays with OpenSSL")

    def sign(self, handle: object, message: bytes, uid: bytes) -> bytes:
        raise CryptoError("the ipp backend only verifies; signing stays with OpenSSL")

    def load_public(self, point: bytes) -> object:
        """Import 04||X||Y; a point off the curve is refused here, once per key."""
        if len(point) != 65 or point[0] != 4:
            raise CryptoError("SM2 public point must be 65 bytes starting with 04")
        lib, ctx = self._lib, self._context()
        pt = ctypes.create_string_buffer(self._point_size.value)
        if lib.ippsGFpECPointInit(None, None, pt, ctx.ec) != _IPP_OK:
            raise CryptoError("ippsGFpECPointInit failed")
        # Coordinates >= p are rejected by the octet-string import itself.
        if lib.ippsGFpECSetPointOctString(point[1:], 64, pt, ctx.ec) != _IPP_OK:
            raise CryptoError("not a point on sm2p256v1 (coordinate out of range)")
        # An off-curve key would let the arithmetic run on another curve (invalid-curve attack).
        if lib.ippsGFpECTstPoint(pt, ctypes.byref(ctx.result), ctx.ec) != _IPP_OK:
            raise CryptoError("ippsGFpECTstPoint failed")
        if ctx.result.value != _EC_VALID:
            raise CryptoError("not a point on sm2p256v1")
        return _IppKey(bytes(point), pt)

    def verify(self, handle: object, message: bytes, r: int, s: int, uid: bytes) -> bool:
        """Caller guarantees 0 < r, s < n (trust.sm2 checks before any backend)."""
        assert isinstance(handle, _IppKey)
        hasher = handle.hashers.get(uid) or handle.hasher(uid)
        e = reduce_e(hasher(message))
        try:
            ctx: _Context = self._local.ctx
        except AttributeError:
            ctx = self._context()
        set_bn = self._set_bn
        # A failed import would leave the previous verification's e, r or s in the
        # slot: the old message's digest with a replayed signature would verify.
        if (
            set_bn(e, 32, ctx.e)
            or set_bn(r.to_bytes(32, "big"), 32, ctx.r)
            or set_bn(s.to_bytes(32, "big"), 32, ctx.s)
        ):
            raise CryptoError("ippsSetOctString_BN failed")
        status = self._verify_sm2(
            ctx.e, handle.pt, ctx.r, ctx.s, ctx.result_ref, ctx.ec, ctx.scratch
        )
        if status != _IPP_OK:
            raise CryptoError(f"ippsGFpECVerifySM2 failed with status {status}")
        return ctx.result.value == _EC_VALID
