"""CPU-time A/B of OFD (and, as reference, SM2 PDF) issuance, for a shared machine.

Run it once per code version, alternating (the label is printed first):

    cd OLD_TREE && PYTHONPATH=$PWD python benchmarks/ab_issue_cpu.py old
    cd NEW_TREE && PYTHONPATH=$PWD python benchmarks/ab_issue_cpu.py new

Each run opens its own temporary deployment (as bench_ofd.py does: service
head policy), warms up, then issues ``N`` DL licences per format per round,
the formats interleaved, ``ROUNDS`` rounds, timed with ``time.process_time``
(the issuing process's own CPU: less disturbed by other processes than wall
clock; cache effects remain). The best round per format is reported, in
milliseconds of CPU per licence, with the OFD/PDF ratio.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.types import builtin_types

N = int(os.environ.get("SEALTRUST_AB_N", "100"))
ROUNDS = int(os.environ.get("SEALTRUST_AB_ROUNDS", "7"))


def main(label: str) -> None:
    driving = builtin_types().get("DL")
    counter = itertools.count(300_000)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "home"
        init_deployment(root)
        dep = Deployment(Home(root), load_config(Home(root)))
        dep.defer_audit_heads()

        def issue(file_format: str) -> None:
            with dep.registry.session() as s:
                issue_one(dep, s, type_code="DL", record=driving.example(next(counter)),
                          department=DEMO_DEPARTMENT, actor="bench", heads=dep.audit_heads,
                          file_format=file_format)

        for _ in range(10):
            issue("ofd")
            issue("pdf")
        best = {"ofd": float("inf"), "pdf": float("inf")}
        for _ in range(ROUNDS):
            for file_format in best:
                start = time.process_time()
                for _ in range(N):
                    issue(file_format)
                best[file_format] = min(best[file_format], time.process_time() - start)
        dep.close()
    ofd, pdf = (best[f] / N * 1000 for f in ("ofd", "pdf"))
    print(f"{label}: OFD {ofd:.2f} ms CPU/licence ({1000 / ofd:.0f}/s), SM2 PDF {pdf:.2f} ms "
          f"({1000 / pdf:.0f}/s), OFD/PDF rate {pdf / ofd:.2f} (best of {ROUNDS} x {N}, "
          f"load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run")
