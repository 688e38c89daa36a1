"""Holder sessions, 亮证 presentation codes and 授权用证 grants.

The holder app (role ``holder_app``) authenticates the holder itself, then
opens a short-lived holder session for the holder's identifier
(``POST /v1/holder/sessions``); with that session (``X-Holder-Session``) it
asks for a fresh presentation code every 30 s for that holder's licences
only, optionally granting one named counter access to chosen fields; the
counter (role ``verifier``) redeems the grant once, as the client the grant
names, and gets the fields for form filling. Each session, grant and
redemption is an audit entry committed with it (holders appear as keyed
hashes, never identity numbers).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import HolderApp, Verifier
from api.deps import DeploymentDep, Holder, Now, SessionDep
from api.grant_refusals import redeem_audited
from signing.presentation import issue_presentation
from trust import audit
from trust.errors import NotFoundError
from trust.holder_session import DEFAULT_SESSION, MAX_SESSION
from trust.registry.grants import (
    create_grant,
    redeem_grant,
)
from trust.registry.models import Licence

router = APIRouter(tags=["presentation"])


class GrantIn(BaseModel):
    verifier_id: str = Field(min_length=1, max_length=64, description="the counter's client id")
    scope: list[str] = Field(min_length=1, max_length=16, description="licence fields granted")
    ttl_s: int = Field(default=600, ge=10, le=86_400)


class PresentationIn(BaseModel):
    licence_id: str = Field(min_length=1, max_length=64)
    ttl_s: int = Field(default=60, ge=10, le=300)
    grant: GrantIn | None = None


class GrantClaimOut(BaseModel):
    verifier_id: str
    scope: list[str]
    expires_at: datetime
    grant_id: str


class PresentationOut(BaseModel):
    token: str
    licence_id: str
    issued_at: datetime
    expires_at: datetime
    refresh_at: datetime
    grant: GrantClaimOut | None
    png: str
    svg: str


class RedemptionOut(BaseModel):
    grant_id: str
    licence_id: str
    licence_type: str
    fields: dict[str, Any]
    redeemed_at: datetime


class HolderSessionIn(BaseModel):
    holder_id: str = Field(min_length=1, max_length=64,
                           description="the holder's ID number or USCC, as the app verified it")
    ttl_s: int = Field(default=int(DEFAULT_SESSION.total_seconds()), ge=60,
                       le=int(MAX_SESSION.total_seconds()))


class HolderSessionOut(BaseModel):
    session: str = Field(description="send as the X-Holder-Session header")
    expires_at: datetime


@router.post("/v1/holder/sessions", status_code=201, operation_id="holder_session_open")
def open_holder_session(body: HolderSessionIn, deployment: DeploymentDep, session: SessionDep,
                        principal: HolderApp, now: Now) -> HolderSessionOut:
    """Act for one holder the app has authenticated: a token bound to its keyed hash.

    The holder app vouches for the holder's identity (its own login or e-ID
    check); SealTrust records which app opened a session for which holder
    reference, so a misbehaving app is visible in the audit log.
    """
    holder_ref = deployment.holder_key().ref(body.holder_id)
    token, opened = deployment.session_key().issue(
        holder_ref, principal.client_id, at=now, ttl=timedelta(seconds=body.ttl_s))
    audit.append(session, kind="holder.session", actor=principal.client_id, subject=holder_ref,
                 at=now, details={"expires_at": opened.expires_at.isoformat()})
    return HolderSessionOut(session=token, expires_at=opened.expires_at)


def _present(deployment: DeploymentDep, session: SessionDep, holder: Holder,
             body: PresentationIn, now: datetime) -> PresentationOut:
    # Threat: a holder app showing or granting someone else's licence. Unknown and
    # not-this-holder's answer alike (404), so licence ids cannot be probed.
    licence = session.get(Licence, body.licence_id)
    if licence is None:
        raise NotFoundError(f"no licence {body.licence_id!r}", code="licence.not_found")
    holder.check(licence)
    principal = holder.principal
    grant = None
    if body.grant is not None:
        grant = create_grant(session, licence_id=body.licence_id,
                             verifier_id=body.grant.verifier_id, scope=body.grant.scope,
                             expires_at=now + timedelta(seconds=body.grant.ttl_s), at=now,
                             actor=principal.client_id)
    shown = issue_presentation(session, deployment.issuer_context(), body.licence_id, at=now,
                               ttl=timedelta(seconds=body.ttl_s), grant=grant)
    base = "/v1/qr/render?format={}&text=" + quote(shown.token, safe="")
    return PresentationOut.model_validate({**shown.to_dict(), "png": base.format("png"),
                                           "svg": base.format("svg")})


@router.post("/v1/presentations", status_code=201, operation_id="presentation_issue")
def present(body: PresentationIn, deployment: DeploymentDep, session: SessionDep,
            holder: Holder, now: Now) -> PresentationOut:
    """A fresh presentation code (default 60 s; ask again every 30 s), optionally with a grant."""
    return _present(deployment, session, holder, body, now)


class GrantRequestIn(GrantIn):
    licence_id: str = Field(min_length=1, max_length=64)
    token_ttl_s: int = Field(default=60, ge=10, le=300)


@router.post("/v1/grants", status_code=201, operation_id="grant_create")
def grant(body: GrantRequestIn, deployment: DeploymentDep, session: SessionDep,
          holder: Holder, now: Now) -> PresentationOut:
    """授权用证: grant a counter the fields in ``scope``; the grant rides in the returned code."""
    wanted = PresentationIn(licence_id=body.licence_id, ttl_s=body.token_ttl_s,
                            grant=GrantIn(verifier_id=body.verifier_id, scope=body.scope,
                                          ttl_s=body.ttl_s))
    return _present(deployment, session, holder, wanted, now)


@router.post("/v1/grants/{grant_id}/redeem", operation_id="grant_redeem")
def redeem(grant_id: str, session: SessionDep, deployment: DeploymentDep, principal: Verifier,
           now: Now) -> RedemptionOut:
    """Spend a grant once; only the counter the grant names may redeem it.

    A refusal (another counter, expired, already spent, licence no longer
    valid) is audited in its own transaction, since the request's rolls back.
    """
    redemption = redeem_audited(
        session, deployment, principal, grant_id, now,
        lambda: redeem_grant(session, grant_id, verifier_id=principal.client_id, at=now,
                             actor=principal.client_id))
    return RedemptionOut.model_validate(redemption.to_dict())
