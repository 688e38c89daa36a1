"""The key interface every adapter implements, and the key-store interface.

    >>> from hsm_adapters import KeyStoreRegistry, LiteralPin
    >>> with KeyStoreRegistry(base_dir=home) as stores:                 # doctest: +SKIP
    ...     key = stores.generate("file:keys/seal.p8", "sm2", LiteralPin("pw"))
    ...     signature = key.sign(b"licence bytes")

A :class:`Key` satisfies :class:`trust.keys.SigningKey`, so certificates,
CMS/PDF signatures and seals are made with it unchanged. The public
:meth:`Key.sign` checks its input and turns vendor failures into
:mod:`hsm_adapters.errors`; adapters implement only ``_sign`` (and
``_close``). Keys and stores are context managers: leaving the block logs
out and closes device sessions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Final, Self

from hsm_adapters._lifecycle import StoreObject
from hsm_adapters.errors import DeviceError, KeyStoreError, UnsupportedOperationError
from hsm_adapters.pins import PinSource
from trust import keys as trust_keys
from trust import sm2
from trust.errors import InputError, SealTrustError

if TYPE_CHECKING:
    from hsm_adapters.wrapping import WrappingKey

__all__ = ["MAX_MESSAGE", "Health", "Key", "KeyInfo", "KeyStore", "validate_chain"]

# A PDF byte range or a TBSCertificate fits easily; anything larger is a bug upstream.
MAX_MESSAGE: Final = 256 * 1024 * 1024
_PROBE: Final = b"SealTrust key health probe"


@dataclass(frozen=True)
class Health:
    """Outcome of a health check: ``up`` plus what failed, in the error vocabulary."""

    up: bool
    adapter: str
    uri: str
    code: str = "ok"
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"up": self.up, "adapter": self.adapter, "uri": self.uri,
                "code": self.code, "detail": self.detail}


@dataclass(frozen=True)
class KeyInfo:
    """What ``list_keys`` reports without unlocking private material."""

    uri: str
    algorithm: str
    has_certificate: bool

    def to_dict(self) -> dict[str, object]:
        return {"uri": self.uri, "algorithm": self.algorithm,
                "has_certificate": self.has_certificate}


class Key(StoreObject, ABC):
    """A private key in some store: algorithm, public key, chain, sign, health.

    Thread-safe: adapters with device sessions draw one from a pool per call.
    """

    adapter: ClassVar[str] = "abstract"

    def __init__(
        self,
        uri: str,
        public_key_der: bytes,
        chain: Sequence[bytes] = (),
        *,
        sm2_uid: bytes = sm2.DEFAULT_UID,
    ) -> None:
        super().__init__(uri)
        self._spki = bytes(public_key_der)
        self._algorithm = trust_keys.algorithm_of_spki(self._spki)
        self._chain = [bytes(c) for c in chain]
        self._sm2_uid = bytes(sm2_uid)

    @property
    def algorithm(self) -> str:
        """``sm2``, ``rsa-2048``, ``rsa-3072`` or ``ecdsa-p256``."""
        return self._algorithm

    def public_key_der(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        return self._spki

    def certificate_chain(self) -> list[bytes]:
        """DER certificates, leaf first; empty until one is stored."""
        return list(self._chain)

    def sign(self, message: bytes) -> bytes:
        """The algorithm's standard signature encoding over ``message``.

        Raises a :class:`KeyStoreError` subclass naming the key URI on any
        device failure; never returns an empty or partial signature.
        """
        if not isinstance(message, bytes | bytearray | memoryview):
            raise InputError("message to sign must be bytes")
        if len(message) > MAX_MESSAGE:
            raise InputError("message to sign is larger than 256 MiB")
        self._check_open()
        try:
            signature = self._sign(bytes(message))
        except KeyStoreError:
            raise
        except SealTrustError as exc:
            raise DeviceError(f"signing failed: {exc.message}", uri=self._uri) from exc
        except self._vendor_errors() as exc:
            raise self._translate(exc) from exc
        if not signature:
            raise DeviceError("device returned an empty signature", uri=self._uri)
        return signature

    def health(self) -> Health:
        """Sign a probe and verify it: the only check that proves the whole path works."""
        try:
            signature = self.sign(_PROBE)
            ok = trust_keys.verify_signature(
                self._spki,
                trust_keys.signature_algorithm_oid(self._algorithm),
                _PROBE,
                signature,
                sm2_uid=self._sm2_uid,
            )
        except SealTrustError as exc:
            return Health(False, self.adapter, self._uri, exc.code, exc.message)
        if not ok:
            return Health(False, self.adapter, self._uri, "keystore.bad_signature",
                          "probe signature does not verify")
        return Health(True, self.adapter, self._uri)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._uri!r}, {self._algorithm})"

    # --- adapter hooks -------------------------------------------------------

    @abstractmethod
    def _sign(self, message: bytes) -> bytes:
        """Sign for real; may raise the adapter's vendor exceptions."""



