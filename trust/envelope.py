"""Envelope encryption of personal data at rest: SM4-GCM under a per-licence data key.

Two binary formats, both in docs/encryption-at-rest.md:

* a *sealed value* (a licence's record, its file): ``"STE" version alg nonce
  ciphertext tag`` encrypted with the licence's 128-bit data key; the header,
  the table.column and the licence id are the associated data, so a value
  copied onto another licence's row or into another column fails to open;
* a *wrapped data key* (``licences.data_key``): ``"STK" version`` then the
  key-encryption key's own wrapping (:class:`DataKeyWrapper`); the licence
  id is the wrapping's associated data as well.

Plaintext values stored before encryption are told apart by their first
bytes (a PDF starts with ``%PDF``; a record column is NULL until sealed), so
reading works during a migration. This module only does the cryptography
and the formats; which rows and keys belong together is
:mod:`trust.registry.sealed`'s business.
"""

from __future__ import annotations

import os
from typing import Final, Protocol

from trust import sm4_gcm
from trust.errors import CryptoError, SealTrustError, TagMismatchError

__all__ = [
    "DATA_KEY_BYTES",
    "KEY_MAGIC",
    "MAGIC",
    "DataKeyWrapper",
    "SealedDataError",
    "associated_data",
    "is_sealed",
    "new_data_key",
    "open_value",
    "seal_value",
    "unwrap_data_key",
    "wrap_context",
    "wrap_data_key",
]

MAGIC: Final = b"STE"
KEY_MAGIC: Final = b"STK"
VERSION: Final = 1
ALG_SM4_GCM: Final = 1
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
DATA_KEY_BYTES: Final = 16  # SM4 keys are 128 bits
HEADER_BYTES: Final = len(MAGIC) + 2 + NONCE_BYTES
_AD_LABEL: Final = b"SealTrust at-rest v1\x00"
_WRAP_LABEL: Final = b"SealTrust data key v1\x00"


class SealedDataError(SealTrustError):
    """A sealed value or wrapped data key does not open: tampered, swapped or wrong key."""

    code = "data.decrypt_failed"


class DataKeyWrapper(Protocol):
    """A key-encryption key in a key store (``hsm_adapters`` wrapping keys satisfy this)."""

    @property
    def uri(self) -> str: ...

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """Encrypt ``data_key`` inside the store, authenticating ``context``."""
        ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The data key, or a key-store error when ``wrapped``/``context`` do not authenticate."""
        ...


def new_data_key() -> bytes:
    """A fresh random SM4 data key (one per licence)."""
    return os.urandom(DATA_KEY_BYTES)


def associated_data(header: bytes, column: str, licence_id: str) -> bytes:
    """What a sealed value authenticates besides itself (see the format doc)."""
    return (_AD_LABEL + header + column.encode("ascii") + b"\x00"
            + licence_id.encode("utf-8"))


def is_sealed(value: bytes | None) -> bool:
    """Whether a stored value is in the sealed format (else plaintext from before encryption)."""
    return value is not None and len(value) >= HEADER_BYTES + TAG_BYTES and \
        bytes(value[:3]) == MAGIC


def seal_value(data_key: bytes, plaintext: bytes, *, column: str, licence_id: str) -> bytes:
    """SM4-GCM ``plaintext`` for ``column`` of ``licence_id`` (a fresh 96-bit nonce)."""
    if len(data_key) != DATA_KEY_BYTES:
        raise CryptoError("a data key is 16 bytes")
    nonce = os.urandom(NONCE_BYTES)
    header = MAGIC + bytes((VERSION, ALG_SM4_GCM)) + nonce
    return sm4_gcm.encrypt(data_key, nonce, plaintext,
                           associated_data(header, column, licence_id), prefix=header)


def open_value(data_key: bytes, sealed: bytes, *, column: str, licence_id: str) -> bytes:
    """The plaintext of a sealed value, or :class:`SealedDataError` (never garbage)."""
    sealed = bytes(sealed)
    if not is_sealed(sealed):
        raise SealedDataError(f"{column} of licence {licence_id} is not a sealed value")
    # An unknown version or algorithm is refused, not guessed: a newer writer's format.
    if sealed[3] != VERSION or sealed[4] != ALG_SM4_GCM:
        raise SealedDataError(f"{column} of licence {licence_id} has unknown format "
                              f"version {sealed[3]} algorithm {sealed[4]}",
                              code="data.unknown_format")
    header = sealed[:HEADER_BYTES]
    try:
        return sm4_gcm.decrypt(data_key, header[5:], sealed,
                               associated_data(header, column, licence_id), start=HEADER_BYTES)
    except TagMismatchError:
        # Threat: a value copied from another licence's row or column, or edited in the
        # database; the tag over (licence id, column) refuses it instead of showing it.
        raise SealedDataError(f"{column} of licence {licence_id} does not authenticate "
                              "(copied from another row, altered, or another data key)"
                              ) from None


def wrap_context(licence_id: str, kek_uri: str) -> bytes:
    """Associated data of a wrapped data key: it belongs to this licence and this KEK."""
    return _WRAP_LABEL + licence_id.encode("utf-8") + b"\x00" + kek_uri.encode("utf-8")


def wrap_data_key(kek: DataKeyWrapper, data_key: bytes, licence_id: str) -> bytes:
    """``"STK" version || kek.wrap(data_key)`` for storage in ``licences.data_key``."""
    return KEY_MAGIC + bytes((VERSION,)) + kek.wrap(data_key, wrap_context(licence_id, kek.uri))


def unwrap_data_key(kek: DataKeyWrapper, wrapped: bytes, licence_id: str) -> bytes:
    """The licence's data key; :class:`SealedDataError` if the blob is not ours."""
    wrapped = bytes(wrapped)
    if wrapped[:3] != KEY_MAGIC or len(wrapped) < 5 or wrapped[3] != VERSION:
        raise SealedDataError(f"the data key of licence {licence_id} is not in a known format",
                              code="data.unknown_format")
    key = kek.unwrap(wrapped[4:], wrap_context(licence_id, kek.uri))
    if len(key) != DATA_KEY_BYTES:
        raise SealedDataError(f"the data key of licence {licence_id} has the wrong length")
    return key
