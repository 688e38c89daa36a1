"""一证通办 over HTTP: the holder consents to a service at a counter, the counter fills the form.

1. The holder app (with a holder session) reads the consent view
   ``GET /v1/services/{code}/consent?verifier_id=..`` — which licences, which
   fields (labels in Chinese and English), which counter, for how long — and
   shows it to the holder.
2. On consent it posts ``POST /v1/services/{code}/grants`` with the view's
   ``consent`` digest; the answer carries the grant code (``SG1:<grant id>``)
   and its QR image for the counter to scan.
3. The counter (role ``verifier``, the client the grant names) posts
   ``POST /v1/services/{code}/fill`` with the code once: each licence's file
   is verified and the form filled (docs/services.md, "The counter flow").

Refusals of an existing grant are audited in their own transaction, as for
one-licence grants.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from api.auth import Role, Verifier
from api.counter_fill import GRANT_CODE_PREFIX, fill_redemption, grant_id_of, missing_types
from api.deployment import Deployment
from api.deps import DeploymentDep, Holder, Now, SessionDep
from api.grant_refusals import redeem_audited
from api.routes.verification import app_policy
from api.services import ServiceCatalogue, ServiceDefinition, catalogue_for, types_for
from signing.presentation import issue_presentation
from signing.types import TypeRegistry
from trust.errors import ConflictError, InputError, NotFoundError
from trust.qrimage import to_png
from trust.registry.models import ApiClient, Department, Licence
from trust.registry.service_grants import (
    ConsentItem,
    consent_digest,
    consent_items,
    create_service_grant,
    redeem_service_grant,
)
from trust.token import Grant as TokenGrant
from trust.token.codec import MAX_TOKEN_CHARS

__all__ = ["GRANT_CODE_PREFIX", "grant_id_of", "router", "service_catalogue"]

router = APIRouter(prefix="/v1/services", tags=["counter"])
ServiceCode = Annotated[str, Path(min_length=1, max_length=64)]


def service_catalogue(deployment: Deployment, cache: Any) -> ServiceCatalogue:
    """The built-in services plus the deployment's own (``<home>/services/``), loaded once."""
    catalogue: ServiceCatalogue | None = getattr(cache, "service_catalogue", None)
    if catalogue is None:  # the app loads it at start-up; the CLI and tests come here
        catalogue = catalogue_for(deployment.home.root, licence_types(deployment, cache))
        cache.service_catalogue = catalogue
    return catalogue


def licence_types(deployment: Deployment, cache: Any) -> TypeRegistry:
    """The deployment's licence types (shipped plus ``<home>/types``), loaded once."""
    types: TypeRegistry | None = getattr(cache, "licence_types", None)
    if types is None:
        types = types_for(deployment.home.root)
        cache.licence_types = types
    return types


def _service(request: Request, deployment: Deployment, code: str) -> ServiceDefinition:
    return service_catalogue(deployment, request.app.state).get(code)


def _duration(ttl_s: int) -> dict[str, str]:
    minutes, seconds = divmod(ttl_s, 60)
    hours, minutes = divmod(minutes, 60)
    zh = (f"{hours} 小时" if hours else "") + (f"{minutes} 分钟" if minutes else "") + (
        f"{seconds} 秒" if seconds else "")
    en = ", ".join(p for p in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
                               f"{seconds} s" if seconds else "") if p)
    return {"zh": zh, "en": en}


class CounterOut(BaseModel):
    client_id: str
    name: str


class FieldOut(BaseModel):
    field: str
    label: dict[str, str]


class ConsentLicenceOut(BaseModel):
    licence_id: str
    type: str
    type_name: dict[str, str]
    department: str
    fields: list[FieldOut]


class ConsentOut(BaseModel):
    """What the holder is asked before consenting (zh/en)."""

    service: dict[str, Any]
    counter: CounterOut
    ttl_s: int
    duration: dict[str, str]
    licences: list[ConsentLicenceOut]
    missing: list[str]
    consent: str = Field(description="send back as ``consent`` when the holder agrees")
    text: dict[str, str]


