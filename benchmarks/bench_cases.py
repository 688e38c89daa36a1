"""Approval-to-licence latency (自动发证) under a burst of concurrent approval events.

    .venv/bin/pytest benchmarks/bench_cases.py --benchmark-only
    SEALTRUST_BENCH_CASES=200 SEALTRUST_BENCH_CASE_WORKERS=2 \
        .venv/bin/pytest benchmarks/bench_cases.py --benchmark-only

Load: ``SEALTRUST_BENCH_CASES`` (default 40) "case approved" events arrive at
once from as many threads; each is authenticated (HMAC-SM3, timestamp,
nonce in the shared replay cache) and accepted (case row, sealed records,
outbox item, audit entry) as ``POST /v1/cases/approved`` does, then
``SEALTRUST_BENCH_CASE_WORKERS`` (default 2, one per core) outbox workers
issue them (SM2, PDF, sealed at rest, deferred audit heads as in the
service) and queue the holder notifications (log notifier). Latency of a
case: from the burst's start (all N events arrive together) to the commit
of its licence, so queueing for acceptance and for a worker is included.

Reference, in the same test on the same deployment: the same number of
licences of the same type issued directly (``issue_one``, what ``POST
/v1/licences`` runs) by as many threads as there are workers, latency from
the burst's start to each licence's commit. The ratio of the
p50s is what the outbox costs over direct issuance. SQLite (the embedded
default); both paths are warmed first (keys, fonts, caches); the machine may
be shared, so the 1-minute load is printed too.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.auth import Principal, Role
from api.cases import EventKeys, accept_event, parse_event, sign_event, verify_event
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from api.services import catalogue_for
from api.settings import Settings
from api.worker import Worker, deployment_worker
from signing.types import builtin_types
from trust.registry import outbox
from trust.registry.tokens import DbReplayCache

TYPES = builtin_types()
N = int(os.environ.get("SEALTRUST_BENCH_CASES", "40"))
WORKERS = int(os.environ.get("SEALTRUST_BENCH_CASE_WORKERS", "2"))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("bench-cases") / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    dep.defer_audit_heads()  # what the service lifespan does
    yield dep
    dep.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _record(index: int) -> dict[str, Any]:
    return TYPES.get("DL").example(200_000 + index)


def _cases_burst(dep: Deployment, n: int, workers: int, offset: int,
                 answered: list[float] | None = None) -> list[float]:
    """Latencies (s) from each event's arrival to its licence's commit.

    ``answered`` receives each event's acceptance latency (arrival to the 202 answer).
    """
    principal = Principal("bench-approval", "bench", frozenset({Role.APPROVAL_SYSTEM}),
                          DEMO_DEPARTMENT)
    key = EventKeys.of(dep.home).for_client(principal.client_id)
    services = catalogue_for(dep.home.root)
    replay = DbReplayCache(dep.registry)
    arrived: dict[str, float] = {}
    issued: dict[str, float] = {}
    lock = threading.Lock()

    class Timed(Worker):
        def process(self, item: outbox.Claimed) -> str:
            outcome = super().process(item)
            if item.topic == "case.issue" and outcome == "done":
                with lock:
                    issued[str(item.payload["case_code"])] = time.perf_counter()
            return outcome

    def post(index: int) -> None:
        record = _record(offset + index)
        code = f"BENCH-{offset + index:08d}"
        body = json.dumps({"case_code": code, "service": "DL-REISSUE",
                           "approved_at": datetime.now(UTC).isoformat(),
                           "applicant": {"kind": "person", "id": record["license_number"]},
                           "licences": [{"type": "DL", "record": record}]}).encode()
        stamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {"X-SealTrust-Timestamp": stamp, "X-SealTrust-Nonce": nonce,
                   "X-SealTrust-Signature": sign_event(key, stamp, nonce, body)}
        with lock:
            arrived[code] = started  # all N arrive together: the burst starts the clock
        now = datetime.now(UTC)
        verify_event(key, headers, body, client_id=principal.client_id, now=now, replay=replay)
        with dep.registry.session() as session:
            accept_event(dep, session, principal, parse_event(body), services=services, now=now)
        if answered is not None:
            with lock:
                answered.append(time.perf_counter() - arrived[code])

    stop = threading.Event()
    base = deployment_worker(dep, Settings(home=dep.home.root))
    pool = [Timed(dep.registry, base.handlers) for _ in range(workers)]
    threads = [threading.Thread(target=w.run_forever, args=(stop,), kwargs={"idle": 0.02})
               for w in pool]
    for thread in threads:
        thread.start()
    with ThreadPoolExecutor(max_workers=n) as submit:
        for _ in submit.map(lambda _: None, range(n)):  # threads up before the clock starts
            pass
        started = time.perf_counter()
        list(submit.map(post, range(n)))
    deadline = time.monotonic() + 60 + 5 * n
    while len(issued) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(issued) == n, f"only {len(issued)} of {n} cases issued"
    return [issued[code] - arrived[code] for code in arrived]


def _direct_burst(dep: Deployment, n: int, workers: int, offset: int) -> list[float]:
    """Latencies (s) from a common start to each directly issued licence's commit."""
    started = time.perf_counter()

    def one(index: int) -> float:
        with dep.registry.session() as session:
            issue_one(dep, session, type_code="DL", record=_record(offset + index),
                      department=DEMO_DEPARTMENT, actor="bench", heads=dep.audit_heads)
        return time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(n)))


