"""URI scheme -> key store, extendable through the ``sealtrust.key_schemes`` entry points.

A third party ships ``[project.entry-points."sealtrust.key_schemes"]
myhsm = "pkg.module:factory"`` where ``factory(base_dir=Path) -> KeyStore``.
Stores are created on first use and closed with the registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from hsm_adapters.base import Key, KeyInfo, KeyStore
from hsm_adapters.errors import KeyStoreUnavailableError, KeyUriError
from hsm_adapters.pins import PinSource
from hsm_adapters.wrapping import WrappingKey
from trust.keys import SoftwareKey

__all__ = ["ENTRY_POINT_GROUP", "KeyStoreFactory", "KeyStoreRegistry", "scheme_of"]

ENTRY_POINT_GROUP: Final = "sealtrust.key_schemes"
KeyStoreFactory = Callable[..., KeyStore]


def _file_factory(base_dir: Path | None = None) -> KeyStore:
    from hsm_adapters.software import FileKeyStore

    return FileKeyStore(base_dir)


def _pkcs11_factory(base_dir: Path | None = None) -> KeyStore:
    from hsm_adapters.pkcs11 import Pkcs11KeyStore

    return Pkcs11KeyStore()


def _sdf_factory(base_dir: Path | None = None) -> KeyStore:
    from hsm_adapters.sdf import SdfKeyStore

    return SdfKeyStore(base_dir=base_dir)


_BUILTIN: Final[dict[str, KeyStoreFactory]] = {
    "file": _file_factory,
    "pkcs11": _pkcs11_factory,
    "sdf": _sdf_factory,
}


def scheme_of(uri: str) -> str:
    """The lower-cased URI scheme, or KeyUriError."""
    scheme, colon, _ = uri.partition(":") if isinstance(uri, str) else ("", "", "")
    if not colon or not scheme.isascii() or not scheme.isalnum():
        raise KeyUriError("key URI has no scheme")
    return scheme.lower()


class KeyStoreRegistry:
    """Dispatches key URIs to stores by scheme; thread-safe; a context manager."""

    def __init__(self, *, base_dir: Path | str | None = None, entry_points: bool = True) -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self._factories: dict[str, KeyStoreFactory] = dict(_BUILTIN)
        self._stores: dict[str, KeyStore] = {}
        self._lock = threading.Lock()
        if entry_points:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            name = ep.name.lower()
            if name not in self._factories:
                # Loaded lazily: a broken plug-in fails when its scheme is used, not at import.
                self._factories[name] = lambda base_dir=None, _ep=ep: _ep.load()(base_dir=base_dir)

    def register(self, scheme: str, factory: KeyStoreFactory) -> None:
        """Add or replace the store for ``scheme`` (tests, embedding applications)."""
        with self._lock:
            self._factories[scheme.lower()] = factory
            old = self._stores.pop(scheme.lower(), None)
        if old is not None:
            old.close()

    @property
    def schemes(self) -> list[str]:
        return sorted(self._factories)

    def store(self, uri_or_scheme: str) -> KeyStore:
        """The (shared) store for a URI or bare scheme."""
        scheme = scheme_of(uri_or_scheme) if ":" in uri_or_scheme else uri_or_scheme.lower()
        with self._lock:
            store = self._stores.get(scheme)
            if store is None:
                factory = self._factories.get(scheme)
                if factory is None:
                    raise KeyUriError(f"no key store for scheme {scheme!r}; known: "
                                      f"{', '.join(sorted(self._factories))}")
                try:
                    store = factory(base_dir=self.base_dir)
                except ImportError as exc:
                    raise KeyStoreUnavailableError(
                        f"key store for {scheme!r} cannot be loaded: {exc}") from None
                self._stores[scheme] = store
        return store

    def open_key(self, uri: str, pin: PinSource | None) -> Key:
        return self.store(uri).open_key(uri, pin)

    def generate(self, uri: str, algorithm: str, pin: PinSource | None) -> Key:
        return self.store(uri).generate(uri, algorithm, pin)

    def import_key(self, uri: str, key: SoftwareKey | bytes, pin: PinSource | None) -> Key:
        return self.store(uri).import_key(uri, key, pin)

    def generate_wrapping_key(self, uri: str, pin: PinSource | None) -> WrappingKey:
        return self.store(uri).generate_wrapping_key(uri, pin)

    def open_wrapping_key(self, uri: str, pin: PinSource | None) -> WrappingKey:
        return self.store(uri).open_wrapping_key(uri, pin)

    def set_certificate_chain(
        self, uri: str, chain: Sequence[bytes], pin: PinSource | None = None
    ) -> None:
        self.store(uri).set_certificate_chain(uri, chain, pin)

    def list_keys(self, uri: str, pin: PinSource | None = None) -> list[KeyInfo]:
        return self.store(uri).list_keys(uri, pin)

    def close(self) -> None:
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
