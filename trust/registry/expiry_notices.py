"""Expiry notices: each holder is told once, ``lead`` before a licence's validity ends.

A valid licence whose end (00:00 China time after its last day, i.e.
``valid_to + 1 day``) falls within ``(as_of, as_of + lead]`` gets one
``licence.expiring`` notification for its holder reference through the
outbox (:func:`trust.registry.notifications.enqueue_notification`), with the
dedupe key ``expiring:<licence id>``: whatever the number of runs, nodes or
changes of ``lead``, a licence is announced once. A licence without a holder
reference (a type naming no holder id) cannot be announced and is counted.
Each run appends one ``lifecycle.expiry_notice_run`` audit entry with its
counts; the notices themselves live in the outbox, by reference only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from trust import audit
from trust.errors import InputError
from trust.registry.db import Registry
from trust.registry.expiry import BeforeCommit, Cursor, after, due_cutoff, next_cursor
from trust.registry.models import Licence, OutboxItem
from trust.registry.notifications import TOPIC, enqueue_notification

__all__ = ["DEFAULT_LEAD", "MAX_LEAD", "NoticeRun", "dedupe_key", "notify_expiring"]

DEFAULT_LEAD: Final = timedelta(days=30)
MAX_LEAD: Final = timedelta(days=366)
CHUNK: Final = 500


def dedupe_key(licence_id: str) -> str:
    """One expiry notice per licence, ever."""
    return f"expiring:{licence_id}"


@dataclass
class NoticeRun:
    run_id: str
    as_of: datetime
    lead: timedelta
    dry_run: bool
    queued: list[str] = field(default_factory=list)  # (dry: would be) queued by this run
    already: int = 0  # announced before (dedupe key present)
    no_holder: int = 0  # in the window, but no holder reference to notify

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "as_of": self.as_of.isoformat(),
                "lead_days": self.lead.total_seconds() / 86400, "dry_run": self.dry_run,
                "queued": len(self.queued), "already_notified": self.already,
                "no_holder": self.no_holder, "licence_ids": list(self.queued)}


def _window(session: Session, as_of: datetime, lead: timedelta, cursor: Cursor,
            limit: int) -> list[Row[Any]]:
    """Valid licences ending within the window, a chunk in (valid_to, id) order (the
    index's: see :func:`trust.registry.expiry.after`)."""
    return list(session.execute(
        select(Licence.id, Licence.valid_to, Licence.holder_ref)
        .where(Licence.status == "valid", Licence.valid_to.is_not(None),
               Licence.valid_to > due_cutoff(as_of),
               Licence.valid_to <= due_cutoff(as_of + lead), after(cursor))
        .order_by(Licence.valid_to, Licence.id).limit(limit)))


def _announced(session: Session, licence_ids: list[str]) -> set[str]:
    """Which of these licences have had their notice queued (what a dry run must not count)."""
    keys = {f"{TOPIC}:{dedupe_key(lid)}": lid for lid in licence_ids}
    found = session.execute(select(OutboxItem.dedupe_key)
                            .where(OutboxItem.dedupe_key.in_(list(keys)))).scalars()
    return {keys[k] for k in found}


def notify_expiring(
    registry: Registry,
    *,
    at: datetime,
    actor: str,
    lead: timedelta = DEFAULT_LEAD,
    as_of: datetime | None = None,
    dry_run: bool = False,
    chunk: int = CHUNK,
    before_commit: BeforeCommit | None = None,
) -> NoticeRun:
    """Queue the expiry notices due at ``as_of`` (default ``at``); see the module docs."""
    if at.tzinfo is None or (as_of is not None and as_of.tzinfo is None):
        raise InputError("notice times must be timezone-aware", code="input.naive_datetime")
    if not timedelta(0) < lead <= MAX_LEAD:
        raise InputError(f"the notice lead must be 1..{MAX_LEAD.days} days",
                         code="lifecycle.notice_lead")
    as_of = at if as_of is None else as_of
    run = NoticeRun(secrets.token_hex(8), as_of, lead, dry_run)
    last: Cursor = None
    while True:
        with registry.session() as session:
            rows = _window(session, as_of, lead, last, chunk)
            if not rows:
                break
            last = next_cursor(rows)
            announced = (_announced(session, [str(r.id) for r in rows]) if dry_run
                         else set())
            for licence_id, holder_ref in ((str(r.id), r.holder_ref) for r in rows):
                if holder_ref is None:
                    run.no_holder += 1
                elif dry_run:
                    if licence_id in announced:
                        run.already += 1
                    else:
                        run.queued.append(licence_id)
                elif enqueue_notification(session, kind="licence.expiring",
                                          holder_ref=holder_ref, licence_id=licence_id,
                                          dedupe_key=dedupe_key(licence_id), at=at):
                    run.queued.append(licence_id)
                else:
                    run.already += 1
    if not dry_run:
        with registry.session() as session:
            audit.append(session, kind="lifecycle.expiry_notice_run", actor=actor,
                         subject=run.run_id, at=at,
                         details={"as_of": as_of.isoformat(), "lead_days": lead.days,
                                  "queued": len(run.queued), "already_notified": run.already,
                                  "no_holder": run.no_holder})
            if before_commit is not None:
                before_commit(session, at)
    return run