class ServiceGrantIn(BaseModel):
    verifier_id: str = Field(min_length=1, max_length=64, description="the counter's client id")
    ttl_s: int = Field(default=600, ge=10, le=86_400)
    consent: str = Field(min_length=64, max_length=64,
                         description="the digest of the consent view the holder agreed to")
    present: str | None = Field(default=None, min_length=1, max_length=64,
                                description="also return a 亮证 code of this granted licence "
                                            "carrying the grant (the counter may scan either)")


class ServiceGrantOut(BaseModel):
    grant_id: str
    code: str = Field(description="what the counter scans or pastes")
    service: str
    verifier_id: str
    expires_at: datetime
    licences: list[dict[str, Any]]
    png: str = Field(description="the code as a QR image, data: URL")
    presentation: str | None = Field(default=None,
                                     description="LZ1 presentation code with the grant (present)")


class FillIn(BaseModel):
    grant: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS,
                       description="the grant code SG1:<hex>, or a 亮证 code carrying the grant")


def _counter(session: SessionDep, verifier_id: str) -> ApiClient:
    # Threat: a holder (or a compromised holder app) granting to a client that is not a
    # counter, or to a mistyped id that someone could register later.
    client = session.get(ApiClient, verifier_id)
    if client is None or client.disabled or Role.VERIFIER.value not in client.roles.split(","):
        raise NotFoundError(f"no counter {verifier_id!r}; 无此窗口", code="grant.unknown_counter")
    return client


def _consent(request: Request, deployment: Deployment, session: SessionDep, holder_ref: str,
             code: str, verifier_id: str, ttl_s: int, now: datetime,
             ) -> tuple[ServiceDefinition, list[ConsentItem], ConsentOut]:
    service = _service(request, deployment, code)
    counter = _counter(session, verifier_id)
    items, _ = consent_items(session, holder_ref=holder_ref, scope=service.scope(), at=now)
    types = licence_types(deployment, request.app.state)
    licences = []
    for item in items:
        licence_type = types.get(item.type_code)
        row = session.get(Licence, item.licence_id)
        department = session.get(Department, row.department_code) if row is not None else None
        licences.append(ConsentLicenceOut(
            licence_id=item.licence_id, type=item.type_code,
            type_name={"zh": licence_type.name_zh, "en": licence_type.name_en},
            department=department.name if department is not None else "",
            fields=[FieldOut(field=f, label=dict(licence_type.label(f))) for f in item.fields]))
    missing = missing_types(service, (i.type_code for i in items))
    digest = consent_digest(service_code=service.code, service_version=service.version,
                            verifier_id=verifier_id, ttl_s=ttl_s, items=items)
    duration = _duration(ttl_s)
    fields_zh = "、".join(f.label["zh"] for lic in licences for f in lic.fields) or "（无字段）"
    fields_en = ", ".join(f.label["en"] for lic in licences for f in lic.fields) or "(no fields)"
    text = {
        "zh": f"授权「{counter.name}」为办理「{service.name['zh']}」读取您的 "
              f"{len(licences)} 本证照中的：{fields_zh}；{duration['zh']}内有效，仅可使用一次。",
        "en": f"Allow \u201c{counter.name}\u201d to read, for \u201c{service.name['en']}\u201d, "
              f"from {len(licences)} of your licences: {fields_en}; valid for "
              f"{duration['en']}, usable once.",
    }
    view = ConsentOut(service={"code": service.code, "version": service.version,
                               "name": dict(service.name)},
                      counter=CounterOut(client_id=counter.id, name=counter.name), ttl_s=ttl_s,
                      duration=duration, licences=licences, missing=missing, consent=digest,
                      text=text)
    return service, items, view


