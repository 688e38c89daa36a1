"""SM2 through the pure-Python PyPI ``gmssl``: the slow fallback.

Used only where the system libcrypto lacks SM2 (about 20x slower). ``gmssl``
has traps this module exists to contain:

- its default nonce comes from ``random.choice`` (predictable): we always pass
  k drawn from :mod:`secrets`;
- ``sign``/``verify`` take the already-hashed e = SM3(Z || M): we compute it
  with :func:`trust.sm3.e_value`, so any user ID works (its ``*_with_sm3``
  variants hard-code the default ID);
- its constructor does ``public_key.lstrip("04")``, which eats leading hex
  ``0``/``4`` digits of X: we set the 128-hex X||Y attribute after construction;
- it neither range-checks r and s nor validates public points: r, s are
  checked by :mod:`trust.sm2` and points here, against the curve equation;
- a verification that hits the point at infinity raises inside ``gmssl``:
  that is a rejection, not a crash; where [s]G equals [t]P its verify reads x
  from unnormalised coordinates, which can only reject (an honest signature
  lands there with probability ~2**-256). Both are tested with crafted values.

Point multiplication is ``gmssl``'s own; this module does no EC arithmetic.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

from gmssl import sm2 as _gm

from trust import sm3
from trust._sm2_common import on_curve
from trust.errors import CryptoError

__all__ = ["GmsslBackend"]

_N: Final = sm3.N
# gmssl.sign returns None for the (negligible) r = 0, r + k = n, s = 0 cases;
# a retry loop that keeps failing means the backend is broken, not unlucky.
_MAX_SIGN_ATTEMPTS: Final = 8


def _crypt(private_hex: str, public_hex: str) -> Any:
    """A CryptSM2 on sm2p256v1 whose public key is exactly ``public_hex`` (no lstrip)."""
    crypt = _gm.CryptSM2(private_key=private_hex, public_key="")
    crypt.public_key = public_hex
    return crypt


@dataclass(frozen=True, slots=True)
class _Handle:
    """A configured CryptSM2 plus the point Z is computed from."""

    crypt: Any
    point: bytes
    backend: str = "gmssl"


class GmsslBackend:
    """SM2 sign/verify with PyPI ``gmssl`` (pure Python), k from ``secrets``."""

    name = "gmssl"

    def load_private(self, scalar: bytes) -> tuple[object, bytes]:
        """Derive the public point with gmssl's own scalar multiplication."""
        d = int.from_bytes(scalar, "big")
        if len(scalar) != 32 or not 1 <= d <= _N - 2:
            raise CryptoError("SM2 private scalar out of range [1, n-2]")
        crypt = _crypt(scalar.hex(), "")
        xy = crypt._kg(d, _gm.default_ecc_table["g"])
        if not isinstance(xy, str) or len(xy) != 128:
            raise CryptoError("gmssl public key derivation failed")
        point = b"\x04" + bytes.fromhex(xy)
        if not on_curve(point):
            raise CryptoError("gmssl derived a point that is not on sm2p256v1")
        crypt.public_key = xy
        return _Handle(crypt, point), point

    def load_public(self, point: bytes) -> object:
        if not on_curve(point):
            raise CryptoError("public point is not on sm2p256v1")
        return _Handle(_crypt("", point[1:].hex()), bytes(point))

    def sign(self, handle: object, message: bytes, uid: bytes) -> bytes:
        from trust.sm2 import encode_der

        if not isinstance(handle, _Handle) or not handle.crypt.private_key:
            raise CryptoError("not a gmssl private key handle")
        e = sm3.e_value(handle.point, message, uid)
        for _ in range(_MAX_SIGN_ATTEMPTS):
            k = secrets.randbelow(_N - 1) + 1
            raw = handle.crypt.sign(e, f"{k:064x}")
            if isinstance(raw, str) and len(raw) == 128:
                return encode_der(int(raw[:64], 16), int(raw[64:], 16))
        raise CryptoError("gmssl failed to produce a signature")

    def verify(self, handle: object, message: bytes, r: int, s: int, uid: bytes) -> bool:
        if not isinstance(handle, _Handle):
            raise CryptoError("not a gmssl key handle")
        if not (0 < r < _N and 0 < s < _N):
            return False
        e = sm3.e_value(handle.point, message, uid)
        try:
            return bool(handle.crypt.verify(f"{r:064x}{s:064x}", e) is True)
        except (TypeError, ValueError):
            # sG + tP at infinity: gmssl indexes into None. The signature is invalid.
            return False
