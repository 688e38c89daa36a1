"""Shared benchmark plumbing: collection of bench_*.py, reference figures, a summary.

Benchmarks are pytest-benchmark tests kept out of the default test run
(``testpaths = ["tests"]``); run them with
``.venv/bin/pytest benchmarks/ --benchmark-only``. Files are named
``bench_<area>.py`` so ``pytest tests/`` never picks them up by accident.

Every ratio is computed inside one benchmark from a reference measured in the
same test (:func:`paired`: the reference batch runs untimed-by-pytest before each
timed round of ours, so both see the same machine load), never from whatever
another test left behind, so ``-k`` subsets keep their ratios. Each figure is
recorded with :func:`figure`; ``SEALTRUST_BENCH_SUMMARY=path.json`` (set by
scripts/bench.sh) writes all of them as one machine-readable list.

``SEALTRUST_BENCH_ROUNDS`` (default 5) sets the rounds of the paired
measurements; scripts/bench.sh --quick lowers it for a smoke run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_SUMMARY: list[str] = []
_FIGURES: list[dict[str, Any]] = []
ROUNDS = int(os.environ.get("SEALTRUST_BENCH_ROUNDS", "5"))

# Benchmarks import the test corpora (tests/ is a package at the repository root).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """Collect ``bench_*.py`` as test modules (the default pattern is ``test_*.py``).

    Files named on the command line are already collected by pytest itself.
    """
    if parent.session.isinitpath(file_path):
        return None
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        module: pytest.Module = pytest.Module.from_parent(parent, path=file_path)
        return module
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SUMMARY:
        terminalreporter.section("benchmark ratios")
        for line in _SUMMARY:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("SEALTRUST_BENCH_SUMMARY")
    if target:
        existing: list[dict[str, Any]] = []
        path = Path(target)
        if path.exists():  # scripts/bench.sh runs one pytest per file into the same summary
            existing = json.loads(path.read_text())
        path.write_text(json.dumps(existing + _FIGURES, indent=1, ensure_ascii=False) + "\n")


def record_figure(
    benchmark: Any,
    path: str,
    figure: str,
    value: float,
    unit: str,
    *,
    statistic: str,
    reference: str | None = None,
    reference_value: float | None = None,
) -> None:
    """One figure of the summary: what, how much, how measured, and against what (same test)."""
    ratio = value / reference_value if reference_value else None
    row: dict[str, Any] = {
        "path": path,
        "figure": figure,
        "value": round(value, 3),
        "unit": unit,
        "statistic": statistic,
        "reference": reference,
        "reference_value": None if reference_value is None else round(reference_value, 3),
        "ratio": None if ratio is None else round(ratio, 3),
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
    }
    _FIGURES.append(row)
    benchmark.extra_info.setdefault("figures", []).append(row)
    line = f"{path} | {figure}: {value:,.1f} {unit} ({statistic})"
    if ratio is not None:
        line += f"; {reference} {reference_value:,.1f} {unit}; ratio {ratio:.3f}"
    _SUMMARY.append(line)


@pytest.fixture(autouse=True)
def _default_figure(request: pytest.FixtureRequest) -> Any:
    """A benchmark that records no figure of its own still lands in the summary: ops/s."""
    if "benchmark" not in request.fixturenames:
        yield
        return
    benchmark = request.getfixturevalue("benchmark")  # before yield: torn down after us
    yield
    stats = getattr(benchmark, "stats", None)
    if stats is None or benchmark.extra_info.get("figures"):
        return
    median = float(stats.stats.median)
    if median > 0:
        module = Path(str(request.node.fspath)).stem
        record_figure(benchmark, module, request.node.name, 1.0 / median, "ops/s",
                      statistic=f"1 / median of {stats.stats.rounds} pytest-benchmark rounds, "
                                "1 thread")


@pytest.fixture(scope="session")
def figure() -> Callable[..., None]:
    """:func:`record_figure` as a fixture."""
    return record_figure


def wall_rate(batch: Callable[[], int]) -> float:
    """Items per second of one call of ``batch`` (which returns how many items it did)."""
    started = time.perf_counter()
    n = batch()
    return n / (time.perf_counter() - started)


def paired(
    benchmark: Any, ours: Callable[[], int], *references: Callable[[], int], rounds: int = 0
) -> tuple[float, list[float]] | None:
    """(ours, [each reference]) items/s, each the median over ``rounds`` wall-clock batches.

    pytest-benchmark times ``ours``; the reference batches run as its untimed setup just
    before each round, so all alternate under the same load. None when benchmarking is
    disabled.
    """
    rounds = rounds or ROUNDS
    reference_rates: list[list[float]] = [[] for _ in references]
    counts: list[int] = []

    def setup() -> None:
        for rates, reference in zip(reference_rates, references, strict=True):
            rates.append(wall_rate(reference))

    def timed() -> int:
        n = ours()
        counts.append(n)
        return n

    benchmark.pedantic(timed, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
    stats = getattr(benchmark, "stats", None)
    if stats is None or not counts:
        return None
    return counts[0] / float(stats.stats.median), [statistics.median(r) for r in reference_rates]


@pytest.fixture(scope="session")
def pair() -> Callable[..., tuple[float, list[float]] | None]:
    """:func:`paired` as a fixture."""
    return paired


@pytest.fixture(scope="session")
def summary() -> Callable[[str], None]:
    """Add a line to the 'benchmark ratios' section printed at the end of the run."""
    return _SUMMARY.append


def _ops_per_second(benchmark: Any) -> float | None:
    stats = getattr(benchmark, "stats", None)
    if stats is None:
        return None
    mean = float(stats.stats.mean)
    return 1.0 / mean if mean > 0 else None


@pytest.fixture(scope="session")
def ops_per_second() -> Callable[[Any], float | None]:
    """Throughput (1 / mean time) of a finished benchmark; None when benchmarking is disabled."""
    return _ops_per_second


_SPEED_LINE = re.compile(
    r"^\s*\d+\s+bits\s+SM2\s+\(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)\s*$", re.MULTILINE
)


def parse_openssl_speed_sm2(output: str) -> dict[str, float]:
    """``{"sign": ops/s, "verify": ops/s}`` from ``openssl speed sm2`` output."""
    match = _SPEED_LINE.search(output)
    if match is None:
        raise ValueError("no SM2 result line in openssl speed output")
    return {"sign": float(match.group(1)), "verify": float(match.group(2))}


@pytest.fixture(scope="session")
def openssl_speed_sm2() -> dict[str, float]:
    """``openssl speed -seconds 3 sm2`` measured once per run (about 7 s)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not installed")
    out = subprocess.run(
        [openssl, "speed", "-seconds", "3", "sm2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        pytest.skip(f"openssl speed sm2 failed: {out.stderr.strip()[:200]}")
    return parse_openssl_speed_sm2(out.stdout)
