"""The catalogue a deployment serves: shipped services plus ``<home>/services``."""

from __future__ import annotations

from pathlib import Path

from api.services._catalogue import ServiceCatalogue, load_services
from signing.types import TypeRegistry, load_registry

__all__ = ["catalogue_for", "types_for"]


def types_for(home: Path) -> TypeRegistry:
    """Shipped licence types plus (overridden by) the deployment's own in ``<home>/types``."""
    return load_registry(home / "types")


def catalogue_for(home: Path, types: TypeRegistry | None = None) -> ServiceCatalogue:
    """Shipped services plus ``<home>/services`` (if present), checked against the types."""
    extra = home / "services"
    return load_services(types or types_for(home), extra if extra.is_dir() else None)
