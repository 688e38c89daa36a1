"""What a key and a KEK share: a URI, closing once (thread-safe), the context manager,
and the vendor-error hooks. Both ``base.Key`` and ``wrapping.WrappingKey`` build on it."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from hsm_adapters.errors import DeviceError, KeyStoreError

__all__ = ["StoreObject"]


class StoreObject:
    """An object held in a key store, addressed by URI; usable until closed."""

    def __init__(self, uri: str) -> None:
        self._uri = uri
        self._closed = False
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        """The object's URI (never holds a PIN)."""
        return self._uri

    def _check_open(self) -> None:
        if self._closed:
            raise KeyStoreError("key is closed", uri=self._uri, code="keystore.closed")

    def close(self) -> None:
        """Release device sessions / forget key material (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._uri!r})"

    def _vendor_errors(self) -> tuple[type[Exception], ...]:
        """Exception types ``_translate`` understands."""
        return ()

    def _translate(self, exc: Exception) -> KeyStoreError:
        """Turn a vendor exception into a typed key-store error naming the URI."""
        return DeviceError(f"device error: {type(exc).__name__}", uri=self._uri)

    def _close(self) -> None:
        """Adapter clean-up (log out, close sessions)."""
        return None
