"""``file:`` key-encryption keys: an SM4 key in a password-protected file (``name.kek``).

The embedded deployment's KEK (``keys/data-kek-<n>.kek``). File layout
(docs/encryption-at-rest.md)::

    "STKEK" | version 1 | log2(N) | r | p | salt[16] | nonce[12] | SM4-GCM(key)[16] | tag[16]

The file key is scrypt(password, salt, N, r, p) truncated to 16 bytes and the
first 24 bytes are the associated data; a wrong password or an edited file
fails the tag (:class:`PinError`), so a wrong KEK is never used. Wrapping is
SM4-GCM with a fresh nonce and the caller's context as associated data.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from hsm_adapters.errors import KeyExistsError, KeyNotFoundError, KeyStoreError, PinError
from hsm_adapters.wrapping import MECH_SM4_GCM, UnwrapError, WrappingKey

__all__ = ["FileWrappingKey", "create_kek_file", "read_kek_file"]

FILE_MAGIC: Final = b"STKEK"
FILE_VERSION: Final = 1
LOG2_N: Final = 14  # 16 MiB, as for the PKCS#8 key files (trust.pkcs8)
R: Final = 8
P: Final = 2
MAX_LOG2_N: Final = 20  # refuse edited parameters that would exhaust memory/time
FILE_BYTES: Final = len(FILE_MAGIC) + 4 + 16 + 12 + 16 + 16
NONCE: Final = 12
TAG: Final = 16


def _sm4_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, ad: bytes) -> bytes:
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(ad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def _sm4_gcm_decrypt(key: bytes, nonce: bytes, body: bytes, ad: bytes) -> bytes:
    """Raises InvalidTag when ``body`` does not authenticate."""
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, body[-TAG:])).decryptor()
    dec.authenticate_additional_data(ad)
    return dec.update(body[:-TAG]) + dec.finalize()


def _file_key(password: bytes, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=16, n=2**log2_n, r=r, p=p).derive(password)


def create_kek_file(path: Path, password: bytes, uri: str) -> bytes:
    """Write a new random KEK to ``path`` (mode 0600, never over an existing file)."""
    key = os.urandom(16)
    salt, nonce = os.urandom(16), os.urandom(NONCE)
    header = FILE_MAGIC + bytes((FILE_VERSION, LOG2_N, R, P)) + salt
    body = _sm4_gcm_encrypt(_file_key(password, salt, LOG2_N, R, P), nonce, key, header)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyExistsError("a key file already exists", uri=uri) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(header + nonce + body)
    return key


def read_kek_file(path: Path, password: bytes, uri: str) -> bytes:
    """The KEK in ``path``; :class:`PinError` for a wrong password or an altered file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyNotFoundError("no KEK file", uri=uri) from None
    except OSError as exc:
        raise KeyStoreError(f"cannot read KEK file: {exc.strerror}", uri=uri) from None
    if len(data) != FILE_BYTES or not data.startswith(FILE_MAGIC) or data[5] != FILE_VERSION:
        raise KeyStoreError("not a SealTrust KEK file", uri=uri, code="keystore.bad_key")
    log2_n, r, p = data[6], data[7], data[8]
    if not (10 <= log2_n <= MAX_LOG2_N and 1 <= r <= 16 and 1 <= p <= 8):
        raise KeyStoreError("KEK file has out-of-range scrypt parameters", uri=uri,
                            code="keystore.bad_key")
    header, nonce, body = data[:25], data[25:37], data[37:]
    try:
        return _sm4_gcm_decrypt(_file_key(password, header[9:25], log2_n, r, p), nonce, body,
                                header)
    except InvalidTag:
        raise PinError("wrong password or corrupted KEK file", uri=uri) from None


class FileWrappingKey(WrappingKey):
    """An SM4 KEK held in process memory, loaded from its password-protected file."""

    adapter = "file"
    mechanism = MECH_SM4_GCM

    def __init__(self, uri: str, key: bytes) -> None:
        super().__init__(uri)
        self._key: bytes | None = key
        self._key_lock = threading.Lock()

    def _material(self) -> bytes:
        key = self._key
        if key is None:
            raise KeyStoreError("key is closed", uri=self.uri, code="keystore.closed")
        return key

    def _wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + _sm4_gcm_encrypt(self._material(), nonce, data_key, context)

    def _unwrap(self, body: bytes, context: bytes) -> bytes:
        if len(body) < NONCE + TAG:
            raise UnwrapError("wrapped data key is truncated", uri=self.uri)
        try:
            return _sm4_gcm_decrypt(self._material(), body[:NONCE], body[NONCE:], context)
        except InvalidTag:
            # Threat: a data key wrapped by another KEK (a wrong key file at this URI) or
            # for another licence; refusing here is what keeps garbage from being "decrypted".
            raise UnwrapError("wrapped data key does not authenticate under this KEK "
                              "(another KEK, another licence, or altered)", uri=self.uri
                              ) from None

    def _close(self) -> None:
        self._key = None
