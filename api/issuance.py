"""Issuance as the CLI and the routes call it: resolve keys, run signing.issue, batch workers.

One place turns "department + algorithm (+ optional key URI)" into signers, so
the CLI, the HTTP routes and the batch workers can never disagree about which
key a department may use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deployment import Deployment, Home, load_config
from signing.batch import MAX_LINE, BatchItem, ItemResult
from signing.issue import IssuedLicence, IssueRequest, Signer, issue_licence, request_digest
from trust import audit
from trust.errors import ConflictError, InputError, NotFoundError, SealTrustError
from trust.registry.models import KeyRecord

ALGORITHMS: Final = ("sm2", "rsa", "sm2+rsa")


def resolve_signers(
    deployment: Deployment, session: Session, department: str, alg: str,
    key_uri: str | None = None,
) -> tuple[Signer, Signer | None]:
    """The department's signing key(s) for ``alg`` (``sm2``, ``rsa`` or ``sm2+rsa``)."""
    if alg not in ALGORITHMS:
        raise InputError(f"--alg must be one of {', '.join(ALGORITHMS)}")
    if key_uri is not None:
        record = session.get(KeyRecord, key_uri)
        if record is None or record.department_code != department:
            raise ConflictError(f"key {key_uri} is not a signing key of department {department}")
        return deployment.signer(key_uri), None
    rows = session.execute(select(KeyRecord).where(
        KeyRecord.department_code == department).order_by(KeyRecord.uri)).scalars().all()
    if not rows:
        raise NotFoundError(f"department {department!r} has no signing keys (sealtrust dept add)")

    def pick(family: str) -> Signer:
        for row in rows:
            if row.algorithm.startswith(family):
                return deployment.signer(row.uri)
        raise NotFoundError(f"department {department} has no {family.upper()} signing key")

    first, _, second = alg.partition("+")
    return pick(first), pick(second) if second else None


def issue_one(
    deployment: Deployment, session: Session, *, type_code: str, record: Mapping[str, Any],
    department: str, alg: str = "sm2", key_uri: str | None = None, seal: str | None = None,
    idempotency_key: str | None = None, actor: str, at: datetime | None = None,
) -> IssuedLicence:
    """Issue inside ``session``'s transaction and sign the audit head before commit."""
    now = at or datetime.now(UTC)
    first, second = resolve_signers(deployment, session, department, alg, key_uri)
    issued = issue_licence(
        session, deployment.issuer_context(),
        IssueRequest(type_code=type_code, record=record, department_code=department,
                     signer=first, second_signer=second, seal_es_id=seal,
                     idempotency_key=idempotency_key),
        at=now, actor=actor)
    audit.sign_pending(session, deployment.key("audit"), now)
    return issued


# ---------------------------------------------------------------------------
# Batch workers: one Deployment per process, opened once by the initializer.
# ---------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def batch_worker_init(home: str, options: dict[str, Any]) -> None:
    """Process-pool initializer: open the deployment (keys decrypted once per worker)."""
    root = Path(home)
    _worker["deployment"] = Deployment(Home(root), load_config(Home(root)))
    _worker["options"] = options


def batch_worker_issue(item: BatchItem) -> ItemResult:
    """Issue one batch record; every failure becomes a per-line result, never an exception."""
    deployment: Deployment = _worker["deployment"]
    options: dict[str, Any] = _worker["options"]
    out_dir = Path(options["out_dir"])
    if len(item.text) > MAX_LINE:
        return ItemResult(item.line, False, error_code="input.too_large",
                          error=f"line longer than {MAX_LINE} bytes")
    try:
        record = json.loads(item.text)
        if not isinstance(record, dict):
            raise InputError("each line must be one JSON object")
        type_code = str(record.pop("_type", None) or options["type"] or "")
        if not type_code:
            raise InputError("no licence type: give --type or a \"_type\" field")
        department = str(record.pop("_dept", None) or options["department"])
        key = "batch:" + request_digest(type_code, record, department)
        with deployment.registry.session() as session:
            issued = issue_one(deployment, session, type_code=type_code, record=record,
                               department=department, alg=options["alg"],
                               key_uri=options["key_uri"], idempotency_key=key,
                               actor=options["actor"])
        path = out_dir / f"{issued.licence_id}.pdf"
        tmp = path.with_suffix(".part")
        tmp.write_bytes(issued.pdf)
        tmp.replace(path)
        return ItemResult(item.line, True, issued.licence_id, str(path), reused=issued.reused)
    except json.JSONDecodeError as exc:
        return ItemResult(item.line, False, error_code="input.json",
                          error=f"not valid JSON: {exc.msg} at column {exc.colno}")
    except SealTrustError as exc:
        return ItemResult(item.line, False, error_code=exc.code, error=exc.message)
