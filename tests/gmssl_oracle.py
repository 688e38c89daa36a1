"""gmssl's CryptSM2 (the pure-Python oracle) with the public key it was given.

Its constructor does ``public_key.lstrip("04")`` to drop an uncompressed-point
prefix; ``lstrip`` also eats every leading ``0`` and ``4`` digit of x, so about one
random key in 256 (x's hex starting "04", more with the prefix) became another key
and the oracle refused a valid signature (a flaky test, seen in a fresh clone).
"""

from __future__ import annotations

from typing import Any

from gmssl import sm2 as gm


def crypt_sm2(point: bytes, private_key: str = "", **options: Any) -> gm.CryptSM2:
    """``gm.CryptSM2`` for the public ``point`` (64-byte x||y, or 65 with the 04 prefix)."""
    crypt = gm.CryptSM2(private_key=private_key, public_key="", **options)
    crypt.public_key = point[-64:].hex()
    return crypt
