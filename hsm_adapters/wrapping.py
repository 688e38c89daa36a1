"""Key-encryption keys (KEKs): symmetric keys that wrap per-licence data keys in their store.

A :class:`WrappingKey` satisfies :class:`trust.envelope.DataKeyWrapper`. The
public :meth:`wrap`/:meth:`unwrap` check sizes and turn vendor failures into
:mod:`hsm_adapters.errors`; a wrapped key that does not authenticate (another
KEK, another licence, edited bytes) is :class:`UnwrapError`, never a wrong
key. Each wrapped blob starts with one mechanism byte so a store can tell its
own formats apart (docs/encryption-at-rest.md lists them):

====  =========================================================  ==========
byte  mechanism                                                  store
====  =========================================================  ==========
0x01  SM4-GCM, 12-byte nonce || ciphertext || 16-byte tag         file:
0x02  AES-256-GCM inside the token (CKM_AES_GCM), same layout     pkcs11:
0x03  SM4-CBC + SM4-CBC-MAC with device session keys under the    sdf:
      internal KEK (hsm_adapters.sdf_kek)
====  =========================================================  ==========
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Final

from hsm_adapters._lifecycle import StoreObject
from hsm_adapters.errors import DeviceError, KeyStoreError
from trust.envelope import SealedDataError
from trust.errors import InputError, SealTrustError

__all__ = ["MECH_AES_GCM_PKCS11", "MECH_SDF_KEK", "MECH_SM4_GCM", "UnwrapError", "WrappingKey"]

MECH_SM4_GCM: Final = 0x01
MECH_AES_GCM_PKCS11: Final = 0x02
MECH_SDF_KEK: Final = 0x03
MAX_WRAPPED: Final = 1024
PROBE_CONTEXT: Final = b"SealTrust KEK health probe"


class UnwrapError(KeyStoreError, SealedDataError):
    """The wrapped data key does not authenticate under this KEK (wrong KEK, swapped, edited)."""

    code = "keystore.unwrap_failed"


class WrappingKey(StoreObject, ABC):
    """A KEK in some store; thread-safe; a context manager."""

    adapter: ClassVar[str] = "abstract"
    mechanism: ClassVar[int] = 0

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """``mechanism byte || store-specific wrapping`` of ``data_key`` bound to ``context``."""
        if not 16 <= len(data_key) <= 64:
            raise InputError("a data key is 16 to 64 bytes")
        self._check_open()
        try:
            body = self._wrap(bytes(data_key), bytes(context))
        except KeyStoreError:
            raise
        except SealTrustError as exc:
            raise DeviceError(f"wrapping failed: {exc.message}", uri=self._uri) from exc
        except self._vendor_errors() as exc:
            raise self._translate(exc) from exc
        return bytes((self.mechanism,)) + body

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The data key; :class:`UnwrapError` when ``wrapped`` is not this KEK's for ``context``."""
        wrapped = bytes(wrapped)
        if not wrapped or len(wrapped) > MAX_WRAPPED:
            raise UnwrapError("wrapped data key is empty or too long", uri=self._uri)
        if wrapped[0] != self.mechanism:
            raise UnwrapError(f"wrapped data key uses mechanism 0x{wrapped[0]:02x}, this "
                              f"{self.adapter} KEK uses 0x{self.mechanism:02x}", uri=self._uri)
        self._check_open()
        try:
            return self._unwrap(wrapped[1:], bytes(context))
        except KeyStoreError:
            raise
        except SealTrustError as exc:
            raise DeviceError(f"unwrapping failed: {exc.message}", uri=self._uri) from exc
        except self._vendor_errors() as exc:
            raise self._translate(exc) from exc

    def health(self) -> None:
        """Wrap and unwrap a probe; raises the key-store error that stops it."""
        probe = bytes(range(16))
        if self.unwrap(self.wrap(probe, PROBE_CONTEXT), PROBE_CONTEXT) != probe:
            raise DeviceError("KEK probe did not round-trip", uri=self._uri)

    # --- adapter hooks -------------------------------------------------------

    @abstractmethod
    def _wrap(self, data_key: bytes, context: bytes) -> bytes:
        """Wrap for real; may raise the adapter's vendor exceptions."""

    @abstractmethod
    def _unwrap(self, body: bytes, context: bytes) -> bytes:
        """Unwrap for real; :class:`UnwrapError` when it does not authenticate."""

