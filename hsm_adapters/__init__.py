"""Key custody: one key interface over software files, PKCS#11 tokens and SDF devices.

    >>> from hsm_adapters import KeyStoreRegistry, LiteralPin
    >>> with KeyStoreRegistry(base_dir=home) as stores:                 # doctest: +SKIP
    ...     key = stores.generate("file:keys/seal.p8", "sm2", LiteralPin("pw"))
    ...     signature = key.sign(b"licence bytes")          # DER SM2 over SM3(Z||M)
    ...     key.health().up
    True

Keys are referenced by URI (``file:``, ``pkcs11:``, ``sdf:``), PINs come from
a :class:`PinSource`, and every failure is a :class:`KeyStoreError` subclass
naming the key URI and, for devices, the vendor code.
"""

from hsm_adapters.base import Health, Key, KeyInfo, KeyStore
from hsm_adapters.errors import (
    DeviceError,
    ExtractableKeyError,
    KeyExistsError,
    KeyNotFoundError,
    KeyStoreError,
    KeyStoreUnavailableError,
    KeyUriError,
    PinError,
    UnsupportedOperationError,
)
from hsm_adapters.pins import CallbackPin, EnvPin, FilePin, LiteralPin, PinSource
from hsm_adapters.registry import ENTRY_POINT_GROUP, KeyStoreRegistry

__all__ = [
    "ENTRY_POINT_GROUP",
    "CallbackPin",
    "DeviceError",
    "EnvPin",
    "ExtractableKeyError",
    "FilePin",
    "Health",
    "Key",
    "KeyExistsError",
    "KeyInfo",
    "KeyNotFoundError",
    "KeyStore",
    "KeyStoreError",
    "KeyStoreRegistry",
    "KeyStoreUnavailableError",
    "KeyUriError",
    "LiteralPin",
    "PinError",
    "PinSource",
    "UnsupportedOperationError",
]
