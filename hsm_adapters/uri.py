"""Key URIs: ``file:``, ``pkcs11:`` (RFC 7512 syntax) and ``sdf:`` (same syntax).

    >>> ref = KeyUri.parse("pkcs11:token=SealTrust;object=seal-1?module-path=/usr/lib/p11.so")
    >>> ref.scheme, ref.path["token"], ref.query["module-path"]
    ('pkcs11', 'SealTrust', '/usr/lib/p11.so')

``sdf:`` reuses the RFC 7512 layout (``sdf:key-index=1?module-path=...``) so
that one parser serves both device schemes. A URI carrying a PIN
(``pin-value``, ``pin-source``) is refused: URIs are stored in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from urllib.parse import quote, unquote_to_bytes

from hsm_adapters.errors import KeyUriError

__all__ = ["KeyUri"]

MAX_URI: Final = 4096
_FORBIDDEN: Final = frozenset({"pin-value", "pin-source"})
# RFC 7512 pchar/qchar minus the separators: what may stay unescaped when printing.
_SAFE: Final = "-._~!$'()*+,:@/"


def _attrs(text: str, sep: str, part: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if not text:
        return attrs
    for item in text.split(sep):
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            raise KeyUriError(f"malformed {part} attribute in key URI")
        if name in _FORBIDDEN:
            # Do not echo the URI: it holds a PIN.
            raise KeyUriError("key URIs must not carry a PIN (pin-value/pin-source)")
        if name in attrs:
            raise KeyUriError(f"attribute {name!r} repeated in key URI")
        raw = unquote_to_bytes(value)
        attrs[name] = raw.decode("utf-8", "surrogateescape")
    return attrs


@dataclass(frozen=True)
class KeyUri:
    """A parsed device key URI: scheme, path attributes, query attributes."""

    scheme: str
    path: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    query: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def parse(cls, uri: str) -> KeyUri:
        """Parse ``scheme:a=1;b=2?c=3&d=4`` with percent-decoding (RFC 7512 section 2.3)."""
        if not isinstance(uri, str) or len(uri) > MAX_URI:
            raise KeyUriError("key URI must be a string of at most 4096 characters")
        scheme, colon, rest = uri.partition(":")
        if not colon or not scheme.isascii() or not scheme.isalnum():
            raise KeyUriError("key URI has no scheme")
        path_part, _, query_part = rest.partition("?")
        query = _attrs(query_part, "&", "query")
        path = _attrs(path_part, ";", "path")
        return cls(scheme.lower(), MappingProxyType(path), MappingProxyType(query))

    def __str__(self) -> str:
        def enc(attrs: MappingProxyType[str, str], sep: str) -> str:
            return sep.join(f"{k}={quote(v, safe=_SAFE, errors='surrogateescape')}"
                            for k, v in attrs.items())

        text = f"{self.scheme}:{enc(self.path, ';')}"
        return f"{text}?{enc(self.query, '&')}" if self.query else text
