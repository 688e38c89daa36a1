"""The outbox worker: claims due items by lease, runs each topic's handler, completes or retries.

``sealtrust worker`` runs it on its own (``--once`` drains what is due and
stops); ``sealtrust serve`` runs one in a background thread. Any number of
workers on any number of nodes may run: the lease decides who holds an item
(trust.registry.outbox). Each item's handler runs in one transaction with
the conditional ``complete``; a worker that lost its lease rolls its effects
back, and a worker that dies leaves the item to the next one after the lease.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from api.notify import LogNotifier, Notifier, notification_from_payload
from trust.registry import outbox
from trust.registry.db import Registry
from trust.registry.notifications import TOPIC as NOTIFY_TOPIC

__all__ = ["GiveUp", "Handler", "LeaseLost", "Worker", "WorkerThread", "deployment_worker",
           "notifier_from", "notify_handler", "worker_id"]

_log = logging.getLogger("sealtrust.worker")

# A handler does an item's work in ``session`` (the transaction that also completes it).
Handler = Callable[[Session, outbox.Claimed], None]
IDLE_WAIT: Final = 1.0


class LeaseLost(Exception):
    """Another worker holds the item now; this worker's effects are rolled back."""


class GiveUp(Exception):
    """The item cannot succeed, whatever the retries (bad input): complete it as failed.

    The handler's effects are rolled back; ``record`` then runs in a new
    transaction together with completing the item (e.g. mark the case failed).
    """

    def __init__(self, reason: str, record: Callable[[Session], None] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.record = record


def worker_id() -> str:
    """host:pid:random - unique per worker, readable in the outbox for operators."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


def notify_handler(notifier: Notifier) -> Handler:
    """Deliver topic ``notify`` items through ``notifier`` (it raises to be retried)."""

    def handle(_session: Session, item: outbox.Claimed) -> None:
        notifier.send(notification_from_payload(item.dedupe_key, item.payload))

    return handle


@dataclass
class Worker:
    """Drains the outbox for the topics it has handlers for."""

    registry: Registry
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    owner: str = field(default_factory=worker_id)
    lease: timedelta = outbox.DEFAULT_LEASE
    max_attempts: int = outbox.DEFAULT_MAX_ATTEMPTS
    batch: int = 10
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def with_notifier(cls, registry: Registry, notifier: Notifier | None = None,
                      extra: Mapping[str, Handler] | None = None, **kwargs: object) -> Worker:
        handlers: dict[str, Handler] = {NOTIFY_TOPIC: notify_handler(notifier or LogNotifier())}
        handlers.update(extra or {})
        return cls(registry, handlers, **kwargs)  # type: ignore[arg-type]

    def claim(self) -> list[outbox.Claimed]:
        with self.registry.session() as session:
            return outbox.claim(session, owner=self.owner, now=self.clock(),
                                topics=sorted(self.handlers), limit=self.batch,
                                lease=self.lease, max_attempts=self.max_attempts)

    def process(self, item: outbox.Claimed) -> str:
        """Run one item: "done", "failed" (given up), "retry", "dead" or "lost" (lease lost)."""
        handler = self.handlers[item.topic]
        try:
            with self.registry.session() as session:
                handler(session, item)
                if not outbox.complete(session, item, now=self.clock()):
                    raise LeaseLost
            return "done"
        except LeaseLost:
            _log.warning("outbox item %s: lease lost to another worker; rolled back", item.id)
            return "lost"
        except GiveUp as give_up:
            with self.registry.session() as session:
                if not outbox.complete(session, item, now=self.clock()):
                    return "lost"  # nothing was written: the new holder decides
                if give_up.record is not None:
                    give_up.record(session)
            _log.warning("outbox item %s (%s) failed for good: %s", item.id, item.topic,
                         give_up.reason)
            return "failed"
        except Exception as exc:  # noqa: BLE001 - any failure is retried; the type is recorded
            reason = f"{type(exc).__name__}: {getattr(exc, 'code', '')}".rstrip(": ")
            with self.registry.session() as session:
                state = outbox.retry(session, item, now=self.clock(), error=reason,
                                     max_attempts=self.max_attempts)
            _log.warning("outbox item %s (%s) attempt %d failed (%s): %s", item.id, item.topic,
                         item.attempts, reason, state.value if state else "lease lost")
            if state is None:
                return "lost"
            return "dead" if state is outbox.OutboxState.DEAD else "retry"

    def run_once(self) -> dict[str, int]:
        """Claim and process due items until none is left; counts per outcome."""
        tally = {"done": 0, "failed": 0, "retry": 0, "dead": 0, "lost": 0}
        while True:
            items = self.claim()
            if not items:
                return tally
            for item in items:
                tally[self.process(item)] += 1

    def run_forever(self, stop: threading.Event, *, idle: float = IDLE_WAIT) -> None:
        """Poll until ``stop`` is set; a failing database is logged and retried."""
        while not stop.is_set():
            try:
                worked = sum(self.run_once().values())
            except Exception:  # noqa: BLE001 - the loop outlives a database hiccup
                _log.exception("outbox worker: claim failed; retrying")
                worked = 0
            if not worked:
                stop.wait(idle)


def notifier_from(settings: Any) -> Notifier:
    """The notifier ``settings`` (api.settings.Settings) name: log, or a signed webhook."""
    if getattr(settings, "notifier", "log") == "webhook":
        from api.notify import WebhookNotifier

        return WebhookNotifier(str(settings.notify_webhook_url),
                               str(settings.notify_webhook_secret).encode("utf-8"))
    return LogNotifier()


def deployment_worker(deployment: Any, settings: Any, **kwargs: Any) -> Worker:
    """The worker a deployment runs: notifications and case issuance (api.cases)."""
    from api.cases import case_handler
    from trust.registry.cases import TOPIC as CASE_TOPIC

    return Worker.with_notifier(deployment.registry, notifier_from(settings),
                                {CASE_TOPIC: case_handler(deployment)}, **kwargs)


class WorkerThread:
    """A worker polling in a daemon thread of the service process (``sealtrust serve``)."""

    def __init__(self, worker: Worker, idle: float = IDLE_WAIT) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=worker.run_forever, args=(self._stop,),
                                        kwargs={"idle": idle}, name="outbox-worker",
                                        daemon=True)

    def start(self) -> WorkerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to end after its current item; an item left held is reclaimed later."""
        self._stop.set()
        self._thread.join(timeout)
