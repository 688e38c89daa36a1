"""Issuance as the CLI and the routes call it: resolve keys, run signing.issue, batch workers.

One place turns "department + algorithm (+ optional key URI)" into signers, so
the CLI, the HTTP routes and the batch workers can never disagree about which
key a department may use.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.deployment import Deployment, Home, load_config
from signing.batch import MAX_LINE, BatchItem, ItemResult
from signing.issue import (
    IssuedLicence,
    IssueRequest,
    PreparedLicence,
    Signer,
    issue_licence,
    prepare_licence,
    request_digest,
    store_licence,
    stored_licence,
)
from trust import audit
from trust.errors import ConflictError, InputError, NotFoundError, SealTrustError
from trust.registry.db import Registry, begin_write, holds_write_lock, next_value
from trust.registry.models import KeyRecord
from trust.request_mac import keyed_idempotency_key

ALGORITHMS: Final = ("sm2", "rsa", "sm2+rsa")
_KEYS = cast(Table, KeyRecord.__table__)
# Core, prebuilt: two columns of a few rows per request need no ORM objects.
_KEY_OWNER = select(_KEYS.c.department_code).where(_KEYS.c.uri == bindparam("uri"))
_DEPARTMENT_KEYS = select(_KEYS.c.uri, _KEYS.c.algorithm).where(
    _KEYS.c.department_code == bindparam("department")).order_by(_KEYS.c.uri)


def resolve_signers(
    deployment: Deployment, session: Session, department: str, alg: str,
    key_uri: str | None = None,
) -> tuple[Signer, Signer | None]:
    """The department's signing key(s) for ``alg`` (``sm2``, ``rsa`` or ``sm2+rsa``)."""
    if alg not in ALGORITHMS:
        raise InputError(f"--alg must be one of {', '.join(ALGORITHMS)}")
    if key_uri is not None:
        owner = session.execute(_KEY_OWNER, {"uri": key_uri}).scalar()
        if owner != department:
            raise ConflictError(f"key {key_uri} is not a signing key of department {department}")
        return deployment.signer(key_uri), None
    rows = session.execute(_DEPARTMENT_KEYS, {"department": department}).all()
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
    heads: audit.HeadSchedule | None = None, file_format: str = "pdf",
    historical: bool = False,
) -> IssuedLicence:
    """Issue inside ``session``'s transaction; the audit head per ``heads``.

    Without ``heads`` (CLI) a head is signed before commit; the service passes
    its process's schedule (``deployment.audit_heads``), which signs only when
    a head is due and otherwise leaves it to the background flusher.
    """
    now = at or datetime.now(UTC)
    first, second = resolve_signers(deployment, session, department, alg, key_uri)
    # The licence sequence and status index come from their own short transaction, so
    # this one takes no lock before it stores: concurrent issuances (service workers,
    # nodes) render, seal and time-stamp in parallel instead of queueing on the counter
    # rows (SQLite: the whole database) for the length of a render and a TSA round trip.
    # A failure after allocation skips its values; none is ever handed out twice.
    allocate = None if holds_write_lock(session) else _BlockAllocator(deployment.registry)
    issued = issue_licence(
        session, deployment.issuer_context(),
        IssueRequest(type_code=type_code, record=record, department_code=department,
                     signer=first, second_signer=second, seal_es_id=seal,
                     idempotency_key=idempotency_key, file_format=file_format,
                     historical=historical),
        at=now, actor=actor, allocate=allocate)
    audit.sign_pending(session, deployment.key("audit"), now, heads)
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


