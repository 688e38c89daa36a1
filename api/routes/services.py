"""The service catalogue (事项用证清单) over HTTP: public, read-only.

``GET /v1/services`` lists every service with the licence types it needs;
``GET /v1/services/{code}`` gives one definition with its scope (the licence
fields its form reads), form schema and mapping.

Public on purpose: the catalogue is published government information with no
personal data, and anyone — a holder before consenting, a counter, an auditor
— must be able to see exactly which licence fields each service reads, so
over-collection is visible to all. Threat: load from anonymous callers — the
answer is a precomputed, in-memory document (the catalogue is loaded and
checked once at start-up; a bad definition stops the service from starting),
and the paths are rate-limited like the other public routes when listed in
``rate_limit_paths``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from api.services import ServiceCatalogue

__all__ = ["ServiceCatalogueDep", "router"]

router = APIRouter(prefix="/v1/services", tags=["services"])


async def _catalogue(request: Request) -> ServiceCatalogue:
    catalogue: ServiceCatalogue = request.app.state.service_catalogue
    return catalogue


ServiceCatalogueDep = Annotated[ServiceCatalogue, Depends(_catalogue)]
_Code = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_-]{1,63}$")]


@router.get("", operation_id="services_list")
def list_services(catalogue: ServiceCatalogueDep) -> list[dict[str, Any]]:
    """Every service: code, names, the licence types it needs and those it produces."""
    return [service.summary() for service in catalogue]


@router.get("/{code}", operation_id="services_show")
def show_service(code: _Code, catalogue: ServiceCatalogueDep) -> dict[str, Any]:
    """One service's definition, with ``scope``: exactly the licence fields its form reads."""
    return catalogue.get(code).to_dict()