def test_approval_to_licence_latency(benchmark: Any, deployment: Deployment,
                                     figure: Any) -> None:
    runs: dict[str, list[float]] = {}
    rounds = iter(range(100))

    # Warm both paths first (keys opened, fonts and templates loaded, caches filled).
    _direct_burst(deployment, WORKERS, WORKERS, offset=900_000)
    _cases_burst(deployment, WORKERS, WORKERS, offset=900_100)

    def burst() -> None:
        k = next(rounds)
        runs["direct"] = _direct_burst(deployment, N, WORKERS, offset=2 * k * N)
        runs["answered"] = []
        runs["cases"] = _cases_burst(deployment, N, WORKERS, offset=(2 * k + 1) * N,
                                     answered=runs["answered"])

    benchmark.pedantic(burst, rounds=1, iterations=1, warmup_rounds=0)
    if getattr(benchmark, "stats", None) is None:
        return
    path = "Cases (自动发证): approval event to committed licence"
    load = f"burst of {N} concurrent events, {WORKERS} workers, SQLite, SM2 PDF"
    cases, direct = runs["cases"], runs["direct"]
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        ours, ref = _pct(cases, q) * 1e3, _pct(direct, q) * 1e3
        figure(benchmark, path, f"latency {name}, {load}", ours, "ms",
               statistic=f"{name} of {N} case latencies (burst start to licence commit)",
               reference=f"direct issuance of {N} licences by {WORKERS} threads, {name}",
               reference_value=ref)
    figure(benchmark, path, f"event accepted (202), p99, {load}",
           _pct(runs["answered"], 0.99) * 1e3, "ms",
           statistic=f"p99 of {N} acceptance latencies (burst start to the answer), workers busy")
    figure(benchmark, path, f"throughput, {load}", N / max(cases), "cases/s",
           statistic="cases / time until the last licence committed",
           reference="direct issuance, licences/s", reference_value=N / max(direct))
    benchmark.extra_info.update({"cases": N, "workers": WORKERS,
                                 "load_1min": os.getloadavg()[0],
                                 "cases_mean_ms": round(statistics.mean(cases) * 1e3, 1)})
    print(f"\ncases: p50 {_pct(cases, .5) * 1e3:.0f} ms, p99 {_pct(cases, .99) * 1e3:.0f} ms "
          f"(accepted p99 {_pct(runs['answered'], .99) * 1e3:.0f} ms); "
          f"direct: p50 {_pct(direct, .5) * 1e3:.0f} ms, p99 {_pct(direct, .99) * 1e3:.0f} ms "
          f"({N} events, {WORKERS} workers, load {os.getloadavg()[0]:.2f})")


def test_outbox_claim_complete_cycle(benchmark: Any, tmp_path: Path, figure: Any) -> None:
    """The outbox's own cost: enqueue, claim, complete (no handler work), SQLite."""
    from trust.registry import Registry, migrate

    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    migrate(url)
    registry = Registry(url)
    counter = iter(range(10**9))

    def cycle() -> None:
        now = datetime.now(UTC)
        with registry.session() as s:
            outbox.enqueue(s, topic="t", dedupe_key=f"k{next(counter)}", payload={}, at=now)
        with registry.session() as s:
            (item,) = outbox.claim(s, owner="bench", now=now, limit=1)
        with registry.session() as s:
            outbox.complete(s, item, now=now)

    try:
        benchmark.pedantic(cycle, rounds=200, iterations=1, warmup_rounds=5)
        if getattr(benchmark, "stats", None) is not None:
            figure(benchmark, "Cases (自动发证): outbox", "enqueue + claim + complete, SQLite",
                   1 / float(benchmark.stats.stats.median), "items/s",
                   statistic="1 / median of 200 cycles (3 transactions each), 1 thread")
    finally:
        registry.close()
