"""The durable outbox, holder notifications and notifiers, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from api.notify import (
    LogNotifier,
    Notification,
    NotifyError,
    WebhookNotifier,
    sign_webhook,
)
from api.worker import Worker
from trust.errors import InputError
from trust.registry import Registry, migrate
from trust.registry import outbox as ob
from trust.registry.models import OutboxItem
from trust.registry.notifications import enqueue_notification

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
REF = "ab" * 32


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    migrate(db_url)
    reg = Registry(db_url)
    try:
        yield reg
    finally:
        reg.close()


def _enqueue(registry: Registry, key: str, topic: str = "t", at: datetime = T0) -> bool:
    with registry.session() as s:
        return ob.enqueue(s, topic=topic, dedupe_key=key, payload={"n": key}, at=at)


def test_enqueue_is_idempotent_by_dedupe_key(registry: Registry) -> None:
    assert _enqueue(registry, "k1") is True
    assert _enqueue(registry, "k1") is False
    with registry.session() as s:
        assert ob.counts(s) == {"pending": 1, "done": 0, "dead": 0}


def test_enqueue_rolls_back_with_its_transaction(registry: Registry) -> None:
    """The work exists exactly when the change does: a failed caller leaves no item."""
    with pytest.raises(RuntimeError), registry.session() as s:
        ob.enqueue(s, topic="t", dedupe_key="gone", payload={}, at=T0)
        raise RuntimeError("the caller's change failed")
    with registry.session() as s:
        assert s.execute(select(OutboxItem)).first() is None


def test_claim_leases_and_an_expired_lease_is_claimed_again(registry: Registry) -> None:
    _enqueue(registry, "k1")
    with registry.session() as s:
        (first,) = ob.claim(s, owner="w1", now=T0, lease=timedelta(seconds=30))
    with registry.session() as s:  # held: nobody else gets it
        assert ob.claim(s, owner="w2", now=T0 + timedelta(seconds=29)) == []
    with registry.session() as s:  # the lease ended (w1 died): w2 takes it
        (second,) = ob.claim(s, owner="w2", now=T0 + timedelta(seconds=31))
    assert second.id == first.id and second.attempts == 2
    with registry.session() as s:  # w1 wakes up late: it cannot complete what w2 holds
        assert ob.complete(s, first, now=T0 + timedelta(seconds=32)) is False
        assert ob.retry(s, first, now=T0 + timedelta(seconds=32), error="x") is None
    with registry.session() as s:
        assert ob.complete(s, second, now=T0 + timedelta(seconds=33)) is True
        assert ob.counts(s) == {"pending": 0, "done": 1, "dead": 0}


def test_retry_backs_off_and_dead_letters_after_max_attempts(registry: Registry) -> None:
    _enqueue(registry, "k1")
    now = T0
    for attempt in range(1, 4):
        with registry.session() as s:
            (item,) = ob.claim(s, owner="w", now=now, max_attempts=3)
        assert item.attempts == attempt
        with registry.session() as s:
            state = ob.retry(s, item, now=now, error="ValueError", max_attempts=3)
        assert state is (ob.OutboxState.DEAD if attempt == 3 else ob.OutboxState.PENDING)
        with registry.session() as s:  # not due before the backoff ends
            assert ob.claim(s, owner="w", now=now + ob.backoff(attempt)
                            - timedelta(seconds=1)) == []
        now += ob.backoff(attempt)
    with registry.session() as s:
        assert ob.claim(s, owner="w", now=now + timedelta(days=1)) == []
        row = s.execute(select(OutboxItem)).scalar_one()
        assert row.state == "dead" and row.last_error == "ValueError"


def test_an_item_that_kills_every_worker_is_dead_lettered(registry: Registry) -> None:
    _enqueue(registry, "poison")
    now = T0
    for _ in range(2):
        with registry.session() as s:
            assert len(ob.claim(s, owner="w", now=now, max_attempts=2,
                                lease=timedelta(seconds=10))) == 1
        now += timedelta(seconds=11)  # the worker died holding it
    with registry.session() as s:
        assert ob.claim(s, owner="w", now=now, max_attempts=2) == []
        assert ob.counts(s)["dead"] == 1


def test_backoff_doubles_and_is_capped() -> None:
    assert [ob.backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert ob.backoff(40) == timedelta(hours=1)


def test_concurrent_workers_never_claim_one_item_twice(registry: Registry) -> None:
    for i in range(40):
        _enqueue(registry, f"k{i}")
    taken: list[int] = []
    lock = threading.Lock()

    def drain(owner: str) -> None:
        while True:
            with registry.session() as s:
                items = ob.claim(s, owner=owner, now=T0, limit=3)
            if not items:
                return
            with lock:
                taken.extend(i.id for i in items)

    threads = [threading.Thread(target=drain, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 40


def test_claim_filters_by_topic_and_refuses_naive_times(registry: Registry) -> None:
    _enqueue(registry, "a", topic="notify")
    _enqueue(registry, "b", topic="case.issue")
    with registry.session() as s:
        (item,) = ob.claim(s, owner="w", now=T0, topics=["case.issue"])
    assert item.dedupe_key == "b"
    with pytest.raises(InputError), registry.session() as s:
        ob.claim(s, owner="w", now=datetime(2026, 1, 1))


def test_notifications_carry_references_only(registry: Registry) -> None:
    lid = "L1-BL-91350100M000100Y43-20260115-00000042-3"
    with registry.session() as s:
        assert enqueue_notification(s, kind="licence.issued", holder_ref=REF, licence_id=lid,
                                    case_code="330100-2026-000001", dedupe_key="c1", at=T0)
        assert not enqueue_notification(s, kind="licence.issued", holder_ref=REF,
                                        licence_id=lid, dedupe_key="c1", at=T0)
    for bad in ({"holder_ref": "11010519491231002X"}, {"kind": "licence.said_hello"},
                {"licence_id": "张三 11010519491231002X"}):
        args = {"kind": "licence.issued", "holder_ref": REF, "licence_id": lid} | bad
        with pytest.raises(InputError), registry.session() as s:
            enqueue_notification(s, dedupe_key="x", at=T0, **args)
    with registry.session() as s:
        row = s.execute(select(OutboxItem)).scalar_one()
    assert row.topic == "notify" and set(row.payload) == {"kind", "holder_ref", "licence_id",
                                                         "case_code", "at"}


def test_worker_delivers_notifications_and_retries_a_failing_notifier(
        registry: Registry, caplog: pytest.LogCaptureFixture) -> None:
    lid = "L1-BL-91350100M000100Y43-20260115-00000042-3"
    with registry.session() as s:
        enqueue_notification(s, kind="licence.issued", holder_ref=REF, licence_id=lid,
                             dedupe_key="n1", at=T0)
    clock = [T0]

    class Flaky:
        calls = 0

        def send(self, n: Notification) -> None:
            self.calls += 1
            if self.calls == 1:
                raise NotifyError("webhook answered HTTP 503")

    flaky = Flaky()
    worker = Worker.with_notifier(registry, flaky, clock=lambda: clock[0])
    assert worker.run_once() == {"done": 0, "failed": 0, "retry": 1, "dead": 0, "lost": 0}
    clock[0] += ob.backoff(1)
    assert worker.run_once()["done"] == 1 and flaky.calls == 2
    with registry.session() as s:
        enqueue_notification(s, kind="licence.expiring", holder_ref=REF, licence_id=lid,
                             dedupe_key="n2", at=T0)
    with caplog.at_level(logging.INFO, logger="sealtrust.notify"):
        assert Worker.with_notifier(registry, LogNotifier(),
                                    clock=lambda: clock[0]).run_once()["done"] == 1
    assert REF in caplog.text and "licence.expiring" in caplog.text


def test_webhook_notifier_signs_the_exact_body() -> None:
    secret = b"s" * 32
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204 if len(seen) == 1 else 500)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    hook = WebhookNotifier("https://holder-app.example/hook", secret, client=client)
    n = Notification(id="notify:n1", kind="licence.issued", holder_ref=REF,
                     licence_id="L1-X", case_code=None, at=T0)
    hook.send(n)
    request = seen[0]
    body = request.content
    stamp = request.headers["X-SealTrust-Timestamp"]
    assert request.headers["X-SealTrust-Signature"] == sign_webhook(secret, stamp, body)
    assert json.loads(body) == n.to_json()
    # An independent HMAC-SM3 (gmssl) agrees with ours.
    from gmssl import sm3 as gm_sm3

    def hmac_sm3(key: bytes, msg: bytes) -> str:
        key = key.ljust(64, b"\0")
        inner = gm_sm3.sm3_hash(list(bytes(k ^ 0x36 for k in key) + msg))
        return gm_sm3.sm3_hash(list(bytes(k ^ 0x5C for k in key) + bytes.fromhex(inner)))

    assert sign_webhook(secret, stamp, body) == "hmac-sm3=" + hmac_sm3(
        secret, stamp.encode() + b"." + body)
    with pytest.raises(NotifyError):
        hook.send(n)
    assert "s" * 32 not in repr(hook)
