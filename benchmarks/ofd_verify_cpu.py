"""OFD verification of our SM2 licences against its per-file floor, in CPU time (issue 13).

The same ratio as ``bench_ofd.py::test_ofd_verification_against_its_floor`` (verify
rate / floor rate; floor = two SM2 verifies + SM3 of every referenced entry and
Signature.xml, ``bench_ofd._floor_one``), measured with ``time.process_time`` in
alternating rounds, best round of each kept: usable on a shared machine where wall
clock is noise.

    PYTHONPATH=$PWD python benchmarks/ofd_verify_cpu.py [--n 100] [--rounds 7]
        [--profile FILE.prof]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--profile", type=Path, default=None)
    ap.add_argument("--label", default="run")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)

    from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
    from api.issuance import issue_one
    from api.routes.verification import deployment_policy
    from benchmarks.bench_ofd import _floor_one
    from signing.types import builtin_types
    from trust.indications import Indication
    from verification import verify_pdf

    root = Path(tempfile.mkdtemp(prefix="ofdverify-")) / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    counter = itertools.count(300_000)
    driving = builtin_types().get("DL")
    files = []
    try:
        for _ in range(args.n):
            with dep.registry.session() as s:
                files.append(issue_one(dep, s, type_code="DL",
                                       record=driving.example(next(counter)),
                                       department=DEMO_DEPARTMENT, actor="bench",
                                       file_format="ofd").pdf)
        policy = deployment_policy(dep)
        assert all(verify_pdf(f, policy).indication is Indication.TOTAL_PASSED for f in files)
        if args.profile is not None:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            for f in files:
                verify_pdf(f, policy)
            prof.disable()
            prof.dump_stats(args.profile)
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(30)
        ours = floor = float("inf")
        for _ in range(args.rounds):
            start = time.process_time()
            for f in files:
                verify_pdf(f, policy)
            ours = min(ours, time.process_time() - start)
            start = time.process_time()
            for f in files:
                _floor_one(f)
            floor = min(floor, time.process_time() - start)
    finally:
        dep.close()
    n = len(files)
    print(f"{args.label}: OFD verification {n / ours:,.0f}/s CPU ({ours / n * 1e3:.3f} ms), "
          f"floor {n / floor:,.0f}/s ({floor / n * 1e3:.3f} ms), ratio {floor / ours:.2f} "
          f"(best of {args.rounds} alternating rounds over {n} licences; "
          f"load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
