"""Seals: make, list, show, revoke (seal administrators of the owning department)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from api.auth import Reader, SealAdmin
from api.deps import DeploymentDep, Now, SessionDep
from api.schemas import ReasonIn, SealIn, SealOut
from signing.departments import department_certificates
from signing.seals import make_department_seal, revoke_seal
from trust.errors import NotFoundError
from trust.registry.models import SealRecord

router = APIRouter(prefix="/v1/seals", tags=["seals"])


def _out(seal: SealRecord) -> SealOut:
    return SealOut(es_id=seal.es_id, department=seal.department_code, name=seal.name,
                   status=seal.status, valid_start=seal.valid_start, valid_end=seal.valid_end,
                   revoked_at=seal.revoked_at, revoke_reason=seal.revoke_reason)


def _get(session: SessionDep, es_id: str) -> SealRecord:
    seal = session.get(SealRecord, es_id)
    if seal is None:
        raise NotFoundError(f"no seal {es_id!r}")
    return seal


@router.post("", status_code=201, operation_id="seals_make")
def make(body: SealIn, principal: SealAdmin, deployment: DeploymentDep, session: SessionDep,
         now: Now) -> SealOut:
    """Make a seal for the caller's own department."""
    principal.require_department(body.department)
    start = body.valid_from or now
    record = make_department_seal(
        session, department_code=body.department, maker_key=deployment.key("sm2-seal-maker"),
        maker_cert=deployment.certificate("sm2-seal-maker"),
        signer_certs=department_certificates(session, body.department), valid_start=start,
        valid_end=start + timedelta(days=365 * body.years), at=now, actor=principal.client_id)
    return _out(record)


@router.get("", operation_id="seals_list")
def list_seals(_: Reader, session: SessionDep, department: str | None = None) -> list[SealOut]:
    stmt = select(SealRecord).order_by(SealRecord.es_id)
    if department:
        stmt = stmt.where(SealRecord.department_code == department)
    return [_out(s) for s in session.execute(stmt).scalars()]


@router.get("/{es_id}", operation_id="seals_show")
def show(es_id: str, _: Reader, session: SessionDep) -> SealOut:
    return _out(_get(session, es_id))


@router.get("/{es_id}/seal.der", operation_id="seals_download",
            response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download(es_id: str, _: Reader, session: SessionDep) -> Response:
    """The DER SESeal (GB/T 38540)."""
    return Response(_get(session, es_id).der, media_type="application/octet-stream")


@router.post("/{es_id}/revoke", operation_id="seals_revoke")
def revoke(es_id: str, body: ReasonIn, principal: SealAdmin, session: SessionDep,
           now: Now) -> SealOut:
    principal.require_department(_get(session, es_id).department_code)
    return _out(revoke_seal(session, es_id, reason=body.reason, at=now,
                            actor=principal.client_id))
