"""GM/T 0018 structures and return codes for ctypes, sized per vendor header.

``ECCref_MAX_LEN`` is 64 in most headers (values right-aligned, leading
zeros) and 32 in some 256-bit-only ones; the layout is built per size so
that a wrong guess fails loudly (non-zero padding) instead of signing junk.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import Final

from trust import sm2

__all__ = [
    "SDR_BASE",
    "SDR_HARDFAIL",
    "SDR_KEYNOTEXIST",
    "SDR_NAMES",
    "SDR_OK",
    "SDR_OPENDEVICE",
    "SDR_PARDENY",
    "EccLayout",
    "layout",
    "sdr_name",
]

SDR_OK: Final = 0
SDR_BASE: Final = 0x01000000
SDR_NAMES: Final = {
    SDR_OK: "SDR_OK",
    SDR_BASE + 0x01: "SDR_UNKNOWERR",
    SDR_BASE + 0x02: "SDR_NOTSUPPORT",
    SDR_BASE + 0x03: "SDR_COMMFAIL",
    SDR_BASE + 0x04: "SDR_HARDFAIL",
    SDR_BASE + 0x05: "SDR_OPENDEVICE",
    SDR_BASE + 0x06: "SDR_OPENSESSION",
    SDR_BASE + 0x07: "SDR_PARDENY",
    SDR_BASE + 0x08: "SDR_KEYNOTEXIST",
    SDR_BASE + 0x09: "SDR_ALGNOTSUPPORT",
    SDR_BASE + 0x0A: "SDR_ALGMODNOTSUPPORT",
    SDR_BASE + 0x0B: "SDR_PKOPERR",
    SDR_BASE + 0x0C: "SDR_SKOPERR",
    SDR_BASE + 0x0D: "SDR_SIGNERR",
    SDR_BASE + 0x0E: "SDR_VERIFYERR",
    SDR_BASE + 0x0F: "SDR_SYMOPERR",
    SDR_BASE + 0x10: "SDR_STEPERR",
    SDR_BASE + 0x11: "SDR_FILESIZEERR",
    SDR_BASE + 0x12: "SDR_FILENOEXIST",
    SDR_BASE + 0x13: "SDR_FILEOFSERR",
    SDR_BASE + 0x14: "SDR_KEYTYPEERR",
    SDR_BASE + 0x15: "SDR_KEYERR",
    SDR_BASE + 0x1D: "SDR_INARGERR",
    SDR_BASE + 0x1E: "SDR_OUTARGERR",
}
SDR_HARDFAIL: Final = SDR_BASE + 0x04
SDR_OPENDEVICE: Final = SDR_BASE + 0x05
SDR_PARDENY: Final = SDR_BASE + 0x07
SDR_KEYNOTEXIST: Final = SDR_BASE + 0x08


def sdr_name(rc: int) -> str:
    """``SDR_*`` name of a return code (vendor-specific codes get a generic name)."""
    return SDR_NAMES.get(rc, "SDR_VENDOR" if rc > SDR_BASE else "SDR_UNKNOWN")


class EccLayout:
    """ctypes ECCrefPublicKey / ECCSignature for one ECCref_MAX_LEN, with converters."""

    def __init__(self, max_len: int) -> None:
        if max_len not in (32, 64):
            raise ValueError("ECCref_MAX_LEN must be 32 or 64")
        self.max_len = max_len

        class ECCrefPublicKey(ctypes.Structure):
            _fields_ = [("bits", ctypes.c_uint), ("x", ctypes.c_ubyte * max_len),
                        ("y", ctypes.c_ubyte * max_len)]

        class ECCSignature(ctypes.Structure):
            _fields_ = [("r", ctypes.c_ubyte * max_len), ("s", ctypes.c_ubyte * max_len)]

        self.PublicKey = ECCrefPublicKey
        self.Signature = ECCSignature

    # Buffers are always sized for the 64-byte layout: a library built with a
    # larger ECCref_MAX_LEN than configured must not write past them.
    def new_public_key(self) -> ctypes.Structure:
        """A zeroed ECCrefPublicKey over a buffer large enough for any layout."""
        return self.PublicKey.from_buffer(bytearray(4 + 2 * 64))

    def new_signature(self) -> ctypes.Structure:
        """A zeroed ECCSignature over a buffer large enough for any layout."""
        return self.Signature.from_buffer(bytearray(2 * 64))

    def _value(self, field: ctypes.Array[ctypes.c_ubyte]) -> bytes:
        raw = bytes(field)
        pad, value = raw[: self.max_len - 32], raw[self.max_len - 32 :]
        if any(pad):
            raise ValueError("non-zero padding: ECCref_MAX_LEN does not match the library")
        return value

    def point(self, key: ctypes.Structure) -> bytes:
        """04||X||Y from an ECCrefPublicKey (bits must be 256)."""
        if key.bits != 256:  # type: ignore[attr-defined]
            raise ValueError(f"ECC public key of {key.bits} bits, expected 256")  # type: ignore[attr-defined]
        return b"\x04" + self._value(key.x) + self._value(key.y)  # type: ignore[attr-defined]

    def signature_der(self, sig: ctypes.Structure) -> bytes:
        """DER SEQUENCE{r, s} from an ECCSignature."""
        r = int.from_bytes(self._value(sig.r), "big")  # type: ignore[attr-defined]
        s = int.from_bytes(self._value(sig.s), "big")  # type: ignore[attr-defined]
        if not (0 < r < sm2.N and 0 < s < sm2.N):
            raise ValueError("device signature has r or s outside [1, n-1]")
        return sm2.encode_der(r, s)


@cache
def layout(max_len: int) -> EccLayout:
    """The shared layout for ``max_len`` (32 or 64)."""
    return EccLayout(max_len)
