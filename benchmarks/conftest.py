"""Shared benchmark plumbing: collection of bench_*.py, reference figures, a summary.

Benchmarks are pytest-benchmark tests kept out of the default test run
(``testpaths = ["tests"]``); run them with
``.venv/bin/pytest benchmarks/ --benchmark-only``. Files are named
``bench_<area>.py`` so ``pytest tests/`` never picks them up by accident.

Reference implementations (e.g. ``openssl speed``) are measured in the same
run, on the same machine, so ratios rather than absolute figures are compared.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_SUMMARY: list[str] = []


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
