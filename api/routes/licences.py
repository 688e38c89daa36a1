"""Licences: issue (single and batch jobs), list, show, download, and status changes.

Issuers act only for their own department and with their department's keys
and seals; seal administrators cannot issue. Reads: auditors see every
licence, issuers their department's, the holder app only the licences of the
holder its session names (``X-Holder-Session``, api.deps.Access). Batch jobs live in the database
(``batch_jobs``), so any node can report a job another node runs.
"""

from __future__ import annotations

import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Issuer, Principal, Role
from api.deployment import Deployment
from api.deps import DeploymentDep, LicenceReader, MetricsDep, Now, SessionDep
from api.issuance import issue_one
from api.schemas import ReasonIn
from signing.issue import request_digest
from trust.errors import ConflictError, InputError, NotFoundError, SealTrustError
from trust.registry.jobs import Heartbeat, create_job, fail_job, reap_stale, record_progress
from trust.registry.lifecycle import LicenceStatus, change_status, get_licence, history
from trust.registry.models import BatchJob, Licence
from trust.registry.sealed import licence_file, licence_record

router = APIRouter(prefix="/v1/licences", tags=["licences"])
MAX_BATCH = 1000
MAX_PAGE = 200
JOB_STALE_ENV = "SEALTRUST_JOB_STALE_S"
DEFAULT_JOB_STALE_S = 60.0
_jobs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="batch")


class IssueIn(BaseModel):
    type: str = Field(min_length=1, max_length=16)
    record: dict[str, Any]
    alg: Literal["sm2", "rsa", "sm2+rsa"] = "sm2"
    format: Literal["pdf", "ofd"] = "pdf"  # OFD (GB/T 33190) is SM2 only
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
    state: str = Field(description="queued, running, done or failed (then see reason)")
    total: int
    done: int
    failed: int
    reason: str | None = None
    results: list[dict[str, Any]] = []


class EventOut(BaseModel):
    at: datetime
    from_status: str | None
    to_status: str
    reason: str


class LicenceOut(BaseModel):
    licence_id: str
    type: str
    type_version: int | None = Field(
        description="version of the type definition it was issued under (null: before 0008)")
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


def _out(session: Session, licence: Licence, events: list[Any]) -> LicenceOut:
    record = licence_record(session, licence)
    return LicenceOut(
        licence_id=licence.id, type=licence.type_code, type_version=licence.type_version,
        department=licence.department_code, holder_name=record.holder_name,
        holder=record.holder, status=licence.status,
        superseded_by=licence.superseded_by, valid_from=licence.valid_from,
        valid_to=licence.valid_to, issued_at=licence.issued_at, seal=licence.seal_es_id,
        file_sm3=licence.file_sm3, status_index=licence.status_index,
        history=[EventOut(at=e.at, from_status=e.from_status, to_status=e.to_status,
                          reason=e.reason) for e in events])


def _department_of(principal: Principal) -> str:
    if principal.department_code is None:
        raise ConflictError("this client belongs to no department")
    return principal.department_code


