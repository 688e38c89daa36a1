"""The registry: departments, keys, certificates, seals, licences and their history.

    >>> from trust.registry import Registry, migrate
    >>> migrate("sqlite:///:memory:")  # doctest: +SKIP
"""

from trust.registry.db import (
    Registry,
    current_revision,
    head_revision,
    make_engine,
    migrate,
    next_value,
)

__all__ = [
    "Registry",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
    "next_value",
]