class _BlockAllocator:
    """Counter values reserved in blocks, each reservation its own short transaction.

    So an issuance (a batch worker: a chunk) holds the database write lock only
    while storing, never while rendering, sealing and time-stamping. A value is
    never handed out twice (the reservation is one atomic statement); values of
    a block left unused when its chunk ends (lines that failed after the
    reservation) are skipped, so the status index space has at most
    ``CHUNK - 1`` holes per chunk (one per failed single issuance).
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._blocks: dict[str, deque[int]] = {}
        self.wanted = 1

    def __call__(self, name: str) -> int:
        if not self._blocks.get(name):
            self.reserve((name,))
        return self._blocks[name].popleft()

    def reserve(self, names: Sequence[str]) -> None:
        """Fill the empty blocks among ``names`` in one short transaction (an issuance
        takes a licence sequence and a status index: one commit, not two)."""
        empty = [name for name in names if not self._blocks.get(name)]
        if not empty:
            return
        size = max(1, self.wanted)
        with self._registry.session() as session:
            for name in empty:
                last = next_value(session, name, size)
                self._blocks[name] = deque(range(last - size + 1, last + 1))


Signers = dict[str, tuple[Signer, Signer | None]]
"""Resolved signing keys per department, for one chunk (one transaction)."""


def _batch_request(deployment: Deployment, session: Session, item: BatchItem,
                   options: Mapping[str, Any], signers: Signers) -> IssueRequest:
    if len(item.text) > MAX_LINE:
        raise InputError(f"line longer than {MAX_LINE} bytes", code="input.too_large")
    try:
        record = json.loads(item.text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} at column {exc.colno}",
                         code="input.json") from None
    if not isinstance(record, dict):
        raise InputError("each line must be one JSON object")
    type_code = str(record.pop("_type", None) or options["type"] or "")
    if not type_code:
        raise InputError("no licence type: give --type or a \"_type\" field")
    department = str(record.pop("_dept", None) or options["department"])
    if department not in signers:  # looked up once per chunk; failures are not cached
        signers[department] = resolve_signers(deployment, session, department, options["alg"],
                                              options["key_uri"])
    first, second = signers[department]
    file_format = str(options.get("format") or "pdf")
    digest = request_digest(type_code, record, department, file_format)
    return IssueRequest(type_code=type_code, record=record, department_code=department,
                        signer=first, second_signer=second, file_format=file_format,
                        idempotency_key=keyed_idempotency_key(
                            deployment.request_key(), "batch", digest),
                        legacy_idempotency_key=f"batch:{digest}",
                        historical=bool(options.get("historical")))


def _failed(item: BatchItem, exc: SealTrustError) -> ItemResult:
    return ItemResult(item.line, False, error_code=exc.code, error=exc.message)


def batch_worker_issue(items: Sequence[BatchItem]) -> list[ItemResult]:
    """Issue a chunk of batch records in one transaction; failures become per-line results.

    Render and seal every line first (counters come from reserved blocks), then
    store each licence under its own SAVEPOINT, sign one audit head and commit.
    PDFs are written, and results returned, only after the commit.
    """
    deployment: Deployment = _worker["deployment"]
    options: dict[str, Any] = _worker["options"]
    out_dir = Path(options["out_dir"])
    context = deployment.issuer_context()
    allocate = _BlockAllocator(deployment.registry)
    results: dict[int, ItemResult] = {}
    issued: dict[int, IssuedLicence] = {}
    signers: Signers = {}
    with deployment.registry.session() as session:
        ready: list[tuple[int, PreparedLicence]] = []
        for index, item in enumerate(items):
            allocate.wanted = len(items) - index
            try:
                request = _batch_request(deployment, session, item, options, signers)
                outcome = prepare_licence(session, context, request, at=datetime.now(UTC),
                                          allocate=allocate)
            except SealTrustError as exc:
                results[index] = _failed(item, exc)
                continue
            if isinstance(outcome, IssuedLicence):
                issued[index] = outcome
            else:
                ready.append((index, outcome))
        if ready:
            begin_write(session)
        for index, prepared in ready:
            try:
                with session.begin_nested():
                    issued[index] = store_licence(session, prepared, actor=options["actor"])
            except IntegrityError:
                # The same line twice (in this chunk or another worker's): keep the first.
                again = stored_licence(session, prepared)
                if again is None:
                    results[index] = _failed(items[index], ConflictError(
                        f"licence {prepared.licence_id} could not be stored"))
                else:
                    issued[index] = again
            except SealTrustError as exc:
                results[index] = _failed(items[index], exc)
        audit.sign_pending(session, deployment.key("audit"), datetime.now(UTC))
    for index, licence in issued.items():
        suffix = "ofd" if licence.pdf[:4] == b"PK\x03\x04" else "pdf"  # the file as stored
        path = out_dir / f"{licence.licence_id}.{suffix}"
        tmp = path.with_suffix(".part")
        tmp.write_bytes(licence.pdf)
        tmp.replace(path)
        results[index] = ItemResult(items[index].line, True, licence.licence_id, str(path),
                                    reused=licence.reused)
    return [results[index] for index in range(len(items))]
