"""CPU-time A/B of the bench_verify rows, for a shared machine where wall clock is noise.

Run it once per code version, alternating (the label is printed first):

    cd OLD_TREE && PYTHONPATH=$PWD python benchmarks/ab_verify_cpu.py old
    cd NEW_TREE && PYTHONPATH=$PWD python benchmarks/ab_verify_cpu.py new

Each run issues its own 20 SM2 and 20 RSA licences in a temporary deployment
(``tests.licence_corpus``) and times ``verify_pdf`` over each corpus 15 times
with ``time.process_time``; the best round is reported. CPU time is less
disturbed by other processes than wall clock (cache effects remain).
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import pdf_corpus as corpus
from tests.licence_corpus import open_licences
from verification import UnsafeNoRevocationCheck, VerificationPolicy, verify_pdf

N = 20
ROUNDS = 15


def _best(files: list[bytes], policy: VerificationPolicy, now: datetime) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        passed = sum(verify_pdf(f, policy, now).passed for f in files)
        best = min(best, time.process_time() - start)
        assert passed == len(files)
    return best


def main(label: str) -> None:
    logging.disable(logging.CRITICAL)
    gen = open_licences(Path(tempfile.mkdtemp()) / "home")
    lic = next(gen)
    try:
        for i in range(N):
            lic.issue(f"rsa{i}", "rsa", number=i + 1)
            lic.issue(f"sm2{i}", "sm2", number=i + 1)
        pki = corpus.make_rsa_pki()
        plain = [corpus.sign_rsa(corpus.plain_pdf(f"Licence {i:04d}"), pki) for i in range(N)]
        plain_policy = VerificationPolicy(trust_anchors=frozenset({pki.root_der}),
                                          revocation=UnsafeNoRevocationCheck())
        sm2 = [lic.pdfs[f"sm2{i}"] for i in range(N)]
        rsa = [lic.pdfs[f"rsa{i}"] for i in range(N)]
        rows = {"plain_rsa": (plain, plain_policy), "sm2_offline": (sm2, lic.offline()),
                "sm2_online": (sm2, lic.online()), "rsa_online": (rsa, lic.online())}
        now = datetime.now(UTC)
        for name, (files, policy) in rows.items():
            seconds = _best(files, policy, now)
            print(f"{label} {name}: {N / seconds:,.0f} files/s CPU "
                  f"({seconds / N * 1e3:.3f} ms per file)")
    finally:
        gen.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run")
