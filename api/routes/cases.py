"""自动发证 / 码上办: ``POST /v1/cases/approved`` (approval systems), ``GET /v1/cases/{code}``.

The event is read as raw bytes, because its HMAC covers the exact bytes
sent (api.cases). The lookup is public with masked fields; the holder app,
with a session of the case's holder, gets the full records. A case of
another holder is "not found", exactly as an unknown code is, so the
holder API tells nothing about who else has cases.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.auth import ApprovalSystem, Role, authenticate
from api.cases import CaseAccepted, accept_event, case_view, parse_event, verify_event
from api.cases import EventKeys as CaseEventKeys
from api.deps import DeploymentDep, Now, SessionDep, holder_ref_of
from trust.registry.cases import case_not_found, get_case
from trust.registry.tokens import DbReplayCache

router = APIRouter(prefix="/v1/cases", tags=["cases"])

_EVENT_SCHEMA: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["case_code", "service", "approved_at", "applicant", "licences"],
        "properties": {
            "case_code": {"type": "string", "description": "统一办件编码 (unified case code)"},
            "service": {"type": "string", "description": "service (事项) code"},
            "approved_at": {"type": "string", "format": "date-time"},
            "applicant": {"type": "object", "required": ["kind", "id"], "properties": {
                "kind": {"enum": ["person", "organisation"]}, "id": {"type": "string"}}},
            "licences": {"type": "array", "items": {"type": "object",
                                                     "required": ["type", "record"]}},
        }}}}}}


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _replay(request: Request) -> DbReplayCache:
    state = request.app.state
    cache = getattr(state, "case_replay", None)
    if cache is None:
        cache = state.case_replay = DbReplayCache(state.registry)
    return cache


def _event_keys(request: Request) -> CaseEventKeys:
    state = request.app.state
    keys = getattr(state, "case_event_keys", None)
    if keys is None:
        keys = state.case_event_keys = CaseEventKeys.of(state.deployment.home)
    return keys


@router.post("/approved", status_code=202, operation_id="cases_approved",
             openapi_extra=_EVENT_SCHEMA)
def approved(request: Request, principal: ApprovalSystem, deployment: DeploymentDep,
             session: SessionDep, now: Now,
             body: Annotated[bytes, Depends(_raw_body)]) -> CaseAccepted:
    """Accept a "case approved" event; the same event again answers the same (idempotent)."""
    verify_event(_event_keys(request).for_client(principal.client_id), request.headers, body,
                 client_id=principal.client_id, now=now, replay=_replay(request))
    return accept_event(deployment, session, principal, parse_event(body), now=now)


@router.get("/{case_code}", operation_id="cases_show")
def show(case_code: str, request: Request, deployment: DeploymentDep, session: SessionDep,
         now: Now) -> JSONResponse:
    """The licences a case produced: masked for anyone, full for the holder (holder app)."""
    header = request.headers.get("authorization", "")
    holder_ref: str | None = None
    if header:
        scheme, _, credential = header.partition(" ")
        principal = authenticate(session, credential.strip()) if scheme.lower() == "bearer" \
            else None
        if principal is not None and Role.HOLDER_APP in principal.roles:
            holder_ref = holder_ref_of(request, principal, now)
    case = get_case(session, case_code)
    if holder_ref is not None and case.holder_ref != holder_ref:
        raise case_not_found(case_code)  # the same answer as an unknown code
    view = case_view(deployment, session, case, full=holder_ref is not None)
    return JSONResponse(view, headers={"Cache-Control": "no-store"})
