"""What every SM2 backend shares: curve constants, the user-ID rules, the DER
encoder of (r, s), the curve equation and the digest e = SM3(Z || M).

The reference backend (OpenSSL) and the fast verification backends (ipp-crypto,
crypto_mb) import this module, never each other: a fast path can then only
differ from its reference in the C code it calls, which the differential
self-tests compare.
"""

from __future__ import annotations

from typing import Final

from trust import sm3
from trust.errors import InputError

__all__ = [
    "DEFAULT_UID",
    "KAT_D",
    "KAT_MSG",
    "KAT_PUB",
    "KAT_R",
    "KAT_S",
    "MAX_UID",
    "N_BYTES",
    "N",
    "P",
    "SignatureFormatError",
    "check_uid",
    "digest",
    "encode_der",
    "in_range",
    "on_curve",
    "reduce_e",
    "sm3_blocks",
]

DEFAULT_UID: Final = b"1234567812345678"
# ENTL (the ID's bit length, 16 bits) allows 8191 bytes, but OpenSSL refuses
# id_len >= 8191; one limit for every backend keeps keys portable.
MAX_UID: Final = 0xFFFF // 8 - 1
N: Final = sm3.N
N_BYTES: Final = N.to_bytes(32, "big")
P: Final = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF", 16)
_A: Final = int.from_bytes(sm3.A, "big")
_B: Final = int.from_bytes(sm3.B, "big")

# GM/T 0003.5 Annex A (also OpenSSL test/sm2_internal_test.c); kept here so
# the self-tests need no files at run time.
KAT_D: Final = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
KAT_PUB: Final = (
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
KAT_R: Final = int("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3", 16)
KAT_S: Final = int("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA", 16)
KAT_MSG: Final = b"message digest"


class SignatureFormatError(InputError):
    """A signature is not a strict DER SEQUENCE of two INTEGERs (or not 64 raw bytes)."""

    code = "sm2.signature_format"


def check_uid(uid: bytes) -> bytes:
    """The ID as bytes; too long for ENTL is the caller's error on every backend alike."""
    uid = bytes(uid)
    if len(uid) > MAX_UID:
        raise InputError(f"SM2 user ID longer than {MAX_UID} bytes", code="sm2.uid")
    return uid


def in_range(r: int, s: int) -> bool:
    """GM/T 0003.2 step B1/B2: r and s in [1, n-1]; anything else is a rejection."""
    return 0 < r < N and 0 < s < N


def _der_len(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else bytes([0x81, n])


def _der_int(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return b"\x02" + _der_len(len(body)) + body


def encode_der(r: int, s: int) -> bytes:
    """DER SEQUENCE{r, s} for 0 < r, s < 2**256."""
    if not (0 < r < 1 << 256 and 0 < s < 1 << 256):
        raise SignatureFormatError("r and s must be positive 256-bit integers")
    body = _der_int(r) + _der_int(s)
    return b"\x30" + _der_len(len(body)) + body


def on_curve(point: bytes) -> bool:
    """Whether a 65-byte 04||X||Y satisfies y^2 = x^3 + ax + b over F_p (cofactor 1)."""
    if len(point) != 65 or point[0] != 4:
        return False
    x = int.from_bytes(point[1:33], "big")
    y = int.from_bytes(point[33:], "big")
    if x >= P or y >= P:
        return False
    return (y * y - (x * x * x + _A * x + _B)) % P == 0


def digest(z: bytes, message: bytes) -> bytes:
    """e = SM3(Z || M) reduced mod n, as 32 big-endian bytes.

    SM2 uses e only modulo n (R = (e + x1) mod n); reducing here keeps a C
    library that expects e < n from ever seeing the (2**-32-likely) e >= n.
    """
    return reduce_e(sm3.sm3(z + message))


def reduce_e(e: bytes) -> bytes:
    """A 32-byte SM3 digest reduced mod n (see :func:`digest`); one subtraction suffices."""
    if e >= N_BYTES:  # same-length big-endian bytes compare like the integers
        e = (int.from_bytes(e, "big") - N).to_bytes(32, "big")
    return e


def sm3_blocks(length: int) -> int:
    """SM3 compression calls for ``length`` bytes (the padding adds 9 bytes at least)."""
    return (length + 9 + 63) // 64
