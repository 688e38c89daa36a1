"""Lifecycle actions of an issuer: renew one licence, revoke or cancel many.

Issuers act for their own department only: a renewal of another
department's licence is 403, and a bulk run whose ids include another
department's licence is refused as a whole (403) before anything changes.
Bulk runs are processed in chunks, each committed on its own; an interrupted
run (a timeout, a lost node) is finished by sending the same request again,
without a second event for any licence (trust.registry.bulk).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import ForbiddenError, Issuer, Principal
from api.deps import DeploymentDep, Now, SessionDep
from api.renewal import renew_licence
from trust import audit
from trust.errors import ConflictError
from trust.registry.bulk import MAX_REASON, BulkAction, Selection, bulk_change
from trust.registry.lifecycle import get_licence
from trust.registry.models import Licence

router = APIRouter(tags=["lifecycle"])
MAX_API_IDS = 10_000
# One request changes at most this many licences (then ``complete`` is false: send it
# again), and a dry run lists at most MAX_API_IDS ids: a request stays bounded in time.
PER_REQUEST = 2_000
_SCOPE_CHUNK = 500


class RenewIn(BaseModel):
    record: dict[str, Any]
    alg: Literal["sm2", "rsa", "sm2+rsa"] = "sm2"
    format: Literal["pdf", "ofd"] | None = None  # default: the old licence's
    reason: str = Field(default="renewed (换证)", min_length=1, max_length=MAX_REASON)


class RenewOut(BaseModel):
    renewed: str
    licence_id: str
    type: str
    file_sm3: str
    download: str


class BulkIn(BaseModel):
    """Either ``ids``, or ``type`` (an issuer's selection is always its own department)."""

    ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_API_IDS)
    department: str | None = Field(default=None, max_length=32)
    type: str | None = Field(default=None, max_length=16)
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    dry_run: bool = False


class BulkOut(BaseModel):
    run_id: str
    action: str
    dry_run: bool
    selection: dict[str, Any]
    counts: dict[str, int] = Field(description="changed (dry run: would_change), skipped, "
                                               "missing")
    complete: bool = Field(description="false: this request stopped after its share; send "
                                       "the same request again to go on")
    licence_ids: list[str] = Field(description="changed (dry run: would change), in order")
    unlisted: int = Field(description="dry run: would change, beyond the ids listed")
    skipped: dict[str, str] = Field(description="id -> the state that kept it unchanged")
    missing: list[str]


@router.post("/v1/licences/{licence_id}/renew", status_code=201,
             operation_id="licences_renew")
def renew(licence_id: str, body: RenewIn, principal: Issuer, deployment: DeploymentDep,
          session: SessionDep, now: Now) -> RenewOut:
    """Renew (换证): a new licence of the same type and holder supersedes this one, in one
    transaction. 409 ``licence.renewal_holder_mismatch`` when the record names another
    holder; 409 ``licence.not_renewable`` for a revoked, cancelled or superseded licence."""
    principal.require_department(get_licence(session, licence_id).department_code)
    renewed = renew_licence(deployment, session, licence_id, body.record,
                            actor=principal.client_id, at=now, alg=body.alg,
                            file_format=body.format, reason=body.reason,
                            heads=deployment.audit_heads)
    return RenewOut(**renewed.to_json())


def _own_ids(session: Session, principal: Principal, ids: list[str]) -> None:
    """Threat: an issuer revoking another department's licences by listing their ids.
    The whole request is refused before any change (not a partial run)."""
    for start in range(0, len(ids), _SCOPE_CHUNK):
        part = ids[start:start + _SCOPE_CHUNK]
        foreign = session.execute(
            select(Licence.id).where(Licence.id.in_(part),
                                     Licence.department_code != principal.department_code)
            .limit(1)).scalar()
        if foreign is not None:
            raise ForbiddenError(f"licence {foreign} is not a licence of department "
                                 f"{principal.department_code}; nothing was changed")


@router.post("/v1/lifecycle/bulk/{action}", operation_id="licences_bulk")
def bulk(action: BulkAction, body: BulkIn, principal: Issuer, deployment: DeploymentDep,
         now: Now) -> BulkOut:
    """Revoke or cancel many licences of the caller's department: by ``ids``, by ``type``,
    or all (``department`` = the caller's). ``dry_run`` says exactly what would change
    (counts and ids) and changes nothing. Only valid and suspended licences change; one
    request changes at most 2000 (``complete`` false: send it again to go on)."""
    if principal.department_code is None:
        raise ConflictError("this client belongs to no department")
    if body.ids is not None:
        if body.department is not None or body.type is not None:
            Selection(ids=tuple(body.ids), department=body.department)  # raises: one or other
        with deployment.registry.session() as session:
            _own_ids(session, principal, body.ids)
        selection = Selection(ids=tuple(dict.fromkeys(body.ids)))
    else:
        if body.department is not None:
            principal.require_department(body.department)
        if body.department is None and body.type is None:
            Selection()  # raises: name what to select, never "everything" by omission
        selection = Selection(department=principal.department_code, type_code=body.type)
    # the run commits chunk by chunk, each in its own session
    key = deployment.key("audit")

    def sign(chunk_session: Session, at: datetime) -> None:
        audit.sign_pending(chunk_session, key, at, deployment.audit_heads)

    result = bulk_change(deployment.registry, selection, action, reason=body.reason, at=now,
                         actor=principal.client_id, dry_run=body.dry_run,
                         before_commit=None if body.dry_run else sign,
                         limit=PER_REQUEST, max_listed=MAX_API_IDS)
    return BulkOut(**result.to_json())
