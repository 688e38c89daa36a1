"""The daily expiry job: licences past their validity become ``expired``.

``valid_to`` holds 00:00 China Standard Time of the last valid day (the day is
included), so a licence is due once ``as_of >= valid_to + 1 day``. Due
licences (valid or suspended) are walked by id in chunks, each chunk one
transaction holding the write lock on SQLite; each licence changes through
:func:`trust.registry.lifecycle.transition_if` (one conditional UPDATE, one
event, one audit entry), so the job is idempotent and two machines running
it at once change every licence exactly once between them. A run ends with
one audit entry ``lifecycle.expiry_run`` carrying its counts.

Why the registry keeps this state at all, when verifiers already refuse an
expired licence from its signed validity: the status list (value 6), the
holder's wallet and the department's lists must not call it valid either.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Row, and_, or_, select, true
from sqlalchemy.orm import Session

from trust import audit
from trust.errors import InputError
from trust.registry.db import Registry, begin_write
from trust.registry.holder_notices import notify_change
from trust.registry.lifecycle import LicenceStatus, allowed_from, transition_if
from trust.registry.models import Licence

__all__ = ["CHUNK", "LIVE", "SKEW", "Cursor", "ExpiryRun", "after", "due_cutoff", "expire_due",
           "next_cursor"]

CHUNK: Final = 500
SKEW: Final = timedelta(minutes=5)
# the states an expiry may leave: valid and suspended (expired -> expired is no change)
LIVE: Final = allowed_from(LicenceStatus.EXPIRED)
REASON: Final = "validity ended (valid_until passed)"

# Called at the end of each chunk's transaction, before it commits: the CLI signs an
# audit head there, the service hands it to its head schedule.
BeforeCommit = Callable[[Session, datetime], None]


@dataclass
class ExpiryRun:
    """What one run did (or, dry, would do)."""

    run_id: str
    as_of: datetime
    dry_run: bool
    expired: list[str] = field(default_factory=list)  # changed by this run (or would be)
    lost: int = 0  # due, but changed by a concurrent run first

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "as_of": self.as_of.isoformat(), "dry_run": self.dry_run,
                "expired": len(self.expired), "changed_elsewhere": self.lost,
                "licence_ids": list(self.expired)}


def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"{what} must be timezone-aware", code="input.naive_datetime")
    return moment


def due_cutoff(as_of: datetime) -> datetime:
    """Licences whose ``valid_to`` is at or before this are past their last day at ``as_of``."""
    return _aware(as_of, "as_of") - timedelta(days=1)


Cursor = tuple[datetime, str] | None
"""Where a chunked read of licences by validity end stopped: (valid_to, id) of its last row."""


def after(cursor: Cursor) -> ColumnElement[bool]:
    """Rows past ``cursor`` in (valid_to, id) order.

    Threat: a daily job reading every licence ever issued. Chunks are read in
    the order of the (status, valid_to) index (migration 0013), so each is an
    index range of the rows actually due; ordered by id alone, databases walk
    the primary key over the whole table instead.
    """
    if cursor is None:
        return true()
    valid_to, licence_id = cursor
    return or_(Licence.valid_to > valid_to,
               and_(Licence.valid_to == valid_to, Licence.id > licence_id))


def next_cursor(rows: Sequence[Row[Any]]) -> Cursor:
    """The cursor after ``rows`` (each with ``valid_to`` and ``id``)."""
    return (rows[-1].valid_to, str(rows[-1].id)) if rows else None


def _due_ids(session: Session, cutoff: datetime, cursor: Cursor,
             limit: int) -> list[Row[Any]]:
    return list(session.execute(
        select(Licence.id, Licence.valid_to)
        .where(Licence.status.in_(LIVE), Licence.valid_to.is_not(None),
               Licence.valid_to <= cutoff, after(cursor))
        .order_by(Licence.valid_to, Licence.id).limit(limit)))


def expire_due(
    registry: Registry,
    *,
    at: datetime,
    actor: str,
    as_of: datetime | None = None,
    dry_run: bool = False,
    chunk: int = CHUNK,
    before_commit: BeforeCommit | None = None,
    notify: bool = True,
) -> ExpiryRun:
    """Expire every licence due at ``as_of`` (default ``at``), recording the change at ``at``.

    ``as_of`` later than ``at`` is refused for a real run (it would end licences
    early) and allowed for a dry run ("what will have expired by then"). With
    ``notify`` each holder gets a ``licence.expired`` notification (once).
    """
    at = _aware(at, "at")
    as_of = at if as_of is None else _aware(as_of, "as_of")
    # Threat: a mistyped or malicious --as-of ending licences that are still valid today.
    if as_of > at + SKEW and not dry_run:
        raise InputError("--as-of lies in the future: only a dry run may look ahead "
                         "(到期处理不能提前执行，只能预演)", code="lifecycle.as_of_future")
    if not 1 <= chunk <= 10_000:
        raise InputError("chunk must be 1..10000")
    run = ExpiryRun(secrets.token_hex(8), as_of, dry_run)
    cutoff, last = due_cutoff(as_of), None
    while True:
        with registry.session() as session:
            if not dry_run:
                begin_write(session)  # SQLite: one writer at a time, so no stale read below
            rows = _due_ids(session, cutoff, last, chunk)
            if not rows:
                break
            last = next_cursor(rows)
            ids = [str(r.id) for r in rows]
            if dry_run:
                run.expired += ids
                continue
            changed: list[str] = []
            for licence_id in ids:
                left = transition_if(session, licence_id, LicenceStatus.EXPIRED,
                                     from_states=LIVE, reason=REASON, at=at, actor=actor,
                                     details={"run": run.run_id})
                if left is None:
                    run.lost += 1
                else:
                    changed.append(licence_id)
            run.expired += changed
            if notify:  # in the same transaction: a notice exactly when the change commits
                notify_change(session, "licence.expired", changed, at)
            if before_commit is not None:
                before_commit(session, at)
    if not dry_run:
        with registry.session() as session:
            begin_write(session)
            audit.append(session, kind="lifecycle.expiry_run", actor=actor, subject=run.run_id,
                         at=at, details={"as_of": as_of.isoformat(),
                                         "expired": len(run.expired),
                                         "changed_elsewhere": run.lost})
            if before_commit is not None:
                before_commit(session, at)
    return run
