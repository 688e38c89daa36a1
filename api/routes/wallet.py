"""证照夹: the holder's wallet through the holder app (a holder session, ``X-Holder-Session``).

- ``GET /v1/wallet/licences``: every licence issued to the holder, across
  departments, that is valid now (found by ``holder_ref``, never by name);
  each with its download path (``GET /v1/licences/{id}/pdf``) — a 亮证 code
  for one is ``POST /v1/presentations``.
- ``GET /v1/wallet/fetches``: who fetched what through the holder's grants,
  read from the signed audit log: counter, service, when, which licences and
  fields (names, never values), and refused attempts.

Threat: a holder app listing someone else's licences or history — both
answer only for the session's holder reference.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.deployment import Deployment
from api.deps import DeploymentDep, Holder, Now, SessionDep
from signing.types import UnknownLicenceTypeError
from trust.registry.models import ApiClient, Department
from trust.registry.service_grants import fetch_history, valid_holder_licences

__all__ = ["router"]

router = APIRouter(prefix="/v1/wallet", tags=["wallet"])


class WalletLicence(BaseModel):
    licence_id: str
    type: str
    type_name: dict[str, str]
    department: str
    department_name: str
    valid_from: datetime
    valid_to: datetime | None
    issued_at: datetime
    download: str


class WalletOut(BaseModel):
    items: list[WalletLicence]


class FetchOut(BaseModel):
    seq: int
    at: str
    kind: str
    counter: str | None
    counter_name: str | None
    service: str | None
    grant_id: str | None
    reason: str | None
    licences: list[dict[str, Any]]


class FetchesOut(BaseModel):
    items: list[FetchOut]


def _type_name(deployment: Deployment, code: str) -> dict[str, str]:
    try:
        licence_type = deployment.issuer_context().types.get(code)
    except UnknownLicenceTypeError:  # a type retired from the catalogue: still the holder's licence
        return {"zh": code, "en": code}
    return {"zh": licence_type.name_zh, "en": licence_type.name_en}


@router.get("/licences", operation_id="wallet_licences")
def licences(deployment: DeploymentDep, session: SessionDep, holder: Holder,
             now: Now) -> WalletOut:
    """The holder's valid licences, newest first."""
    assert holder.holder_ref is not None
    rows = valid_holder_licences(session, holder.holder_ref, now)
    departments = {d.code: d.name for d in session.query(Department).filter(
        Department.code.in_({r.department_code for r in rows}))}
    return WalletOut(items=[WalletLicence(
        licence_id=r.id, type=r.type_code, type_name=_type_name(deployment, r.type_code),
        department=r.department_code, department_name=departments.get(r.department_code, ""),
        valid_from=r.valid_from, valid_to=r.valid_to, issued_at=r.issued_at,
        download=f"/v1/licences/{r.id}/pdf") for r in rows])


@router.get("/fetches", operation_id="wallet_fetches")
def fetches(session: SessionDep, holder: Holder) -> FetchesOut:
    """Who fetched the holder's licences through grants (newest first, at most 200)."""
    assert holder.holder_ref is not None
    history = fetch_history(session, holder.holder_ref)
    counters = {c.id: c.name for c in session.query(ApiClient).filter(
        ApiClient.id.in_({h["counter"] for h in history if h["counter"]}))}
    return FetchesOut(items=[FetchOut(**h, counter_name=counters.get(h["counter"] or ""))
                             for h in history])
