"""PDF and licence verification throughput; each ratio against a reference from the same test.

Run: scripts/bench.sh (all benchmarks) or
     .venv/bin/python -m pytest benchmarks/bench_verify.py --benchmark-only

Every figure is files/s = files verified / wall-clock seconds of one batch, end to end
(bytes in, verdict out), the median over SEALTRUST_BENCH_ROUNDS rounds, one process.
References run as untimed setup before each timed round (benchmarks/conftest.py paired),
so ours and theirs alternate under the same load and a ``-k`` subset keeps its ratio.

Warm and cold: pyHanko gets a fresh ValidationContext per file. Ours keeps per-process
caches (parsed certificates, passed chain checks, seals by DER) and one policy across a
batch ("warm", after one pass over the batch); "cold" builds a fresh policy and clears
every cache of the verification and trust packages before each file. Both verifiers
return the same verdict on every file (tests/test_verify_pdf.py, test_verify_licences.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import pytest
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests import pdf_corpus as corpus
from verification import (
    UnsafeNoRevocationCheck,
    VerificationPolicy,
    extract_facts,
    judge,
    verify_pdf,
)

AT = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
ROUNDS = int(os.environ.get("SEALTRUST_BENCH_ROUNDS", "5"))
N_FILES = int(os.environ.get("SEALTRUST_BENCH_FILES", "20"))
N_LICENCES = int(os.environ.get("SEALTRUST_BENCH_LICENCES", "40"))
BULK_COPIES = int(os.environ.get("SEALTRUST_BENCH_BULK_COPIES", "50"))
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)


def _stat(n: int) -> str:
    return f"median of {ROUNDS} rounds of {n} files, wall clock, end to end, 1 process"


def clear_process_caches() -> None:
    """Empty every lru_cache and module-level cache dict of the verification and trust code."""
    for name, module in list(sys.modules.items()):
        if not name.startswith(("verification", "trust")) or module is None:
            continue
        for attr_name, value in list(vars(module).items()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()
            elif isinstance(value, dict) and "cache" in attr_name.lower():
                value.clear()


def _policy(anchor: bytes) -> VerificationPolicy:
    return VerificationPolicy(
        trust_anchors=frozenset({anchor}), revocation=UnsafeNoRevocationCheck()
    )


def _warm(files: list[bytes], policy: VerificationPolicy, at: dt.datetime) -> Callable[[], int]:
    assert all(verify_pdf(f, policy, at).passed for f in files)  # also fills the caches

    def batch() -> int:
        return sum(verify_pdf(f, policy, at).passed for f in files)

    return batch


def _cold(files: list[bytes], make_policy: Callable[[], VerificationPolicy],
          at: dt.datetime) -> Callable[[], int]:
    def batch() -> int:
        ok = 0
        for f in files:
            clear_process_caches()
            ok += verify_pdf(f, make_policy(), at).passed
        return ok

    return batch


def _pyhanko(files: list[bytes], context: Callable[[], ValidationContext]) -> Callable[[], int]:
    def batch() -> int:
        ok = 0
        for f in files:
            status = validate_pdf_signature(corpus.open_pyhanko(f).embedded_signatures[0],
                                            context())
            ok += bool(status.bottom_line)
        return ok

    assert batch() == len(files)
    return batch


def _raw_sm2(n: int) -> Callable[[], int]:
    """The floor: n SM2 verifies through trust.keys (the production backend), same process."""
    from trust import oids
    from trust.keys import SoftwareKey, verify_signature

    key = SoftwareKey.generate("sm2")
    spki, message = key.public_key_der(), b"x" * 200
    signature = key.sign(message)

    def batch() -> int:
        return sum(verify_signature(spki, oids.SM2_WITH_SM3, message, signature)
                   for _ in range(n))

    return batch


def _figures(figure: Any, benchmark: Any, path: str, rates: Any, n: int,
             ours: str, references: list[str]) -> None:
    if rates is None:
        return
    value, refs = rates
    stat = _stat(n)
    figure(benchmark, path, ours, value, "files/s", statistic=stat)
    for name, ref in zip(references, refs, strict=True):
        figure(benchmark, path, f"{ours} vs {name}", value, "files/s", statistic=stat,
               reference=name, reference_value=ref)


@pytest.fixture(scope="module")
def rsa_corpus() -> tuple[corpus.RsaPki, list[bytes]]:
    pki = corpus.make_rsa_pki()
    files = [corpus.sign_rsa(corpus.plain_pdf(f"Licence {i:04d}"), pki) for i in range(N_FILES)]
    return pki, files


@pytest.fixture(scope="module")
def sm2_corpus() -> tuple[corpus.Sm2Pki, list[bytes]]:
    pki = corpus.make_sm2_pki()
    return pki, [corpus.sign_sm2(corpus.plain_pdf(f"Licence {i:04d}"), pki) for i in range(N_FILES)]


def test_pdf_rsa(benchmark: Any, rsa_corpus: Any, pair: Any, figure: Any) -> None:
    """One-page RSA PDFs (pyHanko-signed, B-B): ours warm, ours cold, pyHanko."""
    pki, files = rsa_corpus
    warm = _warm(files, _policy(pki.root_der), AT)
    cold = _cold(files, lambda: _policy(pki.root_der), AT)
    theirs = _pyhanko(files, lambda: ValidationContext(trust_roots=[pki.root], moment=AT))
    rates = pair(benchmark, warm, cold, theirs)
    _figures(figure, benchmark, "PDF verification, RSA", rates, N_FILES, "sealtrust warm",
             ["sealtrust cold", "pyHanko (fresh context per file)"])
    if rates:
        figure(benchmark, "PDF verification, RSA", "sealtrust cold vs pyHanko", rates[1][0],
               "files/s", statistic=_stat(N_FILES), reference="pyHanko (fresh context per file)",
               reference_value=rates[1][1])


def test_pdf_rsa_fast_vs_full_path(benchmark: Any, rsa_corpus: Any, pair: Any,
                                   figure: Any) -> None:
    """What the fast path saves: the same files forced through the full (pyHanko) analysis."""
    pki, files = rsa_corpus
    policy = _policy(pki.root_der)

    def full() -> int:
        return sum(judge(extract_facts(f, allow_fast=False), policy, AT).passed for f in files)

    assert full() == len(files)
    rates = pair(benchmark, _warm(files, policy, AT), full)
    _figures(figure, benchmark, "PDF verification, RSA", rates, N_FILES, "sealtrust warm",
             ["sealtrust full path, warm"])


def test_pdf_sm2(benchmark: Any, sm2_corpus: Any, pair: Any, figure: Any) -> None:
    """One-page SM2 PDFs: ours warm and cold, against N raw SM2 verifies (the floor)."""
    pki, files = sm2_corpus
    rates = pair(benchmark, _warm(files, _policy(pki.root_der), AT),
                 _cold(files, lambda: _policy(pki.root_der), AT), _raw_sm2(len(files)))
    _figures(figure, benchmark, "PDF verification, SM2", rates, N_FILES, "sealtrust warm",
             ["sealtrust cold", "raw SM2 verify (1 per file)"])


# ---------------------------------------------------------------- real licences
# Licences issued by api.issuance.issue_one in a temporary deployment: SM2 or RSA
# signature, B-T time-stamp from the built-in TSA, bound GB/T 38540 seal and
# licence id. Our verifier runs every check (time-stamp + TSA chain, signer
# chain, seal, licence status, revocation) with the deployment policy; pyHanko
# checks integrity, signature, chain and its time-stamp (it knows nothing of
# seals or licence status).


@pytest.fixture(scope="module")
def licences(tmp_path_factory: Any) -> Any:
    from tests.licence_corpus import open_licences

    gen = open_licences(tmp_path_factory.mktemp("bench-licences") / "home")
    lic = next(gen)
    for i in range(N_LICENCES):
        lic.issue(f"rsa{i}", "rsa", number=i + 1)
        lic.issue(f"sm2{i}", "sm2", number=i + 1)
    yield lic
    gen.close()


def _licence_files(lic: Any, alg: str) -> list[bytes]:
    return [lic.pdfs[f"{alg}{i}"] for i in range(N_LICENCES)]


def test_licences_rsa_online(benchmark: Any, licences: Any, pair: Any, figure: Any) -> None:
    """RSA licences, online policy (registry status): ours warm and cold, pyHanko."""
    from asn1crypto import x509

    root = x509.Certificate.load(licences.deployment.certificate("rsa-root").der)
    files = _licence_files(licences, "rsa")
    now = dt.datetime.now(dt.UTC)
    rates = pair(benchmark, _warm(files, licences.online(), now),
                 _cold(files, licences.online, now),
                 _pyhanko(files, lambda: ValidationContext(trust_roots=[root],
                                                           allow_fetching=False)))
    _figures(figure, benchmark, "Licence verification, RSA, online", rates, N_LICENCES,
             "sealtrust warm", ["sealtrust cold", "pyHanko (fresh context per file)"])
    if rates:
        figure(benchmark, "Licence verification, RSA, online", "sealtrust cold vs pyHanko",
               rates[1][0], "files/s", statistic=_stat(N_LICENCES),
               reference="pyHanko (fresh context per file)", reference_value=rates[1][1])


@pytest.mark.parametrize("mode", ["offline", "online"])
def test_licences_sm2(benchmark: Any, licences: Any, mode: str, pair: Any, figure: Any) -> None:
    """SM2 licences: ours warm and cold, against raw SM2 verifies (3 per licence: the
    signature, the time-stamp and the seal maker's, the least any verifier must do)."""
    make = licences.offline if mode == "offline" else licences.online
    files = _licence_files(licences, "sm2")
    now = dt.datetime.now(dt.UTC)
    rates = pair(benchmark, _warm(files, make(), now), _cold(files, make, now),
                 _raw_sm2_per_file(len(files), 3))
    _figures(figure, benchmark, f"Licence verification, SM2, {mode}", rates, N_LICENCES,
             "sealtrust warm", ["sealtrust cold", "raw SM2 verify (3 per licence)"])


def _raw_sm2_per_file(files: int, per_file: int) -> Callable[[], int]:
    inner = _raw_sm2(files * per_file)

    def batch() -> int:
        return inner() // per_file

    return batch


def test_licences_bulk_scaling(benchmark: Any, licences: Any, tmp_path_factory: Any,
                               pair: Any, figure: Any) -> None:
    """verify_files over BULK_COPIES x the SM2 corpus on disk: 2 worker processes against 1."""
    from verification import verify_files

    d = tmp_path_factory.mktemp("bulk")
    paths = []
    for copy in range(BULK_COPIES):  # copies keep the verdict path (caches are per key)
        for i, data in enumerate(_licence_files(licences, "sm2")):
            path = d / f"{copy}-{i}.pdf"
            path.write_bytes(data)
            paths.append(path)
    policy = licences.offline()
    now = dt.datetime.now(dt.UTC)

    def run(workers: int) -> Callable[[], int]:
        def batch() -> int:
            return sum(r.passed for r in verify_files(paths, policy, workers=workers, at=now))
        return batch

    rates = pair(benchmark, run(2), run(1), rounds=min(ROUNDS, 3))
    if rates:
        stat = (f"median of {min(ROUNDS, 3)} rounds of {len(paths)} files, wall clock, "
                "including process start-up")
        figure(benchmark, "Bulk verify_files, SM2 licences, offline", "2 processes",
               rates[0], "files/s", statistic=stat, reference="1 process",
               reference_value=rates[1][0])
