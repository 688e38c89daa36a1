"""The daily lifecycle run inside ``sealtrust serve``: expire what is due, queue notices.

On by default (``SEALTRUST_LIFECYCLE_DAILY_AT``, China time, ``02:00``; ``off``
disables it), because an embedded deployment has no other scheduler and a
licence shown as "valid" in the holder's wallet and the status list after
its end misleads everyone who reads them. It is cheap to have on every node:
each day is *claimed* by one process (one ``INSERT .. ON CONFLICT DO
NOTHING`` of ``meta`` key ``lifecycle.daily:<day>``), and the jobs themselves
are idempotent and change each licence once even if two runs overlap
(trust.registry.expiry). A day whose run was lost (the claiming process
died) is caught up by the next day's run: what is due is cumulative, and
``sealtrust licence expire-due`` does the same by hand. Verification never
depends on this run: a licence past its signed validity fails everywhere.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any, Final, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from api.deployment import Deployment
from trust import audit
from trust.errors import InputError
from trust.registry.db import conflict_insert
from trust.registry.expiry import expire_due
from trust.registry.expiry_notices import notify_expiring
from trust.registry.models import Meta

__all__ = ["ACTOR", "DailyLifecycle", "claim_day", "parse_daily_at", "run_daily"]

_log = logging.getLogger("sealtrust.lifecycle")
CHINA: Final = timezone(timedelta(hours=8))
ACTOR: Final = "service:lifecycle"


def parse_daily_at(text: str) -> time | None:
    """``HH:MM`` (China time) or ``off``."""
    if text.strip().lower() == "off":
        return None
    try:
        parsed = datetime.strptime(text.strip(), "%H:%M")
    except ValueError:
        raise InputError("SEALTRUST_LIFECYCLE_DAILY_AT must be HH:MM (China time) or off",
                         code="settings.lifecycle") from None
    return parsed.time()


def next_run(after: datetime, at: time) -> datetime:
    """The first ``at`` (China time) strictly after ``after``."""
    local = after.astimezone(CHINA)
    candidate = datetime.combine(local.date(), at, CHINA)
    return candidate if candidate > local else candidate + timedelta(days=1)


def claim_day(deployment: Deployment, day: str, owner: str) -> bool:
    """True for the one process (of all nodes) that runs ``day``'s jobs."""
    with deployment.registry.session() as session:
        table = cast(Table, Meta.__table__)
        stmt = conflict_insert(session.connection().dialect.name, table).values(
            key=f"lifecycle.daily:{day}", value=owner,
        ).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
        return session.execute(stmt).first() is not None


def run_daily(deployment: Deployment, now: datetime, notice_days: int) -> dict[str, Any]:
    """Expire what is due at ``now``, then queue the expiry notices (``notice_days`` > 0)."""
    key = deployment.key("audit")

    def sign(session: Session, at: datetime) -> None:
        audit.sign_pending(session, key, at, deployment.audit_heads)

    expired = expire_due(deployment.registry, at=now, actor=ACTOR, before_commit=sign)
    out: dict[str, Any] = {"expired": len(expired.expired), "expiry_run": expired.run_id}
    if notice_days > 0:
        notices = notify_expiring(deployment.registry, at=now, actor=ACTOR,
                                  lead=timedelta(days=notice_days), before_commit=sign)
        out |= {"notices_queued": len(notices.queued), "notice_run": notices.run_id}
    return out


class DailyLifecycle:
    """A daemon thread that runs :func:`run_daily` at ``at`` (China time) each day."""

    def __init__(self, deployment: Deployment, at: time, notice_days: int, owner: str) -> None:
        self._deployment = deployment
        self._at = at
        self._notice_days = notice_days
        self._owner = owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lifecycle-daily", daemon=True)

    def start(self) -> DailyLifecycle:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_now(self, now: datetime) -> dict[str, Any] | None:
        """Run ``now``'s day unless another process claimed it (then None)."""
        day = now.astimezone(CHINA).date().isoformat()
        if not claim_day(self._deployment, day, self._owner):
            return None
        result = run_daily(self._deployment, now, self._notice_days)
        _log.info("lifecycle daily run %s: %s", day, result)  # counts and run ids only
        return result

    def _loop(self) -> None:
        while True:
            due = next_run(datetime.now(UTC), self._at)
            if self._stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
                return
            try:
                self.run_now(datetime.now(UTC))
            except Exception:  # noqa: BLE001 - tomorrow's run catches up; never kill the service
                _log.exception("lifecycle daily run failed; the next run catches up")
