"""Licences: issue (single and batch jobs), show, download, revoke, cancel, supersede.

Issuers act only for their own department and with their department's keys
and seals; seal administrators cannot issue. Batch jobs live in the database
(``batch_jobs``), so any node can report a job another node runs.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.auth import Issuer, Principal, Role, require
from api.deployment import Deployment
from api.deps import DeploymentDep, MetricsDep, Now, SessionDep
from api.issuance import issue_one
from api.schemas import ReasonIn
from signing.issue import request_digest
from trust.errors import ConflictError, NotFoundError, SealTrustError
from trust.registry.lifecycle import LicenceStatus, change_status, get_licence, history
from trust.registry.models import BatchJob, Licence, LicenceFile

router = APIRouter(prefix="/v1/licences", tags=["licences"])
MAX_BATCH = 1000
_jobs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="batch")

LicenceReader = Annotated[Principal, Depends(require(Role.ISSUER, Role.AUDITOR,
                                                     Role.HOLDER_APP))]


class IssueIn(BaseModel):
    type: str = Field(min_length=1, max_length=16)
    record: dict[str, Any]
    alg: Literal["sm2", "rsa", "sm2+rsa"] = "sm2"
    seal: str | None = None
    idempotency_key: str | None = Field(default=None, max_length=128)
    # a record whose validity has ended is refused (422) unless this says it is a
    # historical re-issue (audited as such)
    historical: bool = False


class IssueOut(BaseModel):
    licence_id: str
    type: str
    file_sm3: str
    reused: bool
    download: str


class BatchIn(BaseModel):
    type: str | None = None
    alg: Literal["sm2", "rsa", "sm2+rsa"] = "sm2"
    records: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class BatchOut(BaseModel):
    job_id: str
    state: str
    total: int
    done: int
    failed: int
    results: list[dict[str, Any]] = []


class EventOut(BaseModel):
    at: datetime
    from_status: str | None
    to_status: str
    reason: str


class LicenceOut(BaseModel):
    licence_id: str
    type: str
    department: str
    holder_name: str
    holder: dict[str, Any]
    status: str
    superseded_by: str | None
    valid_from: datetime
    valid_to: datetime | None
    issued_at: datetime
    seal: str
    file_sm3: str
    status_index: int
    history: list[EventOut]


class SupersedeIn(ReasonIn):
    by: str = Field(min_length=1, max_length=64)


def _out(licence: Licence, events: list[Any]) -> LicenceOut:
    return LicenceOut(
        licence_id=licence.id, type=licence.type_code, department=licence.department_code,
        holder_name=licence.holder_name, holder=licence.holder, status=licence.status,
        superseded_by=licence.superseded_by, valid_from=licence.valid_from,
        valid_to=licence.valid_to, issued_at=licence.issued_at, seal=licence.seal_es_id,
        file_sm3=licence.file_sm3, status_index=licence.status_index,
        history=[EventOut(at=e.at, from_status=e.from_status, to_status=e.to_status,
                          reason=e.reason) for e in events])


def _department_of(principal: Principal) -> str:
    if principal.department_code is None:
        raise ConflictError("this client belongs to no department")
    return principal.department_code


def _visible(principal: Principal, licence: Licence) -> None:
    """Issuers see their own department's licences; auditors and the holder app see all."""
    if Role.ISSUER in principal.roles and not principal.roles & {Role.AUDITOR, Role.HOLDER_APP}:
        principal.require_department(licence.department_code)


