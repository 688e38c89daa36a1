"""Key-store errors: typed, naming the key URI, never the PIN.

Vendor return codes (PKCS#11 ``CKR_*``, GM/T 0018 ``SDR_*``) are kept as a
number and a readable name so that an operator can look them up in the
vendor's manual, while callers branch on the stable ``code`` only.
"""

from __future__ import annotations

from trust.errors import ConflictError, CryptoError, InputError, NotFoundError

__all__ = [
    "DeviceError",
    "ExtractableKeyError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyStoreError",
    "KeyStoreUnavailableError",
    "KeyUriError",
    "PinError",
    "UnsupportedOperationError",
]


class KeyStoreError(CryptoError):
    """A key store or device refused or failed; carries the key URI and vendor code."""

    code = "keystore.error"

    def __init__(
        self,
        message: str,
        *,
        uri: str | None = None,
        vendor_code: int | None = None,
        vendor_name: str | None = None,
        code: str | None = None,
    ) -> None:
        text = message
        if vendor_name is not None or vendor_code is not None:
            number = f"0x{vendor_code:08X}" if vendor_code is not None else "?"
            text += f" ({vendor_name or 'vendor code'} {number})"
        if uri is not None:
            text += f" [key {uri}]"
        super().__init__(text, code=code)
        self.uri = uri
        self.vendor_code = vendor_code
        self.vendor_name = vendor_name

    def to_dict(self) -> dict[str, str]:
        data = super().to_dict()
        if self.uri is not None:
            data["uri"] = self.uri
        if self.vendor_name is not None:
            data["vendor_name"] = self.vendor_name
        if self.vendor_code is not None:
            data["vendor_code"] = f"0x{self.vendor_code:08X}"
        return data


class KeyStoreUnavailableError(KeyStoreError):
    """The library is missing, the token/device is absent or cannot be opened."""

    code = "keystore.unavailable"


class PinError(KeyStoreError):
    """Wrong, locked, expired or missing PIN (the PIN itself is never reported)."""

    code = "keystore.pin"


class KeyNotFoundError(KeyStoreError, NotFoundError):
    """No key at the URI."""

    code = "keystore.key_not_found"


class KeyExistsError(KeyStoreError, ConflictError):
    """Generating or importing would overwrite an existing key."""

    code = "keystore.key_exists"


class DeviceError(KeyStoreError):
    """The device failed while operating (e.g. a signature in the middle of a batch)."""

    code = "keystore.device"


class ExtractableKeyError(KeyStoreError):
    """A device key whose attributes allow it to leave the device: refused."""

    code = "keystore.extractable_key"


class UnsupportedOperationError(KeyStoreError):
    """The adapter cannot do this (e.g. generate keys inside an SDF device)."""

    code = "keystore.unsupported"


class KeyUriError(KeyStoreError, InputError):
    """A key URI that does not parse or carries what it must not (a PIN)."""

    code = "keystore.uri"
