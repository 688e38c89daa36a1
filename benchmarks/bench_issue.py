"""End-to-end issuance: render + seal + sign + time-stamp + register, per core and in batch.

    .venv/bin/pytest benchmarks/bench_issue.py --benchmark-only
    SEALTRUST_BENCH_BATCH=10000 .venv/bin/pytest benchmarks/bench_issue.py --benchmark-only -k batch

The single-licence figure runs in one process (one core) with the service's
audit head policy, as ``POST /v1/licences`` does: ``issue_one`` gets the
process's head schedule and a background flusher signs one tree head per
second (or per 256 entries) instead of one per licence
(``SEALTRUST_BENCH_HEADS=each`` signs a head in every transaction, as the CLI
does). Personal data is sealed at rest as in a new deployment;
``SEALTRUST_BENCH_ENCRYPTION=off`` stores it in clear (bench_at_rest.py
compares both in one run). The batch figure runs ``sealtrust issue-batch``'s engine with 2 worker
processes on a fresh deployment, so it includes process start-up and key
loading. The machine may be shared: each figure is printed with the 1-minute
load average beside it.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import batch_worker_init, batch_worker_issue, issue_one
from signing.batch import run_batch
from signing.types import builtin_types

TYPES = builtin_types()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("bench-issue") / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    if os.environ.get("SEALTRUST_BENCH_ENCRYPTION", "on") == "off":
        dep.registry.data_keys = None  # personal data stored in clear (bench_at_rest compares)
    if os.environ.get("SEALTRUST_BENCH_HEADS", "service") != "each":
        dep.defer_audit_heads()  # what the service lifespan does
    yield dep
    dep.close()


@pytest.mark.parametrize("alg", ["sm2", "sm2+rsa"])
def test_issue_one_licence(benchmark: Any, deployment: Deployment, alg: str,
                           figure: Any) -> None:
    counter = itertools.count(100_000)
    driving = TYPES.get("DL")

    def one() -> str:
        with deployment.registry.session() as s:
            return issue_one(deployment, s, type_code="DL", record=driving.example(next(counter)),
                             department=DEMO_DEPARTMENT, alg=alg, actor="bench",
                             heads=deployment.audit_heads).licence_id

    benchmark.pedantic(one, rounds=60, iterations=1, warmup_rounds=3)
    if getattr(benchmark, "stats", None) is None:
        return
    per_second = 1 / benchmark.stats.stats.median
    total = float(benchmark.stats.stats.total)
    path = "Issuance (render + seal + sign + time-stamp + register)"
    figure(benchmark, path, f"one at a time, {alg}", 60 / total, "licences/s",
           statistic="wall clock over 60 licences issued one after another, 1 process")
    figure(benchmark, path, f"one at a time, {alg}, median licence", per_second, "licences/s",
           statistic="1 / median of 60 single-licence times, 1 process")
    benchmark.extra_info["licences_per_s_per_core"] = round(per_second, 1)
    benchmark.extra_info["load_1min"] = os.getloadavg()[0]
    heads = "deferred heads" if deployment.audit_heads is not None else "a head each"
    print(f"\nissuance ({alg}, {heads}): {per_second:.0f} licences/s on one core (median), "
          f"load {os.getloadavg()[0]:.2f}")


def test_batch_two_workers(benchmark: Any, deployment: Deployment, tmp_path: Path,
                           figure: Any) -> None:
    n = int(os.environ.get("SEALTRUST_BENCH_BATCH", "1000"))
    records = tmp_path / "records.jsonl"
    with records.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(TYPES.get("BL").example(i), ensure_ascii=False) + "\n")
    options = {"out_dir": str(tmp_path / "out"), "type": "BL", "department": DEMO_DEPARTMENT,
               "alg": "sm2", "key_uri": None, "actor": "bench"}
    elapsed: list[float] = []

    def batch() -> None:
        start = time.perf_counter()
        summary = run_batch(records, tmp_path / "out", initializer=batch_worker_init,
                            initargs=(str(deployment.home.root), options),
                            work=batch_worker_issue, workers=2)
        elapsed.append(time.perf_counter() - start)
        assert summary.issued == n, summary.to_dict()

    benchmark.pedantic(batch, rounds=1, iterations=1)
    rate = n / elapsed[0]
    figure(benchmark, "Issuance (render + seal + sign + time-stamp + register)",
           "batch, 2 worker processes, sm2", rate, "licences/s",
           statistic=f"wall clock over a batch of {n} licences, including process start-up")
    benchmark.extra_info.update({"licences": n, "seconds": round(elapsed[0], 2),
                                 "licences_per_s": round(rate, 1),
                                 "projected_10000_s": round(10_000 / rate, 1),
                                 "load_1min": os.getloadavg()[0]})
    print(f"\nbatch of {n} on 2 workers: {elapsed[0]:.1f} s, {rate:.0f} licences/s, "
          f"10,000 would take {10_000 / rate:.0f} s, load {os.getloadavg()[0]:.2f}")
