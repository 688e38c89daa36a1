"""verify_files on 2 worker processes against 1: wall clock and where the CPU goes.

Run it once per code version, alternating (the label is printed first):

    cd OLD_TREE && PYTHONPATH=$PWD python NEW_TREE/benchmarks/bulk_scaling_cpu.py old
    cd NEW_TREE && PYTHONPATH=$PWD python benchmarks/bulk_scaling_cpu.py new

Each run issues 40 SM2 licences in a temporary deployment (``tests.licence_corpus``),
writes ``--copies`` copies of each to disk (2,000 files by default, as
bench_verify.py::test_licences_bulk_scaling) and runs ``verify_files`` offline with
2 workers and with 1, alternating, ``--rounds`` times. Wall clock needs an idle machine
(2 workers on 2 cores); the CPU figures do not: the parent's ``time.process_time`` and
the workers' ``RUSAGE_CHILDREN`` against one process's CPU time show what running on 2
processes costs beyond the verification itself (1.000x would be free).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, os.getcwd())  # the tree under test (run from its root)
from tests.licence_corpus import open_licences
from verification import verify_files

LICENCES = 40


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("label")
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    root = Path(tempfile.mkdtemp())
    gen = open_licences(root / "home")
    lic = next(gen)
    try:
        for i in range(LICENCES):
            lic.issue(f"sm2{i}", "sm2", number=i + 1)
        (root / "files").mkdir()
        paths = []
        for copy in range(args.copies):
            for i in range(LICENCES):
                path = root / "files" / f"{copy}-{i}.pdf"
                path.write_bytes(lic.pdfs[f"sm2{i}"])
                paths.append(str(path))
        policy, now = lic.offline(), datetime.now(UTC)
        list(verify_files(paths[:64], policy, at=now))  # warm, as the benchmark's pair is
        rates: dict[int, list[float]] = {1: [], 2: []}
        cpu: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        loads = []
        for _ in range(args.rounds):
            for workers in (2, 1):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                own, start = time.process_time(), time.perf_counter()
                passed = sum(r.passed for r in verify_files(paths, policy, workers, now))
                wall = time.perf_counter() - start
                own = time.process_time() - own
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                children = (after.ru_utime + after.ru_stime
                            - before.ru_utime - before.ru_stime)
                assert passed == len(paths)
                rates[workers].append(len(paths) / wall)
                cpu[workers].append((own, children))
                loads.append(os.getloadavg()[0])
        one = statistics.median(rates[1])
        two = statistics.median(rates[2])
        single = statistics.median(c[0] for c in cpu[1])
        parent = statistics.median(c[0] for c in cpu[2])
        workers_cpu = statistics.median(c[1] for c in cpu[2])
        print(f"{args.label}: median of {args.rounds} rounds of {len(paths)} files: "
              f"1 process {one:,.0f} files/s, 2 processes {two:,.0f} files/s, ratio "
              f"{two / one:.2f} (best {max(rates[2]) / max(rates[1]):.2f}); CPU s: 1 process "
              f"{single:.2f}, 2 processes parent {parent:.3f} + workers {workers_cpu:.2f} = "
              f"{parent + workers_cpu:.2f} ({(parent + workers_cpu) / single:.3f}x); "
              f"load {min(loads):.1f}-{max(loads):.1f}", flush=True)
    finally:
        gen.close()


if __name__ == "__main__":
    main()
