"""Bulk revocation or cancellation by a list of ids, a department or a type.

Only live licences (valid or suspended) change: an expired, superseded,
revoked or cancelled one is reported as skipped with its state. The work is
done in chunks, each one transaction (holding the write lock on SQLite), and
every licence changes through :func:`trust.registry.lifecycle.transition_if`
(compare-and-set, one event and one audit entry). So a run that dies half
way leaves whole chunks done, and running the same command again finishes
the job without a second event for any licence. A dry run walks the same
selection, says what would change (counts and ids) and writes nothing.
Each completed run appends one ``lifecycle.bulk_<action>`` audit entry with
its selection and counts.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from trust import audit
from trust.errors import InputError, NotFoundError
from trust.registry.db import Registry, begin_write
from trust.registry.holder_notices import notify_change
from trust.registry.lifecycle import LicenceStatus, transition_if
from trust.registry.models import Department, Licence

__all__ = ["CHUNK", "LIVE", "MAX_IDS", "BulkAction", "BulkResult", "Selection", "bulk_change",
           "parse_ids"]

CHUNK: Final = 200
MAX_IDS: Final = 100_000
MAX_REASON: Final = 500
# Bulk changes act on live licences only: ended ones keep the state they ended in.
LIVE: Final = frozenset({LicenceStatus.VALID.value, LicenceStatus.SUSPENDED.value})

BeforeCommit = Callable[[Session, datetime], None]


class BulkAction(StrEnum):
    REVOKE = "revoke"
    CANCEL = "cancel"

    @property
    def target(self) -> LicenceStatus:
        return LicenceStatus.REVOKED if self is BulkAction.REVOKE else LicenceStatus.CANCELLED


def parse_ids(text: str) -> tuple[str, ...]:
    """Licence ids, one a line (blank lines and ``#`` comments ignored), duplicates dropped."""
    ids: dict[str, None] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if len(line) > 64 or not line.isprintable() or " " in line:
            raise InputError(f"not a licence id: {line[:70]!r}", code="bulk.bad_id")
        ids[line] = None
        if len(ids) > MAX_IDS:
            raise InputError(f"at most {MAX_IDS} ids per run", code="bulk.too_many")
    return tuple(ids)


@dataclass(frozen=True)
class Selection:
    """Either ``ids``, or a department and/or a type (both given: both must match)."""

    ids: tuple[str, ...] | None = None
    department: str | None = None
    type_code: str | None = None

    def __post_init__(self) -> None:
        by_query = self.department is not None or self.type_code is not None
        if (self.ids is None) == (not by_query):
            raise InputError("select licences by ids, or by department and/or type "
                             "(按证照编号，或按部门/证照类型选择)", code="bulk.selection")
        if self.ids is not None and not 0 < len(self.ids) <= MAX_IDS:
            raise InputError(f"give 1..{MAX_IDS} licence ids", code="bulk.too_many")

    def to_json(self) -> dict[str, Any]:
        if self.ids is not None:
            digest = hashlib.sha256("\n".join(self.ids).encode()).hexdigest()
            return {"ids": len(self.ids), "ids_sha256": digest}
        return {"department": self.department, "type": self.type_code}


@dataclass
class BulkResult:
    """What a run changed (a dry run: would change), and what it left alone and why."""

    run_id: str
    action: BulkAction
    selection: Selection
    dry_run: bool
    changed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # id -> the state it is in
    missing: list[str] = field(default_factory=list)
    unlisted: int = 0  # dry run: would change, but beyond ``max_listed``
    complete: bool = True  # False: stopped at ``limit``; send the same run again

    def counts(self) -> dict[str, int]:
        return {"would_change" if self.dry_run else "changed":
                len(self.changed) + self.unlisted,
                "skipped": len(self.skipped), "missing": len(self.missing)}

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "action": self.action.value, "dry_run": self.dry_run,
                "selection": self.selection.to_json(), "counts": self.counts(),
                "complete": self.complete, "licence_ids": list(self.changed),
                "unlisted": self.unlisted, "skipped": dict(self.skipped),
                "missing": list(self.missing)}