@router.post("", status_code=201, operation_id="licences_issue")
def issue(body: IssueIn, principal: Issuer, deployment: DeploymentDep, session: SessionDep,
          metrics: MetricsDep, now: Now,
          idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> IssueOut:
    """Issue one licence for the caller's department (Idempotency-Key header or body field)."""
    issued = issue_one(deployment, session, type_code=body.type, record=body.record,
                       department=_department_of(principal), alg=body.alg, seal=body.seal,
                       idempotency_key=body.idempotency_key or idempotency_key,
                       actor=principal.client_id, at=now, heads=deployment.audit_heads,
                       file_format=body.format, historical=body.historical)
    if not issued.reused:
        for alg in body.alg.split("+"):
            metrics.count_signature(alg)
    return IssueOut(licence_id=issued.licence_id, type=issued.type_code,
                    file_sm3=issued.file_sm3, reused=issued.reused,
                    download=f"/v1/licences/{issued.licence_id}/pdf")


def job_timing() -> tuple[timedelta, timedelta]:
    """(heartbeat interval, stale after): ``SEALTRUST_JOB_STALE_S`` (default 60 s), beat at 1/4."""
    raw = os.environ.get(JOB_STALE_ENV, "")
    try:
        stale = float(raw) if raw else DEFAULT_JOB_STALE_S
    except ValueError:
        raise InputError(f"{JOB_STALE_ENV} must be a number of seconds") from None
    if not 1.0 <= stale <= 86_400:
        raise InputError(f"{JOB_STALE_ENV} must be 1 .. 86400 seconds")
    return timedelta(seconds=stale / 4), timedelta(seconds=stale)


def _run_job(deployment: Deployment, job_id: str, department: str, actor: str,
             type_code: str | None, alg: str, records: list[dict[str, Any]]) -> None:
    """Issue the lines; a line's SealTrustError is that line's result, anything else ends
    the job as failed with the line and the exception type (never a stuck "running")."""
    results: list[dict[str, Any]] = []
    done = failed = 0
    with deployment.registry.session() as session:
        record_progress(session, job_id, done=0, failed=0, results=[], finished=False,
                        at=datetime.now(UTC))
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
        except Exception as exc:  # noqa: BLE001 - a bug in one line must not leave the job hanging
            with deployment.registry.session() as session:
                record_progress(session, job_id, done=done, failed=failed, results=results,
                                finished=False, at=datetime.now(UTC))
                fail_job(session, job_id, f"line {number}: unexpected {type(exc).__name__}; "
                         f"lines 1..{number - 1} are in results", datetime.now(UTC))
            return
        if number % 10 == 0 or number == len(records):
            with deployment.registry.session() as session:
                record_progress(session, job_id, done=done, failed=failed, results=results,
                                finished=number == len(records), at=datetime.now(UTC))


def _guarded_job(deployment: Deployment, job_id: str, heartbeat: Heartbeat,
                 *args: Any) -> None:
    """Run a job; whatever escapes marks it failed with a reason; the heartbeat stops."""
    try:
        _run_job(deployment, job_id, *args)
    except BaseException as exc:  # recorded, then re-raised for the executor
        with deployment.registry.session() as session:
            fail_job(session, job_id, f"job stopped: {type(exc).__name__}", datetime.now(UTC))
        raise
    finally:
        heartbeat.stop()


def start_job(deployment: Deployment, *, department: str, actor: str, type_code: str | None,
              alg: str, records: list[dict[str, Any]]) -> str:
    """Record a queued job, start its heartbeat and hand it to this process's executor."""
    job_id = secrets.token_hex(12)
    interval, _ = job_timing()
    with deployment.registry.session() as session:
        create_job(session, job_id=job_id, client_id=actor, department_code=department,
                   total=len(records), at=datetime.now(UTC))
    heartbeat = Heartbeat(deployment.registry, job_id, interval).start()
    try:
        _jobs.submit(_guarded_job, deployment, job_id, heartbeat, department, actor,
                     type_code, alg, records)
    except BaseException as exc:
        heartbeat.stop()
        with deployment.registry.session() as session:
            fail_job(session, job_id, f"not started: {type(exc).__name__}", datetime.now(UTC))
        raise
    return job_id


@router.post("/batch", status_code=202, operation_id="licences_issue_batch")
def issue_batch(body: BatchIn, principal: Issuer,
                deployment: DeploymentDep) -> BatchOut:
    """Start a batch job; poll ``GET /v1/licences/batch/{job_id}`` for progress and results.

    States: queued, running, done, failed (with ``reason``). A job whose worker
    died is reported failed once its heartbeat is stale; the lines in its
    results were issued, so resubmit only the others.
    """
    job_id = start_job(deployment, department=_department_of(principal),
                       actor=principal.client_id, type_code=body.type, alg=body.alg,
                       records=body.records)
    return BatchOut(job_id=job_id, state="queued", total=len(body.records), done=0, failed=0)


@router.get("/batch/{job_id}", operation_id="licences_batch_status")
def batch_status(job_id: str, principal: Issuer, session: SessionDep, now: Now) -> BatchOut:
    job = session.get(BatchJob, job_id)
    if job is None:
        raise NotFoundError(f"no batch job {job_id!r}")
    principal.require_department(job.department_code)
    if reap_stale(session, now=now, stale_after=job_timing()[1]):
        session.refresh(job)
    return BatchOut(job_id=job.id, state=job.state, total=job.total, done=job.done,
                    failed=job.failed, reason=job.reason,
                    results=list(job.results.get("items", [])))


class LicenceSummary(BaseModel):
    licence_id: str
    type: str
    department: str
    status: str
    valid_from: datetime
    valid_to: datetime | None
    issued_at: datetime


class LicenceListOut(BaseModel):
    items: list[LicenceSummary]
    next_after: str | None = Field(description="pass as ``after`` for the next page")


@router.get("", operation_id="licences_list")
def list_licences(access: LicenceReader, session: SessionDep,
                  after: Annotated[str, Query(max_length=64)] = "",
                  limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> LicenceListOut:
    """The licences the caller may see, by id: the holder's, the department's, or all."""
    query = select(Licence).where(Licence.id > after).order_by(Licence.id).limit(limit)
    roles = access.principal.roles
    if Role.AUDITOR not in roles:
        if Role.ISSUER in roles:
            query = query.where(Licence.department_code == _department_of(access.principal))
        else:  # the holder app: its session's holder only (threat: enumerating other holders)
            query = query.where(Licence.holder_ref == access.holder_ref)
    rows = list(session.execute(query).scalars())
    return LicenceListOut(
        items=[LicenceSummary(licence_id=r.id, type=r.type_code, department=r.department_code,
                              status=r.status, valid_from=r.valid_from, valid_to=r.valid_to,
                              issued_at=r.issued_at) for r in rows],
        next_after=rows[-1].id if len(rows) == limit else None)


@router.get("/{licence_id}", operation_id="licences_show")
def show(licence_id: str, access: LicenceReader, session: SessionDep) -> LicenceOut:
    licence = get_licence(session, licence_id)
    access.check(licence)
    return _out(session, licence, history(session, licence_id))


@router.get("/{licence_id}/pdf", operation_id="licences_download", response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "application/ofd": {}}}})
def download(licence_id: str, access: LicenceReader, session: SessionDep) -> Response:
    """The sealed file exactly as issued (PDF, or OFD for licences issued as OFD)."""
    licence = get_licence(session, licence_id)
    access.check(licence)
    data = licence_file(session, licence_id)
    ofd = data[:4] == b"PK\x03\x04"
    media, suffix = ("application/ofd", "ofd") if ofd else ("application/pdf", "pdf")
    return Response(data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{licence_id}.{suffix}"'})


def _change(licence_id: str, status: LicenceStatus, reason: str, principal: Principal,
            session: SessionDep, now: datetime, by: str | None = None) -> LicenceOut:
    principal.require_department(get_licence(session, licence_id).department_code)
    licence = change_status(session, licence_id, status, reason=reason, at=now,
                            actor=principal.client_id, superseded_by=by)
    return _out(session, licence, history(session, licence_id))


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
    """Replaced by ``by``: a licence of the same holder, type and department (else 409)."""
    return _change(licence_id, LicenceStatus.SUPERSEDED, body.reason, principal, session, now,
                   by=body.by)


@router.post("/{licence_id}/suspend", operation_id="licences_suspend")
def suspend(licence_id: str, body: ReasonIn, principal: Issuer, session: SessionDep,
            now: Now) -> LicenceOut:
    """Suspend (暂停): reversible; verifiers say "suspended", never "valid"."""
    return _change(licence_id, LicenceStatus.SUSPENDED, body.reason, principal, session, now)


@router.post("/{licence_id}/reinstate", operation_id="licences_reinstate")
def reinstate(licence_id: str, body: ReasonIn, principal: Issuer, session: SessionDep,
              now: Now) -> LicenceOut:
    """Reinstate (恢复) a suspended licence; only a suspended one (else 409)."""
    return _change(licence_id, LicenceStatus.VALID, body.reason, principal, session, now)
