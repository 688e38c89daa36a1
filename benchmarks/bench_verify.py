"""PDF verification throughput: SealTrust's verifier vs pyHanko's validate_pdf_signature.

Run: .venv/bin/python -m pytest benchmarks/bench_verify.py --benchmark-columns=mean,ops
Each round verifies the whole corpus; files/s = corpus size x ops.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests import pdf_corpus as corpus
from verification import (
    UnsafeNoRevocationCheck,
    VerificationPolicy,
    verify_pdf,
)

AT = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
N_FILES = 20
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)


@pytest.fixture(scope="module")
def rsa_corpus() -> tuple[corpus.RsaPki, list[bytes]]:
    pki = corpus.make_rsa_pki()
    files = [corpus.sign_rsa(corpus.plain_pdf(f"Licence {i:04d}"), pki) for i in range(N_FILES)]
    return pki, files


@pytest.fixture(scope="module")
def sm2_corpus() -> tuple[corpus.Sm2Pki, list[bytes]]:
    pki = corpus.make_sm2_pki()
    return pki, [corpus.sign_sm2(corpus.plain_pdf(f"Licence {i:04d}"), pki) for i in range(N_FILES)]


def _policy(anchor: bytes) -> VerificationPolicy:
    return VerificationPolicy(
        trust_anchors=frozenset({anchor}), revocation=UnsafeNoRevocationCheck()
    )


def test_sealtrust_rsa(benchmark, rsa_corpus) -> None:
    pki, files = rsa_corpus
    policy = _policy(pki.root_der)

    def run() -> int:
        return sum(verify_pdf(f, policy, AT).passed for f in files)

    assert benchmark(run) == N_FILES
    benchmark.extra_info["files_per_round"] = N_FILES


def test_pyhanko_rsa(benchmark, rsa_corpus) -> None:
    pki, files = rsa_corpus

    def run() -> int:
        ok = 0
        for f in files:
            context = ValidationContext(trust_roots=[pki.root], moment=AT)
            status = validate_pdf_signature(corpus.open_pyhanko(f).embedded_signatures[0], context)
            ok += status.bottom_line
        return ok

    assert benchmark(run) == N_FILES
    benchmark.extra_info["files_per_round"] = N_FILES


def test_sealtrust_sm2(benchmark, sm2_corpus) -> None:
    pki, files = sm2_corpus
    policy = _policy(pki.root_der)

    def run() -> int:
        return sum(verify_pdf(f, policy, AT).passed for f in files)

    assert benchmark(run) == N_FILES
    benchmark.extra_info["files_per_round"] = N_FILES


def test_sealtrust_rsa_full_path(benchmark, rsa_corpus) -> None:
    """The same files forced through the full analysis (what the fast path saves)."""
    from verification import extract_facts, judge

    pki, files = rsa_corpus
    policy = _policy(pki.root_der)

    def run() -> int:
        return sum(judge(extract_facts(f, allow_fast=False), policy, AT).passed for f in files)

    assert benchmark(run) == N_FILES
    benchmark.extra_info["files_per_round"] = N_FILES
