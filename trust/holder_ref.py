"""Holder references: HMAC-SM3 of a normalised holder identifier under a deployment key.

The registry must answer "is this the holder's licence?" (holder-app
sessions, grants, supersede) without keeping or logging identity numbers. A
plain hash would not do: a resident ID number has about 40 bits of entropy,
so SM3 of it is reversed by enumeration in minutes. Without the key the
reference is useless to someone holding a copy of the database, a backup or
a log.

The identifier is normalised first (Unicode NFKC, whitespace removed, upper
case), so ``11010519491231002x`` and ``１１０１０５１９４９１２３１００２Ｘ``
give one reference.

    >>> key = HolderKey(bytes(32))
    >>> key.ref(" 11010519491231002x ") == key.ref("11010519491231002X")
    True
    >>> len(key.ref("91310000MA1DEMO01X"))
    64
"""

from __future__ import annotations

import os
import secrets
import unicodedata
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import hashes, hmac

from trust.errors import InputError, NotFoundError

__all__ = ["KEY_BYTES", "HolderKey", "create_key_file", "load_holder_key", "normalise",
           "read_key_file"]

KEY_BYTES: Final = 32
MAX_IDENTIFIER: Final = 64


def normalise(identifier: str) -> str:
    """The canonical form of an ID number or USCC (a clear error, never a silent empty)."""
    if not isinstance(identifier, str):
        raise InputError("a holder identifier must be text", code="holder.identifier")
    text = "".join(unicodedata.normalize("NFKC", identifier).split()).upper()
    if not 0 < len(text) <= MAX_IDENTIFIER or not text.isprintable():
        raise InputError(f"a holder identifier has 1..{MAX_IDENTIFIER} printable characters",
                         code="holder.identifier")
    return text


class HolderKey:
    """The keyed-hash key; its bytes never appear in ``repr`` or errors."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) < KEY_BYTES:
            raise InputError(f"a holder key has at least {KEY_BYTES} bytes", code="holder.key")
        self._secret = secret

    def ref(self, identifier: str) -> str:
        """Hex HMAC-SM3 of the normalised identifier (64 characters)."""
        mac = hmac.HMAC(self._secret, hashes.SM3())
        mac.update(normalise(identifier).encode("utf-8"))
        return mac.finalize().hex()

    def __repr__(self) -> str:
        return "HolderKey(<secret>)"


def read_key_file(path: Path) -> bytes:
    """The raw key bytes of a key file ``create_key_file`` wrote."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"no key file {path} (run `sealtrust init` to create it)",
                            code="holder.key_missing") from None
    if len(data) < KEY_BYTES:
        raise InputError(f"key file {path} is shorter than {KEY_BYTES} bytes", code="holder.key")
    return data


def load_holder_key(path: Path) -> HolderKey:
    """The deployment's holder-reference key from its key file."""
    return HolderKey(read_key_file(path))


def create_key_file(path: Path) -> bool:
    """Write a fresh random key (mode 0600) unless one exists; True when it wrote one.

    Exclusive create: two concurrent ``init`` runs never leave two different
    keys behind (a second key would orphan every reference made with the first).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(KEY_BYTES))
    return True
