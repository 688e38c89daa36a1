"""CPU-time A/B of a 一证通办 fill (3 SM2 licences, online), for a shared machine.

Run it once per code version, alternating (the label is printed first):

    cd OLD_TREE && PYTHONPATH=$PWD python benchmarks/fill_cpu.py old
    cd NEW_TREE && PYTHONPATH=$PWD python benchmarks/fill_cpu.py new
    PYTHONPATH=$PWD python benchmarks/fill_cpu.py new --profile   # cProfile of the fills
    PYTHONPATH=$PWD python benchmarks/fill_cpu.py new --floor     # what a fill cannot skip

Each run issues 20 persons' RIC, DL and SSC in a temporary deployment
(``fill_support.py``, shared with ``bench_fill.py``; an older tree needs both
files) and times ``fill_redemption`` over the 20 redemptions
(redemption excluded), then the 3 verifications alone with ``verify_pdf``
(same files, same policy), the fill's chunked ``verify_pdfs`` of the 3, the 3
stored files' reads alone (registry + SM4-GCM), ``fill_form`` alone and the
cryptographic floor (``crypto_floor``), each 15 rounds with ``time.process_time``;
the best round is reported. ``--floor`` prints, per fill, the floor and its parts
(SM4-GCM at rest, SM3 of the signed ranges and files, the 6 SM2 verifications
through ``verify_many``), SHA-256 of the files and the judging of already
extracted facts (checks and status read, no parsing, no signature maths).
"""

from __future__ import annotations

import cProfile
import datetime as dt
import logging
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from api.routes.verification import deployment_policy
from benchmarks.fill_support import (
    chunk_only,
    crypto_floor,
    fill_deployment,
    fill_form_only,
    fills,
    reads_only,
    stored_files,
    verifications_only,
)

N = 20
ROUNDS = 15


def _best(batch: Callable[[], int]) -> float:
    """Items per CPU-second of the best of ``ROUNDS`` rounds."""
    best = 0.0
    for _ in range(ROUNDS):
        start = time.process_time()
        n = batch()
        best = max(best, n / (time.process_time() - start))
    return best


def _floor(deployment: Any, redemptions: Any, files: list[list[bytes]], policy: Any) -> None:
    """Milliseconds of CPU per fill of the cryptographic floor, its parts, and judging alone."""
    import hashlib

    from verification import extract_facts, judge
    from verification.engine import _prefetched

    facts = [[extract_facts(d, file_sm3=True) for d in triple] for triple in files]

    def sha256() -> int:
        for triple in files:
            for d in triple:
                hashlib.sha256(d).digest()
        return len(files)

    def judging() -> int:
        at = dt.datetime.now(dt.UTC)
        for triple in facts:
            with _prefetched(policy, triple, at):
                assert all(judge(f, policy, at).passed for f in triple)
        return len(files)

    sizes = sorted(len(d) for triple in files for d in triple)
    print(f"files: {sizes[0]:,} to {sizes[-1]:,} bytes", flush=True)
    rows = [("floor: SM4-GCM + SM3 + 6 SM2 (crypto_floor)", crypto_floor(deployment, redemptions)),
            ("  SM4-GCM of the 3 stored files",
             crypto_floor(deployment, redemptions, frozenset({"sm4"}))),
            ("  SM3 of the 3 signed ranges and files",
             crypto_floor(deployment, redemptions, frozenset({"sm3"}))),
            ("  6 SM2 verifications (verify_many)",
             crypto_floor(deployment, redemptions, frozenset({"sm2"}))),
            ("SHA-256 of the 3 files (report field)", sha256),
            ("judging 3 extracted facts (checks + status read)", judging)]
    for name, batch in rows:
        rate = _best(batch)
        print(f"{name}: {1000 / rate:.2f} ms CPU per fill ({rate:,.0f} fills/s)", flush=True)


def main(label: str, profile: bool, floor: bool = False) -> None:
    logging.disable(logging.CRITICAL)
    deployment, service, redemptions = fill_deployment(Path(tempfile.mkdtemp()) / "home", N)
    try:
        policy = deployment_policy(deployment)
        files = stored_files(deployment, redemptions)
        fill = fills(deployment, service, redemptions, policy)
        rows: dict[str, Callable[[], int]] = {
            "fills": fill, "verifications_only": verifications_only(files, policy),
            "verify_pdfs_only": chunk_only(files, redemptions, policy),
            "reads_only": reads_only(deployment, redemptions),
            "fill_form_only": fill_form_only(service, redemptions),
            "crypto_floor": crypto_floor(deployment, redemptions)}
        fill()  # warm the policy's caches
        if floor:
            _floor(deployment, redemptions, files, policy)
            return
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(10):
                fill()
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(120)
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
            return
        rates = {name: _best(batch) for name, batch in rows.items()}
        print(label, " ".join(f"{k}={v:,.0f}/s" for k, v in rates.items()),
              f"ratio={rates['fills'] / rates['verifications_only']:.2f}",
              f"vs_floor={rates['fills'] / rates['crypto_floor']:.2f}", flush=True)
    finally:
        deployment.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run", "--profile" in sys.argv,
         "--floor" in sys.argv)
