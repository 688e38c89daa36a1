"""A durable outbox in the registry: work written in the same transaction as its cause.

Why here and not a queue service (docs/architecture.md, "Outbox"): the work
(issue an approved case's licences, tell a holder) must exist exactly when
the change that causes it commits. Enqueueing in the caller's transaction
gives that on SQLite, the embedded default, and on PostgreSQL alike, with no
second system to lose a message between two commits.

An item is ``pending`` until a worker completes it (``done``) or it has
failed ``max_attempts`` times (``dead``: kept for an operator, never retried
silently). A worker *claims* items by lease: ``lease_owner`` and
``lease_until`` are set, and ``attempts`` counted, in one statement
(PostgreSQL: a sub-select ``FOR UPDATE SKIP LOCKED``, so concurrent workers
never wait on or take the same row; SQLite: the same conditional UPDATE,
which SQLite's single writer makes atomic). A worker that dies keeps its
items only until the lease ends; then another claims them. So handlers must
be idempotent (the case handler is, by case code), and completing is
conditional on still holding the lease: a worker that lost its lease cannot
mark done what another worker now owns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from trust.errors import InputError
from trust.registry.db import conflict_insert
from trust.registry.models import OutboxItem

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_MAX_ATTEMPTS",
    "Claimed",
    "OutboxState",
    "backoff",
    "claim",
    "complete",
    "counts",
    "dead_items",
    "enqueue",
    "requeue",
    "retry",
]


class OutboxState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


DEFAULT_LEASE: Final = timedelta(seconds=60)
DEFAULT_MAX_ATTEMPTS: Final = 8
BACKOFF_BASE: Final = timedelta(seconds=5)
BACKOFF_CAP: Final = timedelta(hours=1)
MAX_TOPIC: Final = 32
MAX_DEDUPE: Final = 200
MAX_ERROR: Final = 500
MAX_CLAIM: Final = 100
_TABLE = cast(Table, OutboxItem.__table__)


@dataclass(frozen=True, slots=True)
class Claimed:
    """An item a worker holds until ``lease_until``; ``attempts`` includes this one."""

    id: int
    topic: str
    dedupe_key: str
    payload: Mapping[str, Any]
    attempts: int
    lease_owner: str
    lease_until: datetime


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("outbox times must be timezone-aware", code="input.naive_datetime")
    return moment


def enqueue(session: Session, *, topic: str, dedupe_key: str, payload: Mapping[str, Any],
            available_at: datetime | None = None, at: datetime | None = None) -> bool:
    """Add one item in the caller's transaction; False when ``dedupe_key`` already exists.

    One ``INSERT .. ON CONFLICT DO NOTHING``: two nodes enqueueing the same
    key (the same event twice) leave one item, without an error that would
    abort the caller's transaction on PostgreSQL. ``at`` is the enqueue time
    (default: ``available_at``, else the database clock).
    """
    if not topic or len(topic) > MAX_TOPIC:
        raise InputError(f"an outbox topic has 1..{MAX_TOPIC} characters", code="outbox.topic")
    if not dedupe_key or len(dedupe_key) > MAX_DEDUPE:
        raise InputError(f"an outbox dedupe key has 1..{MAX_DEDUPE} characters",
                         code="outbox.dedupe_key")
    now = _aware(at) if at is not None else None
    ready = _aware(available_at) if available_at is not None else now
    connection = session.connection()
    table = cast(Table, OutboxItem.__table__)
    stamp: Any = now if now is not None else func.now()
    stmt = conflict_insert(connection.dialect.name, table).values(
        topic=topic, dedupe_key=dedupe_key, payload=dict(payload),
        state=OutboxState.PENDING.value, attempts=0,
        available_at=ready if ready is not None else func.now(),
        created_at=stamp, updated_at=stamp,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
    return connection.execute(stmt).first() is not None


@cache
def _claim_statements(by_topic: bool) -> tuple[Any, Any, Any]:
    """(due?, dead-letter, lease) as prebuilt Core statements: a worker polls often and
    SQLAlchemy then memoises their compilation instead of coercing new ORM clauses."""
    t = _TABLE
    free = or_(t.c.lease_until.is_(None), t.c.lease_until <= bindparam("now"))
    where = [t.c.state == OutboxState.PENDING.value, free]
    if by_topic:
        where.append(t.c.topic.in_(bindparam("topics", expanding=True)))
    due_any = select(t.c.id).where(*where, t.c.available_at <= bindparam("now")).limit(1)
    dead = (update(t).where(*where, t.c.attempts >= bindparam("max_attempts"))
            .values(state=OutboxState.DEAD.value, lease_owner=None, lease_until=None,
                    updated_at=bindparam("now"),
                    last_error=func.coalesce(t.c.last_error, "")
                    + " [dead: lease expired on the last attempt]"))
    due = (select(t.c.id).where(*where, t.c.available_at <= bindparam("now"))
           .order_by(t.c.available_at, t.c.id).limit(bindparam("limit"))
           .with_for_update(skip_locked=True))
    lease = (update(t).where(t.c.id.in_(due.scalar_subquery()),
                             t.c.state == OutboxState.PENDING.value, free)
             .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"),
                     attempts=t.c.attempts + 1, updated_at=bindparam("now"))
             .returning(t.c.id, t.c.topic, t.c.dedupe_key, t.c.payload, t.c.attempts))
    return due_any, dead, lease


def claim(session: Session, *, owner: str, now: datetime, topics: Sequence[str] | None = None,
          limit: int = 10, lease: timedelta = DEFAULT_LEASE,
          max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> list[Claimed]:
    """Lease up to ``limit`` due items to ``owner`` until ``now + lease`` (oldest first).

    Items whose previous holder died after its last allowed attempt are
    dead-lettered first: a message that kills every worker it reaches must
    not be retried forever (availability).
    """
    if not owner or len(owner) > 64:
        raise InputError("a worker id has 1..64 characters", code="outbox.owner")
    if not 0 < limit <= MAX_CLAIM:
        raise InputError(f"claim 1..{MAX_CLAIM} items at a time", code="outbox.limit")
    now = _aware(now)
    until = now + lease
    due_any, dead, leased = _claim_statements(bool(topics))
    params: dict[str, Any] = {"now": now, "max_attempts": max_attempts, "limit": limit,
                              "owner": owner, "until": until}
    if topics:
        params["topics"] = list(topics)
    connection = session.connection()
    # A read first: an idle worker polling must not take SQLite's write lock (every
    # writer - accepting events, issuing - would queue behind its empty UPDATEs).
    if connection.execute(due_any, params).first() is None:
        return []
    connection.execute(dead, params)
    rows = connection.execute(leased, params).all()
    claimed = [Claimed(id=r.id, topic=r.topic, dedupe_key=r.dedupe_key, payload=r.payload,
                       attempts=r.attempts, lease_owner=owner, lease_until=until) for r in rows]
    return sorted(claimed, key=lambda c: c.id)


def complete(session: Session, item: Claimed, *, now: datetime) -> bool:
    """Mark ``item`` done if ``item.lease_owner`` still holds it; False when the lease was lost.

    Threat: a worker paused past its lease (GC, swap, network) finishing
    after another worker took the item over. Run this in the same
    transaction as the item's effects and roll back when it returns False.
    """
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item.id, OutboxItem.state == OutboxState.PENDING.value,
               OutboxItem.lease_owner == item.lease_owner,
               OutboxItem.attempts == item.attempts)
        .values(state=OutboxState.DONE.value, lease_owner=None, lease_until=None,
                updated_at=_aware(now), last_error=None)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0) == 1


def backoff(attempts: int) -> timedelta:
    """Delay before the next attempt after ``attempts`` failures: 5 s doubling, at most 1 h."""
    delay: timedelta = BACKOFF_BASE * (2 ** max(0, min(attempts - 1, 20)))
    return min(delay, BACKOFF_CAP)


def retry(session: Session, item: Claimed, *, now: datetime, error: str,
          max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> OutboxState | None:
    """Release a failed item for a later attempt (with backoff), or dead-letter it.

    ``error`` is stored for operators: name the exception type, never record
    values. Returns the new state, or None when the lease was already lost.
    """
    now = _aware(now)
    dead = item.attempts >= max_attempts
    state = OutboxState.DEAD if dead else OutboxState.PENDING
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item.id, OutboxItem.state == OutboxState.PENDING.value,
               OutboxItem.lease_owner == item.lease_owner,
               OutboxItem.attempts == item.attempts)
        .values(state=state.value, lease_owner=None, lease_until=None, updated_at=now,
                available_at=now + backoff(item.attempts), last_error=error[:MAX_ERROR])
        .execution_options(synchronize_session=False))
    return state if int(getattr(result, "rowcount", 0) or 0) == 1 else None


def counts(session: Session, topic: str | None = None) -> dict[str, int]:
    """Items per state (for ``sealtrust worker`` output, metrics and readiness)."""
    query = select(OutboxItem.state, func.count()).group_by(OutboxItem.state)
    if topic is not None:
        query = query.where(OutboxItem.topic == topic)
    found = {state: int(n) for state, n in session.execute(query).all()}
    return {state.value: found.get(state.value, 0) for state in OutboxState}


def dead_items(session: Session, *, topic: str | None = None,
               limit: int = MAX_CLAIM) -> list[dict[str, Any]]:
    """Dead-lettered items, oldest first, as an operator reviews them before a requeue
    (references and the stored error only: payloads carry no personal data)."""
    query = (select(OutboxItem).where(OutboxItem.state == OutboxState.DEAD.value)
             .order_by(OutboxItem.id).limit(max(1, min(limit, 10_000))))
    if topic is not None:
        query = query.where(OutboxItem.topic == topic)
    return [{"id": row.id, "topic": row.topic, "dedupe_key": row.dedupe_key,
             "payload": dict(row.payload), "attempts": row.attempts,
             "last_error": row.last_error, "dead_since": row.updated_at}
            for row in session.execute(query).scalars()]


def requeue(session: Session, *, now: datetime, ids: Sequence[int] | None = None,
            topic: str | None = None, dry_run: bool = False) -> list[int]:
    """Give dead-lettered items (all, or those in ``ids``, of ``topic``) a fresh set of
    attempts, due now; returns the ids requeued (or that would be, with ``dry_run``).

    Threat: an operator's requeue running again work that already happened (a
    second notice, a second issuance attempt): only ``dead`` items are touched,
    never ``done`` or leased ones, and the ``dead`` condition is part of the
    UPDATE, so a concurrent requeue or worker cannot make one item run twice.
    """
    now = _aware(now)
    where = [OutboxItem.state == OutboxState.DEAD.value]
    if ids is not None:
        if not ids:
            return []
        where.append(OutboxItem.id.in_(list(ids)))
    if topic is not None:
        where.append(OutboxItem.topic == topic)
    found = [int(i) for i in session.execute(
        select(OutboxItem.id).where(*where).order_by(OutboxItem.id)).scalars()]
    if dry_run or not found:
        return found
    session.execute(
        update(OutboxItem).where(OutboxItem.id.in_(found), *where)
        .values(state=OutboxState.PENDING.value, attempts=0, available_at=now,
                lease_owner=None, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False))
    return found
