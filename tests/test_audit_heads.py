"""Deferred audit tree heads: the policy, the background flusher, concurrent signers (SQLite, PG).

The service signs a head at most ``interval_s`` after an entry commits (or once
``max_pending`` entries wait) instead of in every transaction; one-shot
processes (CLI, batch chunks) still sign before they commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from api.deployment import open_deployment
from trust import audit
from trust.errors import InputError
from trust.keys import SoftwareKey
from trust.registry import Registry, migrate
from trust.registry.models import AuditEntry, TreeHead

Log = tuple[Registry, SoftwareKey]


@pytest.fixture
def log(db_url: str) -> Iterator[Log]:
    migrate(db_url)
    registry = Registry(db_url)
    yield registry, SoftwareKey.generate("sm2")
    registry.close()


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _write(registry: Registry, key: SoftwareKey, entries: int = 1,
           schedule: audit.HeadSchedule | None = None) -> TreeHead | None:
    """One request-like transaction: append, then sign_pending before commit."""
    now = datetime.now(UTC)
    with registry.session() as s:
        for _ in range(entries):
            audit.append(s, kind="test.entry", actor="t", subject="s", at=now)
        return audit.sign_pending(s, key, now, schedule)


def _sizes(registry: Registry) -> tuple[int, int]:
    """(entries in the log, size of the latest signed head)."""
    with registry.session() as s:
        entries = s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        head = audit.latest_head(s)
        return int(entries), head.size if head is not None else 0


def _verifies(registry: Registry, key: SoftwareKey) -> bool:
    with registry.session() as s:
        check = audit.verify_log(s, [key.public_key_der()])
    assert check.ok, check.problems
    return True


def test_policy_is_validated() -> None:
    assert audit.HeadPolicy(interval_s=0).immediate
    for bad in ({"interval_s": -1.0}, {"interval_s": float("nan")},
                {"interval_s": float("inf")}, {"max_pending": 0}):
        with pytest.raises(InputError):
            audit.HeadPolicy(**bad)  # type: ignore[arg-type]


def test_policy_comes_from_deployment_json_then_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from api.deployment import HEAD_INTERVAL_ENV, HEAD_MAX_PENDING_ENV, head_policy

    monkeypatch.delenv(HEAD_INTERVAL_ENV, raising=False)
    monkeypatch.delenv(HEAD_MAX_PENDING_ENV, raising=False)
    assert head_policy({}) == audit.HeadPolicy(interval_s=1.0, max_pending=256)
    config = {"audit_heads": {"interval_s": 0.25, "max_pending": 64}}
    assert head_policy(config) == audit.HeadPolicy(interval_s=0.25, max_pending=64)
    monkeypatch.setenv(HEAD_INTERVAL_ENV, "0")
    assert head_policy(config).immediate
    for bad in ({"audit_heads": {"interval": 1}}, {"audit_heads": {"max_pending": "many"}},
                {"audit_heads": [1]}):
        with pytest.raises(InputError):
            head_policy(bad)


def test_no_head_before_due_then_one_by_count_and_by_time(log: Log) -> None:
    registry, key = log
    clock = Clock()
    schedule = audit.HeadSchedule(audit.HeadPolicy(interval_s=1.0, max_pending=5), clock=clock)
    assert _write(registry, key, 2, schedule) is None
    assert _write(registry, key, 2, schedule) is None
    assert _sizes(registry) == (4, 0)  # committed, not yet under a head
    assert schedule.waiting and schedule.delay() == pytest.approx(1.0)
    head = _write(registry, key, 1, schedule)  # the fifth entry reaches max_pending
    assert head is not None and head.size == 5
    assert not schedule.waiting and schedule.delay() is None
    assert _write(registry, key, 1, schedule) is None
    clock.now += 0.5
    assert _write(registry, key, 1, schedule) is None
    assert schedule.delay() == pytest.approx(0.5)
    clock.now += 0.5  # the oldest waiting entry is now interval_s old
    head = _write(registry, key, 1, schedule)
    assert head is not None and head.size == 8
    assert _sizes(registry) == (8, 8) and _verifies(registry, key)


def test_rolled_back_transaction_reports_nothing(log: Log) -> None:
    registry, key = log
    schedule = audit.HeadSchedule(audit.HeadPolicy(interval_s=60, max_pending=100))
    with pytest.raises(RuntimeError), registry.session() as s:
        audit.append(s, kind="test.entry", actor="t", subject="s", at=datetime.now(UTC))
        audit.sign_pending(s, key, datetime.now(UTC), schedule)
        raise RuntimeError("the request failed after its audit entry")
    assert not schedule.waiting
    assert _sizes(registry) == (0, 0)


def test_savepoint_release_is_not_the_commit(log: Log) -> None:
    registry, key = log
    schedule = audit.HeadSchedule(audit.HeadPolicy(interval_s=60, max_pending=100))
    with registry.session() as s:
        audit.append(s, kind="test.entry", actor="t", subject="s", at=datetime.now(UTC))
        audit.sign_pending(s, key, datetime.now(UTC), schedule)
        with s.begin_nested():
            audit.append(s, kind="test.entry", actor="t", subject="nested", at=datetime.now(UTC))
        assert not schedule.waiting  # released a SAVEPOINT, committed nothing yet
    assert schedule.waiting


def test_without_schedule_every_transaction_signs(log: Log) -> None:
    """The CLI and batch path: a head before commit, as before."""
    registry, key = log
    for n in (1, 3, 2):
        head = _write(registry, key, n)
        assert head is not None
        assert _sizes(registry) == (head.size, head.size)
    assert _verifies(registry, key)


def test_flusher_signs_within_the_interval_and_at_stop(log: Log) -> None:
    registry, key = log
    interval = 0.3
    schedule = audit.HeadSchedule(audit.HeadPolicy(interval_s=interval, max_pending=10_000))
    flusher = audit.HeadFlusher(schedule, registry.session, lambda: key)
    flusher.start()
    try:
        for _ in range(3):
            committed = time.monotonic()
            assert _write(registry, key, 2, schedule) is None
            entries, _ = _sizes(registry)
            while _sizes(registry)[1] < entries:
                assert time.monotonic() - committed < interval + 2.0, "no head within interval"
                time.sleep(0.02)
            assert _verifies(registry, key)
    finally:
        flusher.stop()
    slow = audit.HeadSchedule(audit.HeadPolicy(interval_s=60, max_pending=10_000))
    flusher = audit.HeadFlusher(slow, registry.session, lambda: key)
    flusher.start()
    _write(registry, key, 4, slow)
    entries, signed = _sizes(registry)
    assert signed < entries  # a minute to go
    flusher.stop()  # shutdown: a last head over what this process left waiting
    assert _sizes(registry) == (entries, entries)
    assert not slow.waiting and _verifies(registry, key)


def test_flusher_start_covers_entries_a_crashed_process_left(log: Log) -> None:
    registry, key = log
    _write(registry, key, 3, audit.HeadSchedule(audit.HeadPolicy(interval_s=60)))  # never flushed
    assert _sizes(registry) == (3, 0)
    schedule = audit.HeadSchedule(audit.HeadPolicy(interval_s=60))
    flusher = audit.HeadFlusher(schedule, registry.session, lambda: key)
    flusher.start()
    try:
        deadline = time.monotonic() + 10
        while _sizes(registry)[1] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        flusher.stop()


def test_flusher_survives_a_failing_key(log: Log) -> None:
    registry, key = log
    schedule = audit.HeadSchedule(audit.HeadPolicy(interval_s=0.05))
    calls: list[int] = []

    def flaky() -> SoftwareKey:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("key store down")
        return key

    flusher = audit.HeadFlusher(schedule, registry.session, flaky)
    flusher.start()
    try:
        _write(registry, key, 2, schedule)
        deadline = time.monotonic() + 10
        while _sizes(registry)[1] < 2:
            assert time.monotonic() < deadline, "the flusher gave up after a failure"
            time.sleep(0.05)
    finally:
        flusher.stop()
    assert _verifies(registry, key)


def test_two_signers_of_the_same_size_keep_one_head(log: Log) -> None:
    """A's head is not committed yet when B signs the same size: B waits, keeps A's, no error."""
    registry, key = log
    _write(registry, key, 3, audit.HeadSchedule(audit.HeadPolicy(interval_s=60)))
    other_key = key  # both processes hold the same audit key
    results: list[TreeHead] = []
    errors: list[BaseException] = []
    b_inserting = threading.Event()

    def mark_b_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Synchronisation, not a stopwatch: B is about to write its head while A's is open.
        if threading.current_thread() is thread and statement.lstrip().upper().startswith("INSERT"):
            b_inserting.set()

    def b() -> None:
        try:
            with registry.session() as s:
                results.append(audit.sign_head(s, other_key, datetime.now(UTC)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=b)
    event.listen(registry.engine, "before_cursor_execute", mark_b_insert)
    try:
        with registry.session() as a:
            mine = audit.sign_head(a, key, datetime.now(UTC))
            assert mine.size == 3
            thread.start()
            assert b_inserting.wait(30), "B never reached its insert"
            # B's insert now meets A's uncommitted row: it cannot have finished yet.
            finished_before_a_committed = bool(results or errors)
        thread.join(30)
    finally:
        event.remove(registry.engine, "before_cursor_execute", mark_b_insert)
    assert not finished_before_a_committed, "B did not wait for A's head"
    assert not errors, errors
    assert results[0].size == 3 and results[0].signature == mine.signature  # A's, as stored
    with registry.session() as s:
        assert s.execute(select(func.count()).select_from(TreeHead)).scalar_one() == 1
    assert _verifies(registry, key)


def test_concurrent_flushers_and_writers_keep_the_log_verifiable(log: Log) -> None:
    """Several 'processes' (schedules) writing and flushing at once: no error, log intact."""
    registry, key = log
    policy = audit.HeadPolicy(interval_s=0.01, max_pending=3)
    schedules = [audit.HeadSchedule(policy) for _ in range(3)]
    flushers = [audit.HeadFlusher(s, registry.session, lambda: key) for s in schedules]
    errors: list[BaseException] = []

    def work(schedule: audit.HeadSchedule, flusher: audit.HeadFlusher) -> None:
        try:
            for _ in range(15):
                _write(registry, key, 1, schedule)
                flusher.flush()  # also race the background threads on the same sizes
        except BaseException as exc:  # reported below
            errors.append(exc)

    for flusher in flushers:
        flusher.start()
    threads = [threading.Thread(target=work, args=pair) for pair in zip(schedules, flushers,
                                                                         strict=True)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        for flusher in flushers:
            flusher.stop()
    assert not errors, errors
    assert _sizes(registry) == (45, 45)
    assert _verifies(registry, key)


# ---------------------------------------------------------------------------
# The service and the CLI on a real deployment.
# ---------------------------------------------------------------------------


def test_service_defers_heads_and_signs_a_last_one_at_shutdown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth import Role, create_client
    from api.deployment import (
        DEMO_DEPARTMENT,
        Deployment,
        Home,
        init_deployment,
        load_config,
    )
    from api.settings import Settings
    from signing.types import builtin_types

    root = tmp_path / "home"
    init_deployment(root)
    home = Home(root)
    dep = Deployment(home, load_config(home))
    try:
        with dep.registry.session() as s:
            _, token = create_client(s, "issuer", frozenset({Role.ISSUER}), DEMO_DEPARTMENT)
    finally:
        dep.close()
    monkeypatch.setenv("SEALTRUST_AUDIT_HEAD_INTERVAL_S", "3600")  # only count or shutdown
    monkeypatch.setenv("SEALTRUST_AUDIT_HEAD_MAX_PENDING", "3")
    registry = Registry(home.database_url())
    try:
        before = _sizes(registry)
        assert before[0] == before[1]
        with TestClient(create_app(Settings(home=root))) as client:
            headers = {"Authorization": f"Bearer {token}"}
            for n in range(4):
                issued = client.post("/v1/licences", headers=headers, json={
                    "type": "DL", "record": builtin_types().get("DL").example(700 + n)})
                assert issued.status_code == 201, issued.text
                entries, signed = _sizes(registry)
                # the third licence is the third waiting entry: its request signs the head
                assert signed == (before[0] + 3 if n >= 2 else before[1]), (n, entries, signed)
        assert _sizes(registry) == (before[0] + 4, before[0] + 4)  # lifespan end: last head
        with open_deployment(root) as opened, opened.registry.session() as s:
            assert audit.verify_log(s, [opened.key("audit").public_key_der()]).ok
    finally:
        registry.close()


def test_cli_signs_before_it_exits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-shot command ignores the service policy: its entries are signed when it returns."""
    from api.deployment import Home, init_deployment
    from signing.types import builtin_types

    monkeypatch.setenv("SEALTRUST_AUDIT_HEAD_INTERVAL_S", "3600")
    root = tmp_path / "home"
    init_deployment(root)
    data = tmp_path / "r.json"
    data.write_text(json.dumps(builtin_types().get("SSC").example(3), ensure_ascii=False))
    result = subprocess.run([sys.executable, "-m", "api.cli", "issue", "--type", "SSC", "--data",
                             str(data), "--out", str(tmp_path / "l.pdf"), "--home", str(root)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    registry = Registry(Home(root).database_url())
    try:
        entries, signed = _sizes(registry)
        assert entries == signed and entries >= 2
    finally:
        registry.close()


def test_worker_processes_each_flush_and_sign_at_shutdown(tmp_path: Path) -> None:
    """``serve --workers 2``: every worker flushes within the interval; stopping signs the rest."""
    from api.auth import Role, create_client
    from api.deployment import DEMO_DEPARTMENT, Home, init_deployment
    from tests.server_support import running_servers

    root = tmp_path / "home"
    init_deployment(root)
    with open_deployment(root) as dep, dep.registry.session() as s:
        _, token = create_client(s, "seal_admin", frozenset({Role.SEAL_ADMIN}), DEMO_DEPARTMENT)
    registry = Registry(Home(root).database_url())
    headers = {"Authorization": f"Bearer {token}"}
    try:
        env = {"SEALTRUST_AUDIT_HEAD_INTERVAL_S": "0.5"}
        with running_servers(root, env=env, workers=2) as (node,), httpx.Client() as http:
            for _ in range(4):  # spread over both workers
                made = http.post(node.url + "/v1/seals", headers=headers,
                                 json={"department": DEMO_DEPARTMENT}, timeout=60)
                assert made.status_code == 201, made.text
            entries, _ = _sizes(registry)
            deadline = time.monotonic() + 10
            while _sizes(registry)[1] < entries:
                assert time.monotonic() < deadline, node.log_tail()
                time.sleep(0.05)
        env = {"SEALTRUST_AUDIT_HEAD_INTERVAL_S": "3600"}
        with running_servers(root, env=env, workers=2) as (node,), httpx.Client() as http:
            for _ in range(3):
                made = http.post(node.url + "/v1/seals", headers=headers,
                                 json={"department": DEMO_DEPARTMENT}, timeout=60)
                assert made.status_code == 201, made.text
            entries, signed = _sizes(registry)
            assert signed < entries
        assert _sizes(registry) == (entries, entries), "no last head at shutdown"
        with open_deployment(root) as dep, dep.registry.session() as s:
            assert audit.verify_log(s, [dep.key("audit").public_key_der()]).ok
    finally:
        registry.close()
