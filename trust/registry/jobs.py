"""Batch job rows: four states, a heartbeat while alive, and a reaper for dead workers.

A job is ``queued`` -> ``running`` -> ``done`` | ``failed``, nothing else. The
process holding a job (queued in its executor or running) refreshes
``heartbeat_at`` every ``interval`` from a thread of its own, so a long line
never looks dead and a dead process (SIGKILL, OOM, power) stops beating.
Anyone reading jobs first marks those whose heartbeat is older than
``stale_after`` as failed, with the reason, in one conditional UPDATE: a job
is never left "running" forever, whichever node asks. Reasons name the line
and the exception type, never record values (no personal data in job rows).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.orm import Session

from trust.errors import InputError
from trust.registry.db import Registry
from trust.registry.models import BatchJob

__all__ = ["ALIVE", "Heartbeat", "JobState", "create_job", "fail_job", "reap_stale",
           "record_progress"]


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


_log = logging.getLogger(__name__)
ALIVE: Final = (JobState.QUEUED.value, JobState.RUNNING.value)
MAX_REASON: Final = 500


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("job times must be timezone-aware", code="input.naive_datetime")
    return moment


def create_job(session: Session, *, job_id: str, client_id: str, department_code: str,
               total: int, at: datetime) -> BatchJob:
    """A queued job whose heartbeat starts now."""
    job = BatchJob(id=job_id, client_id=client_id, department_code=department_code,
                   state=JobState.QUEUED.value, total=total, results={"items": []},
                   created_at=_aware(at), updated_at=at, heartbeat_at=at)
    session.add(job)
    session.flush()
    return job


def record_progress(session: Session, job_id: str, *, done: int, failed: int,
                    results: list[dict[str, Any]], finished: bool, at: datetime) -> None:
    """Counts and results so far; ``finished`` makes the job done. A failed job stays failed."""
    session.execute(
        update(BatchJob).where(BatchJob.id == job_id, BatchJob.state.in_(ALIVE))
        .values(done=done, failed=failed, results={"items": results},
                state=JobState.DONE.value if finished else JobState.RUNNING.value,
                updated_at=_aware(at), heartbeat_at=at))


def fail_job(session: Session, job_id: str, reason: str, at: datetime) -> bool:
    """Mark a job failed unless it already ended; True when this call did it."""
    result = session.execute(
        update(BatchJob).where(BatchJob.id == job_id, BatchJob.state.in_(ALIVE))
        .values(state=JobState.FAILED.value, reason=reason[:MAX_REASON],
                updated_at=_aware(at)).execution_options(synchronize_session=False))
    return getattr(result, "rowcount", 0) == 1


def reap_stale(session: Session, *, now: datetime, stale_after: timedelta) -> int:
    """Fail every queued or running job whose heartbeat is older than ``stale_after``.

    Threat (availability): a worker killed mid-job leaves a job that claims
    to run forever and a client polling it forever.
    """
    limit = _aware(now) - stale_after
    result = session.execute(
        update(BatchJob).where(BatchJob.state.in_(ALIVE), BatchJob.heartbeat_at < limit)
        .values(state=JobState.FAILED.value, updated_at=now,
                reason=f"worker stopped: no heartbeat for more than {stale_after} "
                       "(process killed or crashed); lines listed in results were issued")
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


class Heartbeat:
    """Refreshes one job's ``heartbeat_at`` every ``interval`` until stopped."""

    def __init__(self, registry: Registry, job_id: str, interval: timedelta) -> None:
        self._registry = registry
        self._job_id = job_id
        self._interval = interval.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-heartbeat-{job_id[:8]}",
                                        daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._registry.session() as session:
                    session.execute(
                        update(BatchJob).where(BatchJob.id == self._job_id,
                                               BatchJob.state.in_(ALIVE))
                        .values(heartbeat_at=datetime.now(UTC)))
            except Exception:  # noqa: BLE001 - a missed beat is retried; the reaper is the backstop
                _log.warning("batch job %s: heartbeat not recorded; retrying", self._job_id)
