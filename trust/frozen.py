"""Deep-frozen JSON values: definitions loaded once and shared must not change under anyone.

Licence types and service definitions are read from JSON at start-up and handed to every
request; a caller that mutated one (a dict in a schema, a list of fields) would change what
every later request checks against. Freezing turns dicts into read-only mappings and lists
into tuples; thawing gives a private mutable copy where a library needs plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["freeze", "thaw"]


def freeze(value: Any) -> Any:
    """A read-only deep copy of a JSON value (dict -> mapping proxy, list -> tuple)."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy (mappings -> dict, tuples and lists -> list)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value
