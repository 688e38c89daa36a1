"""Service load: one `sealtrust serve` node on loopback beside the in-process rate.

Run: ``.venv/bin/pytest benchmarks/load/bench_load.py --benchmark-only`` (about 30 s).
The full-length command and the recorded figures are in benchmarks/RESULTS.md
("Service load"); this entry runs :mod:`loadgen` for a few seconds per route
and keeps requests/s and p50/p99 in ``extra_info`` (``--benchmark-json``).

Target (issue "The service"): >= 1,000 QR verifications/s with p99 < 50 ms
on 2 cores. ``SEALTRUST_BENCH_ENFORCE=1`` fails the run below it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen

DURATION_S = 4.0
CONCURRENCY = 32
TARGET_RPS = 1000.0
TARGET_P99_MS = 50.0


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from api.deployment import init_deployment

    root = tmp_path_factory.mktemp("load") / "home"
    init_deployment(root)
    return root


@pytest.fixture(scope="module")
def node_url(home: Path) -> Iterator[str]:
    from tests.server_support import running_servers

    with running_servers(home, env=loadgen.NO_LIMIT_ENV) as nodes:
        yield nodes[0].url


@pytest.mark.parametrize("path", ["/health/live", "/v1/trust/certificates"])
def test_load(benchmark: Any, path: str, home: Path, node_url: str,
              summary: Callable[[str], None]) -> None:
    kw = {"method": "GET", "path": path, "body": None, "concurrency": CONCURRENCY,
          "duration_s": DURATION_S, "max_requests": 100_000}
    results: list[loadgen.LoadResult] = []

    def once() -> None:
        results.append(loadgen._run(loadgen.loopback(node_url, **kw)))
        results.append(loadgen._run(loadgen.in_process(home, **kw)))

    benchmark.pedantic(once, rounds=1, iterations=1)
    net, local = results
    benchmark.extra_info.update({"loopback_rps": net.rps, "loopback_p50_ms": net.p50_ms,
                                 "loopback_p99_ms": net.p99_ms, "in_process_rps": local.rps,
                                 "in_process_p99_ms": local.p99_ms, "errors": net.errors})
    summary(net.line())
    summary(local.line())
    assert net.errors == 0
    assert local.errors == 0
    if os.environ.get("SEALTRUST_BENCH_ENFORCE") == "1":
        assert net.rps >= TARGET_RPS, net.line()
        assert net.p99_ms < TARGET_P99_MS, net.line()
