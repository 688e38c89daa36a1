"""Batched SM2 verification (8 per call) through crypto_mb, with AVX-512 IFMA.

``libcrypto_mb.so`` ships in the same PyPI wheel as libippcp (``ipp-crypto``),
but it needs Intel's compiler runtime (``libintlc``, ``libimf``, ``libsvml``,
``libirng`` from PyPI ``intel-cmplr-lib-rt``, Intel end-user licence), which
is why it is the separate opt-in extra ``sealtrust[fast-batch]``. Its SM2 code
exists only for AVX-512 IFMA; elsewhere every call answers
``MBX_STATUS_UNSUPPORTED_ISA_ERR`` and :func:`load` refuses the backend.

This module only marshals one 8-lane call. Which items share a call (same SM3
block counts, no empty message or ID, cheap padding) is decided by
:mod:`trust._sm2_batch`; ranges of r and s are checked by :mod:`trust.sm2`
before; a lane without a clear verdict returns None and is re-verified by the
single-signature backend. crypto_mb checks public coordinates only against p,
not the curve equation, so keys are checked on the curve when loaded.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from trust._sm2_batch import LANES
from trust._sm2_common import on_curve
from trust._wheel_lib import wheel_library
from trust.errors import CryptoError

__all__ = ["MbBackend", "lane_verdicts"]

SONAME: Final = "libcrypto_mb.so.13"
# Intel compiler runtime libraries libcrypto_mb is linked against, in dependency order.
_RUNTIME: Final = ("libintlc.so.5", "libirng.so", "libimf.so", "libsvml.so")
_MBX_ALGO_EC_SM2: Final = 8
_MBX_WIDTH_MB8: Final = 8
_STATUS_OK: Final = 0
_STATUS_SIGNATURE_ERR: Final = 8

Entry = tuple[object, bytes, int, int, bytes]  # (handle, message, r, s, uid)


def lane_verdicts(status: int) -> list[bool | None]:
    """Per-lane verdicts from an mbx_status: OK -> True, signature error -> False, else None."""
    out: list[bool | None] = []
    for lane in range(LANES):
        code = (status >> (4 * lane)) & 0xF
        out.append(True if code == _STATUS_OK else False if code == _STATUS_SIGNATURE_ERR else None)
    return out


def _bind(lib: ctypes.CDLL) -> None:
    def sig(name: str, res: Any, *args: Any) -> None:
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = list(args)

    p8 = ctypes.c_char_p * LANES
    i8 = ctypes.c_int * LANES
    sig("mbx_get_cpu_features", ctypes.c_uint64)
    sig("mbx_get_algo_info", ctypes.c_uint64, ctypes.c_int)
    sig("mbx_getversion", ctypes.c_void_p)
    sig("mbx_sm2_ecdsa_verify_mb8", ctypes.c_uint32, p8, p8, p8, i8, p8, i8, p8, p8,
        ctypes.c_void_p, ctypes.c_void_p)


def cpu_lacks_ifma() -> bool:
    """True when Linux says the CPU has no AVX-512 IFMA (then the ~40 MB runtime is not loaded).

    False when it has it or when /proc/cpuinfo cannot tell: crypto_mb's own
    check (mbx_get_algo_info) stays the authority.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), None)
    return flags is not None and "avx512ifma" not in flags.split()


def load_library() -> ctypes.CDLL:
    """libcrypto_mb with its Intel runtime preloaded; ImportError/OSError when not installed."""
    for name in _RUNTIME:
        # RTLD_GLOBAL: libcrypto_mb has no RPATH; its NEEDED entries resolve to these copies.
        ctypes.CDLL(str(wheel_library("intel-cmplr-lib-rt", name)), mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(str(wheel_library("ipp-crypto", SONAME)))
    try:
        _bind(lib)
    except AttributeError as exc:  # another release without a symbol we call
        raise OSError(f"{SONAME} lacks a needed function: {exc}") from exc
    return lib


class _MbKey:
    """Affine coordinates as crypto_mb reads them: 4 little-endian 64-bit limbs each."""

    __slots__ = ("backend", "x", "y")

    def __init__(self, point: bytes) -> None:
        self.backend = "crypto_mb"
        self.x = point[1:33][::-1]
        self.y = point[33:65][::-1]


class MbBackend:
    """Batch-only SM2 verification; see :meth:`verify_lanes`."""

    name = "crypto_mb"

    def __init__(self, lib: ctypes.CDLL | None = None, *, require_cpu: bool = True) -> None:
        if lib is None and require_cpu and cpu_lacks_ifma():
            raise OSError("CPU without AVX-512 IFMA: crypto_mb has no SM2 code for it")
        self._lib = lib if lib is not None else load_library()
        self.cpu_features = int(self._lib.mbx_get_cpu_features())
        self.supported = bool(self._lib.mbx_get_algo_info(_MBX_ALGO_EC_SM2) & _MBX_WIDTH_MB8)
        self.version = "crypto_mb (ipp-crypto)"
        if require_cpu and not self.supported:
            raise OSError("crypto_mb has no SM2 code for this CPU (needs AVX-512 IFMA)")

    def load_public(self, point: bytes) -> object:
        # Threat: crypto_mb would compute on an off-curve key without noticing.
        if not on_curve(point):
            raise CryptoError("not a point on sm2p256v1")
        return _MbKey(bytes(point))

    def verify_lanes(self, entries: Sequence[Entry]) -> list[bool | None]:
        """One mbx_sm2_ecdsa_verify_mb8 call over exactly 8 entries.

        The caller (trust.sm2 with trust._sm2_batch) guarantees equal SM3 block
        counts, non-empty messages and IDs, and 0 < r, s < n in every lane.
        """
        if len(entries) != LANES:
            raise CryptoError(f"crypto_mb takes exactly {LANES} lanes")
        p8 = ctypes.c_char_p * LANES
        i8 = ctypes.c_int * LANES
        keys = [handle for handle, *_ in entries]
        if not all(isinstance(k, _MbKey) for k in keys):
            raise CryptoError("crypto_mb lane without a crypto_mb key handle")
        for _, message, _, _, uid in entries:
            if not message or not uid:
                raise CryptoError("crypto_mb lane with an empty message or ID")
        status = self._lib.mbx_sm2_ecdsa_verify_mb8(
            p8(*(r.to_bytes(32, "big") for _, _, r, _, _ in entries)),
            p8(*(s.to_bytes(32, "big") for _, _, _, s, _ in entries)),
            p8(*(uid for *_, uid in entries)),
            i8(*(len(uid) for *_, uid in entries)),
            p8(*(message for _, message, *_ in entries)),
            i8(*(len(message) for _, message, *_ in entries)),
            p8(*(k.x for k in keys)),  # type: ignore[attr-defined]
            p8(*(k.y for k in keys)),  # type: ignore[attr-defined]
            None,  # affine coordinates
            None,  # scratch buffer: unused by crypto_mb
        )
        return lane_verdicts(int(status))