def _query_chunk(session: Session, selection: Selection, after: str, limit: int) -> list[str]:
    query = select(Licence.id).where(Licence.status.in_(LIVE), Licence.id > after)
    if selection.department is not None:
        query = query.where(Licence.department_code == selection.department)
    if selection.type_code is not None:
        query = query.where(Licence.type_code == selection.type_code)
    return list(session.execute(query.order_by(Licence.id).limit(limit)).scalars())


def _states(session: Session, ids: Sequence[str]) -> dict[str, str]:
    rows = session.execute(select(Licence.id, Licence.status).where(Licence.id.in_(ids)))
    return {str(r.id): str(r.status) for r in rows}


def _apply(session: Session, result: BulkResult, ids: Sequence[str], *, reason: str,
           at: datetime, actor: str, notify: bool, max_listed: int | None) -> None:
    states = _states(session, ids)
    changed: list[str] = []
    for licence_id in ids:
        state = states.get(licence_id)
        if state is None:
            result.missing.append(licence_id)
        elif state not in LIVE:
            result.skipped[licence_id] = state
        elif result.dry_run:
            if max_listed is not None and len(result.changed) + len(changed) >= max_listed:
                result.unlisted += 1
            else:
                changed.append(licence_id)
        else:
            left = transition_if(session, licence_id, result.action.target, from_states=LIVE,
                                 reason=reason, at=at, actor=actor,
                                 details={"run": result.run_id, "bulk": result.action.value})
            if left is None:  # changed by someone else since the read above
                now = _states(session, [licence_id]).get(licence_id, "missing")
                result.skipped[licence_id] = now
            else:
                changed.append(licence_id)
    result.changed += changed
    if notify and changed:  # same transaction: the holder hears of it exactly when it commits
        notify_change(session, f"licence.{result.action.target.value}", changed, at)


def bulk_change(
    registry: Registry,
    selection: Selection,
    action: BulkAction,
    *,
    reason: str,
    at: datetime,
    actor: str,
    dry_run: bool = False,
    chunk: int = CHUNK,
    before_commit: BeforeCommit | None = None,
    notify: bool = True,
    limit: int | None = None,
    max_listed: int | None = None,
) -> BulkResult:
    """Revoke or cancel the selected live licences in chunks (see the module docs); with
    ``notify`` each holder gets a ``licence.revoked`` / ``licence.cancelled`` notice.

    ``limit`` bounds one call (a request's time): a real run stops after the chunk
    that reaches it, ``complete`` False, and the same call again goes on. A dry run
    counts everything but lists at most ``max_listed`` ids (the rest in ``unlisted``).
    """
    if at.tzinfo is None:
        raise InputError("bulk change time must be timezone-aware", code="input.naive_datetime")
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InputError(f"a bulk change needs a reason of 1..{MAX_REASON} characters",
                         code="bulk.reason")
    if not 1 <= chunk <= 10_000:
        raise InputError("chunk must be 1..10000")
    if selection.department is not None:
        with registry.session() as session:
            # a typo must not read as "nothing to do": name the department that is unknown
            if session.get(Department, selection.department) is None:
                raise NotFoundError(f"no department {selection.department!r}",
                                    code="bulk.unknown_department")
    result = BulkResult(secrets.token_hex(8), action, selection, dry_run)
    last, offset = "", 0
    while True:
        with registry.session() as session:
            if not dry_run:
                begin_write(session)  # SQLite: one writer at a time, so no stale read
            if selection.ids is not None:
                ids: list[str] = list(selection.ids[offset:offset + chunk])
                offset += chunk
            else:
                ids = _query_chunk(session, selection, last, chunk)
            if not ids:
                break
            last = ids[-1]
            _apply(session, result, ids, reason=reason, at=at, actor=actor, notify=notify,
                   max_listed=max_listed)
            if before_commit is not None and not dry_run:
                before_commit(session, at)
        if not dry_run and limit is not None and len(result.changed) >= limit:
            result.complete = False
            break
    if not dry_run:
        with registry.session() as session:
            begin_write(session)
            audit.append(session, kind=f"lifecycle.bulk_{action.value}", actor=actor,
                         subject=result.run_id, at=at,
                         details={"selection": selection.to_json(), "reason": reason,
                                  "complete": result.complete, **result.counts()})
            if before_commit is not None:
                before_commit(session, at)
    return result
