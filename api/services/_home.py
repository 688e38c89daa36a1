"""The catalogue a deployment serves: shipped services plus ``<home>/services``."""

from __future__ import annotations

from pathlib import Path

from api.services._catalogue import ServiceCatalogue, load_services
from signing.types import TypeRegistry, builtin_types, load_types_from

__all__ = ["catalogue_for", "types_for"]


def types_for(home: Path) -> TypeRegistry:
    """Shipped licence types plus the deployment's own from ``<home>/types``."""
    registry = builtin_types()
    extra = home / "types"
    return registry.with_types(load_types_from(extra)) if extra.is_dir() else registry


def catalogue_for(home: Path, types: TypeRegistry | None = None) -> ServiceCatalogue:
    """Shipped services plus ``<home>/services`` (if present), checked against the types."""
    extra = home / "services"
    return load_services(types or types_for(home), extra if extra.is_dir() else None)