@router.get("/{code}/consent", operation_id="service_consent_view")
def consent_view(code: ServiceCode, request: Request, deployment: DeploymentDep,
                 session: SessionDep, holder: Holder, now: Now,
                 verifier_id: Annotated[str, Query(min_length=1, max_length=64)],
                 ttl_s: Annotated[int, Query(ge=10, le=86_400)] = 600) -> ConsentOut:
    """What a grant for this service and counter would open, to show before consent."""
    assert holder.holder_ref is not None  # the Holder dependency guarantees a session
    return _consent(request, deployment, session, holder.holder_ref, code, verifier_id, ttl_s,
                    now)[2]


@router.post("/{code}/grants", status_code=201, operation_id="service_grant_create")
def grant_for_service(code: ServiceCode, body: ServiceGrantIn, request: Request,
                      deployment: DeploymentDep, session: SessionDep, holder: Holder,
                      now: Now) -> ServiceGrantOut:
    """授权用证 for one service: the holder agreed to the consent view whose digest is sent."""
    assert holder.holder_ref is not None
    service, items, view = _consent(request, deployment, session, holder.holder_ref, code,
                                    body.verifier_id, body.ttl_s, now)
    # Threat: granting something the holder did not see (a licence issued or revoked, the
    # service changed, another counter or lifetime since the view was shown).
    if view.consent != body.consent.lower():
        raise ConflictError("what would be granted changed since it was shown; show the "
                            "consent view again; 授权内容已变化，请重新确认",
                            code="grant.consent_stale")
    grant_id = create_service_grant(
        session, holder_ref=holder.holder_ref, service_code=service.code,
        service_version=service.version, items=items, verifier_id=body.verifier_id,
        expires_at=now + timedelta(seconds=body.ttl_s), at=now,
        actor=holder.principal.client_id)
    expires_at = now + timedelta(seconds=body.ttl_s)
    presentation = None
    if body.present is not None:
        presentation = _presentation(deployment, session, items, body.present, grant_id,
                                     body.verifier_id, expires_at, now)
    grant_code = GRANT_CODE_PREFIX + grant_id
    png = "data:image/png;base64," + base64.b64encode(to_png(grant_code, box_size=6)).decode()
    return ServiceGrantOut(grant_id=grant_id, code=grant_code, service=service.code,
                           verifier_id=body.verifier_id, expires_at=expires_at,
                           licences=[i.to_dict() for i in items], png=png,
                           presentation=presentation)


def _presentation(deployment: Deployment, session: SessionDep, items: list[ConsentItem],
                  licence_id: str, grant_id: str, verifier_id: str, expires_at: datetime,
                  now: datetime) -> str:
    """A 60 s 亮证 code of one granted licence whose grant claim names this grant."""
    item = next((i for i in items if i.licence_id == licence_id), None)
    # Only a licence of this grant: the code must not show a licence the holder did not grant.
    if item is None or not 1 <= len(item.fields) <= 16:
        raise InputError(f"present: {licence_id[:64]!r} is not a licence of this grant with "
                         "1..16 granted fields; 不是本次授权的证照", code="grant.present")
    claim = TokenGrant(verifier_id, item.fields, expires_at, bytes.fromhex(grant_id))
    return issue_presentation(session, deployment.issuer_context(), licence_id, at=now,
                              grant=claim).token


@router.post("/{code}/fill", operation_id="service_fill")
def fill(code: ServiceCode, body: FillIn, request: Request, deployment: DeploymentDep,
         session: SessionDep, principal: Verifier, now: Now) -> dict[str, Any]:
    """Redeem a service grant once and answer the filled form.

    ``{"service", "form", "provenance", "missing", "licences", ...}``: each
    granted licence's file is verified now; only TOTAL_PASSED licences fill
    the form, and only with fields of the service's scope.
    """
    service = _service(request, deployment, code)
    grant_id = grant_id_of(body.grant)
    redemption = redeem_audited(
        session, deployment, principal, grant_id, now,
        lambda: redeem_service_grant(
            session, grant_id, service_code=service.code, service_version=service.version,
            verifier_id=principal.client_id, at=now, actor=principal.client_id))
    return fill_redemption(session, service, redemption, app_policy(request, deployment), now,
                           licence_types(deployment, request.app.state))
