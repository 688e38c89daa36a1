"""``pkcs11:`` key-encryption keys: an AES-256 secret key on the token, used with CKM_AES_GCM.

SoftHSM2 (and many tokens sold outside China) offer no SM4 mechanism, so the
token KEK is AES-256 and data keys are wrapped by encrypting them inside the
token with CKM_AES_GCM (12-byte random IV, 128-bit tag, the caller's context
as AAD): the KEK never leaves the token, a wrong KEK or context fails the
tag. A token that offers SM4 (vendor mechanism) would take a profile like the
SM2 one; the data itself stays SM4-GCM either way. The key must be
sensitive, non-extractable and allowed to encrypt/decrypt; others are refused.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING, Any, Final

from hsm_adapters.errors import (
    DeviceError,
    ExtractableKeyError,
    KeyNotFoundError,
    KeyStoreError,
    KeyUriError,
)
from hsm_adapters.wrapping import MECH_AES_GCM_PKCS11, UnwrapError, WrappingKey

if TYPE_CHECKING:
    from hsm_adapters.pkcs11 import _Ref, _TokenPool

try:
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11 import exceptions as p11_errors
    from pkcs11.mechanisms import GCMParams
except ImportError:  # pragma: no cover - python-pkcs11 is a dependency
    pass

__all__ = ["Pkcs11WrappingKey", "find_secret_key", "generate_secret_key"]

IV: Final = 12
TAG: Final = 16


def find_secret_key(session: Any, ref: _Ref) -> Any:
    """The token's AES KEK for ``ref``, checked to be sensitive and non-extractable."""
    try:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES,
                              label=ref.label, id=ref.id)
    except p11_errors.NoSuchKey:
        raise KeyNotFoundError("no AES secret key matches", uri=ref.uri) from None
    except p11_errors.MultipleObjectsReturned:
        raise KeyUriError("URI matches several secret keys; add id=", uri=ref.uri) from None
    # Threat: a KEK an application could read out would defeat keeping it in the token.
    if not key[Attribute.SENSITIVE] or key[Attribute.EXTRACTABLE]:
        raise ExtractableKeyError("KEK is extractable or not sensitive: refused", uri=ref.uri)
    return key


def generate_secret_key(session: Any, ref: _Ref) -> bytes:
    """Create a sensitive, non-extractable AES-256 token key; returns its CKA_ID."""
    if ref.label is None:
        raise KeyUriError("generating a KEK needs object= (its label)", uri=ref.uri)
    key_id = ref.id or secrets.token_bytes(8)
    session.generate_key(KeyType.AES, 256, id=key_id, label=ref.label, store=True, template={
        Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True,
        Attribute.ENCRYPT: True, Attribute.DECRYPT: True})
    return key_id


class Pkcs11WrappingKey(WrappingKey):
    """An AES-256 KEK on a PKCS#11 token; encrypts through the token's session pool."""

    adapter = "pkcs11"
    mechanism = MECH_AES_GCM_PKCS11

    def __init__(self, release: Any, pool: _TokenPool, ref: _Ref) -> None:
        super().__init__(ref.uri)
        self._release = release
        self._pool = pool
        self._ref = ref

    def _token_op(self, encrypt: bool, data: bytes, iv: bytes, context: bytes) -> bytes:
        session = self._pool.checkout()
        try:
            key = find_secret_key(session, self._ref)
            params = GCMParams(iv, context, TAG * 8)
            if encrypt:
                return bytes(key.encrypt(data, mechanism=Mechanism.AES_GCM,
                                         mechanism_param=params))
            return bytes(key.decrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=params))
        finally:
            self._pool.checkin(session)

    def _wrap(self, data_key: bytes, context: bytes) -> bytes:
        iv = os.urandom(IV)
        return iv + self._token_op(True, data_key, iv, context)

    def _unwrap(self, body: bytes, context: bytes) -> bytes:
        if len(body) < IV + TAG:
            raise UnwrapError("wrapped data key is truncated", uri=self.uri)
        try:
            return self._token_op(False, body[IV:], body[:IV], context)
        except (p11_errors.EncryptedDataInvalid, p11_errors.EncryptedDataLenRange,
                p11_errors.FunctionFailed, p11_errors.GeneralError) as exc:
            # Threat: a data key wrapped under another KEK or for another licence. Tokens
            # report a GCM tag failure differently (SoftHSM2: CKR_GENERAL_ERROR), so a probe
            # tells it from a broken device: if the token still round-trips, the blob is bad.
            iv = os.urandom(IV)
            probe = self._token_op(True, bytes(16), iv, b"probe")
            if self._token_op(False, probe, iv, b"probe") != bytes(16):
                raise DeviceError("KEK probe did not round-trip", uri=self.uri) from exc
            raise UnwrapError(f"wrapped data key does not authenticate under this KEK "
                              f"({type(exc).__name__})", uri=self.uri) from None

    def _vendor_errors(self) -> tuple[type[Exception], ...]:
        return (p11_errors.PKCS11Error,)

    def _translate(self, exc: Exception) -> KeyStoreError:
        from hsm_adapters.pkcs11 import translate

        error = translate(exc, "token encryption failed", self.uri)
        return error if isinstance(error, KeyStoreError) else DeviceError(str(exc), uri=self.uri)

    def _close(self) -> None:
        self._release(self._pool)
