"""Load Intel's Cryptography Primitives Library (PyPI ``ipp-crypto``) for every ctypes user.

The wheel installs ``libippcp.so`` as data outside the loader's path; we open
exactly the copy it installed (:mod:`trust._wheel_lib`). SM2 verification
(:mod:`trust._sm2_ipp`) and SM4 (:mod:`trust._sm4_gcm_ipp`) each bind the
functions they call on their own wrapper of the one loaded library.
"""

from __future__ import annotations

import ctypes
from typing import Final

from trust._wheel_lib import wheel_library

__all__ = ["DISTRIBUTION", "SONAME", "open_library"]

DISTRIBUTION: Final = "ipp-crypto"
SONAME: Final = "libippcp.so.13"

_int = ctypes.c_int


class _Version(ctypes.Structure):
    _fields_ = (
        ("major", _int),
        ("minor", _int),
        ("patch", _int),
        ("targetCpu", ctypes.c_char * 4),
        ("name", ctypes.c_char_p),
        ("buildDate", ctypes.c_char_p),
        ("strVersion", ctypes.c_char_p),
    )


def open_library() -> tuple[ctypes.CDLL, str, str]:
    """(library, code path such as ``l9``, version string); OSError/ImportError if absent.

    ``ippcpInit`` selects the CPU-specific code; calling it again is harmless.
    """
    lib = ctypes.CDLL(str(wheel_library(DISTRIBUTION, SONAME)))
    try:
        lib.ippcpInit.restype = _int
        lib.ippcpInit.argtypes = []
        lib.cryptoGetLibVersion.restype = ctypes.POINTER(_Version)
        lib.cryptoGetLibVersion.argtypes = []
    except AttributeError as exc:  # another ipp-crypto release without a symbol we call
        raise OSError(f"{SONAME} lacks a needed function: {exc}") from exc
    status = lib.ippcpInit()
    if status < 0:
        raise OSError(f"ippcpInit failed with status {status}")
    info = lib.cryptoGetLibVersion().contents
    code_path = info.targetCpu.decode("ascii", "replace").strip("\0 ")
    version = (info.strVersion or b"").decode("utf-8", "replace")
    return lib, code_path, version