class KeyStore(ABC):
    """A family of keys addressed by one URI scheme."""

    scheme: ClassVar[str]

    @classmethod
    def is_available(cls) -> bool:
        """False when an optional dependency (library, module) is missing."""
        return True

    @abstractmethod
    def open_key(self, uri: str, pin: PinSource | None) -> Key:
        """The existing key at ``uri``, unlocked with the PIN from ``pin``."""

    @abstractmethod
    def generate(self, uri: str, algorithm: str, pin: PinSource | None) -> Key:
        """Create a key of ``algorithm`` at ``uri`` (inside the device where there is one)."""

    @abstractmethod
    def import_key(
        self, uri: str, key: trust_keys.SoftwareKey | bytes, pin: PinSource | None
    ) -> Key:
        """Store an existing private key (SoftwareKey or unencrypted PKCS#8 DER) at ``uri``."""

    @abstractmethod
    def set_certificate_chain(
        self, uri: str, chain: Sequence[bytes], pin: PinSource | None = None
    ) -> None:
        """Store DER certificates (leaf first) beside the key."""

    @abstractmethod
    def list_keys(self, uri: str, pin: PinSource | None = None) -> list[KeyInfo]:
        """Keys under ``uri`` (a directory, a token, a device)."""

    def generate_wrapping_key(self, uri: str, pin: PinSource | None) -> WrappingKey:
        """Create a key-encryption key at ``uri`` (data keys at rest; see hsm_adapters.wrapping)."""
        raise UnsupportedOperationError(f"the {self.scheme}: store holds no key-encryption keys",
                                        uri=uri)

    def open_wrapping_key(self, uri: str, pin: PinSource | None) -> WrappingKey:
        """The existing key-encryption key at ``uri``."""
        raise UnsupportedOperationError(f"the {self.scheme}: store holds no key-encryption keys",
                                        uri=uri)

    def close(self) -> None:
        """Release shared resources (sessions, libraries)."""
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def validate_chain(uri: str, spki_der: bytes, chain: Sequence[bytes]) -> list[bytes]:
    """Parse the chain strictly and check the leaf certifies this key.

    A chain whose leaf holds another key would make every signature fail
    verification far from the cause, so it is refused when stored.
    """
    from asn1crypto import x509

    out: list[bytes] = []
    for index, der in enumerate(chain):
        try:
            cert = x509.Certificate.load(bytes(der), strict=True)
            spki = cert["tbs_certificate"]["subject_public_key_info"].dump()
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise KeyStoreError(f"certificate {index} is not DER X.509: {exc}", uri=uri,
                                code="keystore.bad_certificate") from None
        if index == 0 and spki != spki_der:
            raise KeyStoreError("leaf certificate is for a different public key", uri=uri,
                                code="keystore.bad_certificate")
        out.append(bytes(der))
    return out
