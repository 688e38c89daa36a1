"""Where PINs come from: a callable, an environment variable, a 0600 file.

A PIN is fetched only when a device session is logged in and is dropped
right after; no PinSource keeps it in its repr, and key URIs may not carry
one (``pin-value`` is rejected), because URIs are stored in the database.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from hsm_adapters.errors import PinError

__all__ = ["CallbackPin", "EnvPin", "FilePin", "LiteralPin", "PinSource", "read_pin"]


@runtime_checkable
class PinSource(Protocol):
    """A callable that returns the PIN (or key-file password) as bytes."""

    def __call__(self) -> bytes: ...


class EnvPin:
    """The PIN from environment variable ``name`` (production deployments)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self) -> bytes:
        value = os.environ.get(self.name)
        if not value:
            raise PinError(f"environment variable {self.name} holding the PIN is not set")
        return value.encode("utf-8")

    def __repr__(self) -> str:
        return f"EnvPin({self.name!r})"


class FilePin:
    """The PIN from a file readable by its owner only (the embedded dev deployment).

    A group- or world-readable file is refused: the keystore password would
    otherwise be one ``cat`` away for every local user.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __call__(self) -> bytes:
        try:
            mode = self.path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise PinError(f"PIN file {self.path} must have mode 0600")
            value = self.path.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise PinError(f"cannot read PIN file {self.path}: {exc.strerror}") from None
        if not value:
            raise PinError(f"PIN file {self.path} is empty")
        return value

    def __repr__(self) -> str:
        return f"FilePin({str(self.path)!r})"


class LiteralPin:
    """A PIN given in code (tests, interactive prompts); hidden from repr."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes | str) -> None:
        self._value = value.encode("utf-8") if isinstance(value, str) else bytes(value)

    def __call__(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "LiteralPin(<hidden>)"


class CallbackPin:
    """Adapts any zero-argument callable returning str or bytes."""

    def __init__(self, fn: Callable[[], bytes | str]) -> None:
        self._fn = fn

    def __call__(self) -> bytes:
        value = self._fn()
        return value.encode("utf-8") if isinstance(value, str) else bytes(value)

    def __repr__(self) -> str:
        return "CallbackPin(<callable>)"


def read_pin(source: PinSource | None, uri: str) -> bytes:
    """Call ``source``; a missing or empty PIN is a PinError naming the key, not the PIN."""
    if source is None:
        raise PinError("a PIN is required", uri=uri)
    try:
        value = source()
    except PinError as exc:
        raise PinError(exc.message, uri=uri) from None
    if not isinstance(value, bytes | bytearray) or not value:
        raise PinError("the PIN source returned no PIN", uri=uri)
    return bytes(value)
