"""Lifecycle jobs: licences expired and revoked per second (SQLite, one process).

    .venv/bin/pytest benchmarks/bench_lifecycle.py --benchmark-only -s

Each round makes ``SEALTRUST_BENCH_LICENCES`` (default 2000) due licences in a
fresh registry and times one ``expire_due`` run over them (chunks of 500:
per licence a compare-and-set UPDATE, an event, an audit entry and a holder
notice), then one ``bulk_change`` revoking as many by department. Figures are
licences per second, median over ``SEALTRUST_BENCH_ROUNDS`` rounds, wall clock.
No audit head is signed inside the timing (the service defers them).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from tests.lifecycle_support import NOW, add_licences, day, new_registry
from trust.registry.bulk import BulkAction, Selection, bulk_change
from trust.registry.expiry import expire_due

N = int(os.environ.get("SEALTRUST_BENCH_LICENCES", "2000"))
ROUNDS = int(os.environ.get("SEALTRUST_BENCH_ROUNDS", "5"))


def _round(root: Path, k: int) -> tuple[float, float]:
    reg = new_registry(f"sqlite:///{root / f'r{k}.db'}")
    try:
        add_licences(reg, {f"E{i:07d}": day(1) for i in range(N)})
        add_licences(reg, {f"R{i:07d}": day(30) for i in range(N)}, start=N + 1,
                     department="psb")
        start = time.perf_counter()
        expired = expire_due(reg, at=NOW, actor="bench")
        expiry = time.perf_counter() - start
        start = time.perf_counter()
        revoked = bulk_change(reg, Selection(department="psb"), BulkAction.REVOKE,
                              reason="bench", at=NOW, actor="bench")
        bulk = time.perf_counter() - start
        assert len(expired.expired) == len(revoked.changed) == N
        return N / expiry, N / bulk
    finally:
        reg.close()


def test_expiry_and_bulk_rates(benchmark: Any, figure: Any,
                               tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("bench-lifecycle")
    rates = [_round(root, k) for k in range(ROUNDS)]
    benchmark.pedantic(lambda: None, rounds=1)
    expiry = statistics.median(r[0] for r in rates)
    bulk = statistics.median(r[1] for r in rates)
    statistic = f"median of {ROUNDS} runs over {N} licences, SQLite, 1 process"
    figure(benchmark, "lifecycle jobs", "expire_due", expiry, "licences/s", statistic=statistic)
    figure(benchmark, "lifecycle jobs", "bulk revoke by department", bulk, "licences/s",
           statistic=statistic)
    print(f"\nexpire_due {expiry:,.0f} licences/s, bulk revoke {bulk:,.0f} licences/s "
          f"(load {os.getloadavg()[0]:.2f})")