@router.post("", status_code=201, operation_id="licences_issue")
def issue(body: IssueIn, principal: Issuer, deployment: DeploymentDep, session: SessionDep,
          metrics: MetricsDep, now: Now,
          idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> IssueOut:
    """Issue one licence for the caller's department (Idempotency-Key header or body field)."""
    issued = issue_one(deployment, session, type_code=body.type, record=body.record,
                       department=_department_of(principal), alg=body.alg, seal=body.seal,
                       idempotency_key=body.idempotency_key or idempotency_key,
                       actor=principal.client_id, at=now, heads=deployment.audit_heads,
                       historical=body.historical)
    if not issued.reused:
        for alg in body.alg.split("+"):
            metrics.count_signature(alg)
    return IssueOut(licence_id=issued.licence_id, type=issued.type_code,
                    file_sm3=issued.file_sm3, reused=issued.reused,
                    download=f"/v1/licences/{issued.licence_id}/pdf")


def _run_job(deployment: Deployment, job_id: str, department: str, actor: str,
             type_code: str | None, alg: str, records: list[dict[str, Any]]) -> None:
    results: list[dict[str, Any]] = []
    done = failed = 0
    for number, raw in enumerate(records, start=1):
        record = dict(raw)
        code = str(record.pop("_type", None) or type_code or "")
        try:
            key = f"job:{job_id}:{request_digest(code, record, department)}"
            with deployment.registry.session() as session:
                issued = issue_one(deployment, session, type_code=code, record=record,
                                   department=department, alg=alg, idempotency_key=key,
                                   actor=actor, heads=deployment.audit_heads)
            results.append({"index": number, "licence_id": issued.licence_id})
            done += 1
        except SealTrustError as exc:
            results.append({"index": number, "error": {"code": exc.code, "message": exc.message}})
            failed += 1
        if number % 10 == 0 or number == len(records):
            with deployment.registry.session() as session:
                job = session.get(BatchJob, job_id)
                if job is not None:
                    job.done, job.failed = done, failed
                    job.results = {"items": results}
                    job.state = "finished" if number == len(records) else "running"
                    job.updated_at = datetime.now(UTC)


@router.post("/batch", status_code=202, operation_id="licences_issue_batch")
def issue_batch(body: BatchIn, principal: Issuer,
                deployment: DeploymentDep) -> BatchOut:
    """Start a batch job; poll ``GET /v1/licences/batch/{job_id}`` for progress and results."""
    department = _department_of(principal)
    job_id = secrets.token_hex(12)
    with deployment.registry.session() as session:
        session.add(BatchJob(id=job_id, client_id=principal.client_id,
                             department_code=department, state="queued",
                             total=len(body.records), results={"items": []}))
    _jobs.submit(_run_job, deployment, job_id, department, principal.client_id, body.type,
                 body.alg, body.records)
    return BatchOut(job_id=job_id, state="queued", total=len(body.records), done=0, failed=0)


@router.get("/batch/{job_id}", operation_id="licences_batch_status")
def batch_status(job_id: str, principal: Issuer, session: SessionDep) -> BatchOut:
    job = session.get(BatchJob, job_id)
    if job is None:
        raise NotFoundError(f"no batch job {job_id!r}")
    principal.require_department(job.department_code)
    return BatchOut(job_id=job.id, state=job.state, total=job.total, done=job.done,
                    failed=job.failed, results=list(job.results.get("items", [])))


@router.get("/{licence_id}", operation_id="licences_show")
def show(licence_id: str, principal: LicenceReader, session: SessionDep) -> LicenceOut:
    licence = get_licence(session, licence_id)
    _visible(principal, licence)
    return _out(licence, history(session, licence_id))


@router.get("/{licence_id}/pdf", operation_id="licences_download", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def download(licence_id: str, principal: LicenceReader, session: SessionDep) -> Response:
    """The sealed PDF exactly as issued."""
    licence = get_licence(session, licence_id)
    _visible(principal, licence)
    stored = session.get(LicenceFile, licence_id)
    if stored is None:
        raise NotFoundError(f"no file for licence {licence_id!r}")
    return Response(stored.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{licence_id}.pdf"'})


def _change(licence_id: str, status: LicenceStatus, reason: str, principal: Principal,
            session: SessionDep, now: datetime, by: str | None = None) -> LicenceOut:
    principal.require_department(get_licence(session, licence_id).department_code)
    licence = change_status(session, licence_id, status, reason=reason, at=now,
                            actor=principal.client_id, superseded_by=by)
    return _out(licence, history(session, licence_id))


@router.post("/{licence_id}/revoke", operation_id="licences_revoke")
def revoke(licence_id: str, body: ReasonIn, principal: Issuer, session: SessionDep,
           now: Now) -> LicenceOut:
    return _change(licence_id, LicenceStatus.REVOKED, body.reason, principal, session, now)


@router.post("/{licence_id}/cancel", operation_id="licences_cancel")
def cancel(licence_id: str, body: ReasonIn, principal: Issuer, session: SessionDep,
           now: Now) -> LicenceOut:
    return _change(licence_id, LicenceStatus.CANCELLED, body.reason, principal, session, now)


@router.post("/{licence_id}/supersede", operation_id="licences_supersede")
def supersede(licence_id: str, body: SupersedeIn, principal: Issuer, session: SessionDep,
              now: Now) -> LicenceOut:
    return _change(licence_id, LicenceStatus.SUPERSEDED, body.reason, principal, session, now,
                   by=body.by)
