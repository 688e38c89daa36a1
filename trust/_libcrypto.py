"""Load the system OpenSSL 3 libcrypto once for every ctypes user (SM2, SM4-GCM)."""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["load_libcrypto"]


def load_libcrypto() -> ctypes.CDLL:
    """The process's OpenSSL 3 libcrypto; OSError when there is none.

    Each call returns a new ``ctypes.CDLL`` wrapper of the same loaded library, so
    each caller sets the argtypes of the functions it calls without touching another's.
    """
    names = ["libcrypto.so.3", ctypes.util.find_library("crypto"), "libcrypto.so"]
    errors = []
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            errors.append(str(exc))
            continue
        if hasattr(lib, "EVP_DigestSignInit_ex") and hasattr(lib, "EVP_PKEY_CTX_set1_id"):
            return lib
        errors.append(f"{name}: not OpenSSL 3 (no EVP_DigestSignInit_ex)")
    raise OSError("OpenSSL 3 libcrypto not found: " + "; ".join(errors))
