"""PDF verification throughput: SealTrust's verifier vs pyHanko's validate_pdf_signature.

Run: .venv/bin/python -m pytest benchmarks/bench_verify.py --benchmark-only
Each round verifies the whole corpus of N_FILES one-page licences (same
signer, as in a real batch); files/s = N_FILES / mean round time. Both
verifiers check integrity, signature and chain at the same time and return
the same verdict on every file (tests/test_verify_pdf.py checks that).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

import pytest
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the corpus lives in tests/
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


_FILES_PER_S: dict[str, float] = {}


def _record(name: str, benchmark, ops_per_second, summary) -> None:
    ops = ops_per_second(benchmark)
    if ops is None:
        return
    _FILES_PER_S[name] = ops * N_FILES
    summary(f"PDF verification {name}: {_FILES_PER_S[name]:,.0f} files/s (1 core)")
    if name == "pyhanko_rsa" and "sealtrust_rsa" in _FILES_PER_S:
        ratio = _FILES_PER_S["sealtrust_rsa"] / _FILES_PER_S["pyhanko_rsa"]
        summary(f"PDF verification sealtrust / pyHanko (RSA): {ratio:.1f}x")
        benchmark.extra_info["ratio_vs_pyhanko"] = ratio


def test_sealtrust_rsa(benchmark, rsa_corpus, ops_per_second, summary) -> None:
    pki, files = rsa_corpus
    policy = _policy(pki.root_der)

    def run() -> int:
        return sum(verify_pdf(f, policy, AT).passed for f in files)

    assert benchmark(run) == N_FILES
    benchmark.extra_info["files_per_round"] = N_FILES
    _record("sealtrust_rsa", benchmark, ops_per_second, summary)


def test_pyhanko_rsa(benchmark, rsa_corpus, ops_per_second, summary) -> None:
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
    _record("pyhanko_rsa", benchmark, ops_per_second, summary)


def test_sealtrust_sm2(benchmark, sm2_corpus, ops_per_second, summary) -> None:
    pki, files = sm2_corpus
    policy = _policy(pki.root_der)

    def run() -> int:
        return sum(verify_pdf(f, policy, AT).passed for f in files)

    assert benchmark(run) == N_FILES
    benchmark.extra_info["files_per_round"] = N_FILES
    _record("sealtrust_sm2", benchmark, ops_per_second, summary)


def test_sealtrust_rsa_full_path(benchmark, rsa_corpus, ops_per_second, summary) -> None:
    """The same files forced through the full analysis (what the fast path saves)."""
    from verification import extract_facts, judge

    pki, files = rsa_corpus
    policy = _policy(pki.root_der)

    def run() -> int:
        return sum(judge(extract_facts(f, allow_fast=False), policy, AT).passed for f in files)

    assert benchmark(run) == N_FILES
    benchmark.extra_info["files_per_round"] = N_FILES
    _record("sealtrust_rsa_full_path", benchmark, ops_per_second, summary)


@pytest.fixture(scope="module")
def own_sm2_corpus():
    """Licences as signing.pdf seals them: SM2, B-T with the built-in TSA."""
    from signing.pdf import seal_pdf
    from signing.tsa import BuiltinTSA, InProcessTimeStamper
    from tests.sign_certs import pki, sample_pdf

    p = pki("sm2")
    tsa = InProcessTimeStamper(
        BuiltinTSA(p.tsa.key, p.tsa.chain, "1.2.156.999.1.1", lambda: dt.datetime.now(dt.UTC))
    )
    files = [
        seal_pdf(sample_pdf(), p.signer.key, list(p.signer.chain), timestamper=tsa)
        for _ in range(N_FILES)
    ]
    return p.root.chain[-1], files


def test_sealtrust_sm2_own_signer(benchmark, own_sm2_corpus, ops_per_second, summary) -> None:
    root, files = own_sm2_corpus
    policy = _policy(root)
    now = dt.datetime.now(dt.UTC)

    def run() -> int:
        return sum(verify_pdf(f, policy, now).passed for f in files)

    assert benchmark(run) == N_FILES
    benchmark.extra_info["files_per_round"] = N_FILES
    _record("sealtrust_sm2_own_signer", benchmark, ops_per_second, summary)


# ---------------------------------------------------------------- real licences
# Licences issued by api.issuance.issue_one in a temporary deployment: SM2 or RSA
# signature, B-T time-stamp from the built-in TSA, bound GB/T 38540 seal and
# licence id. Our verifier runs every check (time-stamp + TSA chain, signer
# chain, seal, licence status, revocation) with the deployment policy; pyHanko
# checks integrity, signature, chain and its time-stamp (it knows nothing of
# seals or licence status). Verdicts agree on a mixed corpus:
# tests/test_verify_licences.py.
N_LICENCES = 40


@pytest.fixture(scope="module")
def licences(tmp_path_factory):
    from tests.licence_corpus import open_licences

    gen = open_licences(tmp_path_factory.mktemp("bench-licences") / "home")
    lic = next(gen)
    for i in range(N_LICENCES):
        lic.issue(f"rsa{i}", "rsa", number=i + 1)
        lic.issue(f"sm2{i}", "sm2", number=i + 1)
    yield lic
    gen.close()


def _licence_files(lic, alg: str) -> list[bytes]:
    return [lic.pdfs[f"{alg}{i}"] for i in range(N_LICENCES)]


def _record_licences(name: str, benchmark, ops_per_second, summary) -> float | None:
    ops = ops_per_second(benchmark)
    if ops is None:
        return None
    rate = _FILES_PER_S[name] = ops * N_LICENCES
    summary(f"Licence verification {name}: {rate:,.0f} licences/s (1 core)")
    return rate


@pytest.mark.parametrize("mode", ["online"])  # the exported trust list lists no RSA root yet
def test_licences_sealtrust_rsa(benchmark, licences, mode, ops_per_second, summary) -> None:
    policy = licences.offline() if mode == "offline" else licences.online()
    files = _licence_files(licences, "rsa")
    now = dt.datetime.now(dt.UTC)

    def run() -> int:
        return sum(verify_pdf(f, policy, now).passed for f in files)

    assert benchmark(run) == N_LICENCES
    _record_licences(f"sealtrust_rsa_{mode}", benchmark, ops_per_second, summary)


def test_licences_pyhanko_rsa(benchmark, licences, ops_per_second, summary) -> None:
    from asn1crypto import x509

    root = x509.Certificate.load(licences.deployment.certificate("rsa-root").der)
    files = _licence_files(licences, "rsa")

    def run() -> int:
        ok = 0
        for f in files:
            context = ValidationContext(trust_roots=[root], allow_fetching=False)
            status = validate_pdf_signature(corpus.open_pyhanko(f).embedded_signatures[0], context)
            ok += bool(status.bottom_line)
        return ok

    assert benchmark(run) == N_LICENCES
    rate = _record_licences("pyhanko_rsa", benchmark, ops_per_second, summary)
    ours = _FILES_PER_S.get("sealtrust_rsa_online")
    if rate and ours:
        summary(f"Licence verification sealtrust (online) / pyHanko, RSA: {ours / rate:.1f}x")


@pytest.mark.parametrize("mode", ["offline", "online"])
def test_licences_sealtrust_sm2(benchmark, licences, mode, ops_per_second, summary) -> None:
    policy = licences.offline() if mode == "offline" else licences.online()
    files = _licence_files(licences, "sm2")
    now = dt.datetime.now(dt.UTC)

    def run() -> int:
        return sum(verify_pdf(f, policy, now).passed for f in files)

    assert benchmark(run) == N_LICENCES
    _record_licences(f"sealtrust_sm2_{mode}", benchmark, ops_per_second, summary)


def test_raw_sm2_verify(benchmark, ops_per_second, summary) -> None:
    """The floor: one SM2 verify through trust.keys (OpenSSL libcrypto), same process."""
    from trust import oids
    from trust.keys import SoftwareKey, verify_signature

    key = SoftwareKey.generate("sm2")
    spki, message = key.public_key_der(), b"x" * 200
    signature = key.sign(message)

    assert benchmark(verify_signature, spki, oids.SM2_WITH_SM3, message, signature)
    ops = ops_per_second(benchmark)
    if ops:
        summary(f"Raw SM2 verify (trust.keys / libcrypto): {ops:,.0f} verifies/s (1 core)")
        ours = _FILES_PER_S.get("sealtrust_sm2_offline")
        if ours:
            summary(f"SM2 licences per raw SM2 verify: {ours / ops:.2f}")


@pytest.mark.parametrize("workers", [1, 2])
def test_licences_bulk_scaling(benchmark, licences, workers, tmp_path_factory, summary,
                               ops_per_second) -> None:
    """verify_files over 50x the SM2 corpus (2,000 files) on disk, 1 and 2 worker processes."""
    from verification import verify_files

    d = tmp_path_factory.mktemp(f"bulk{workers}")
    paths = []
    for copy in range(50):  # 2,000 files: copies keep the verdict path (caches are per key)
        for i, data in enumerate(_licence_files(licences, "sm2")):
            path = d / f"{copy}-{i}.pdf"
            path.write_bytes(data)
            paths.append(path)
    policy = licences.offline()
    now = dt.datetime.now(dt.UTC)

    def run() -> int:
        return sum(r.passed for r in verify_files(paths, policy, workers=workers, at=now))

    assert benchmark.pedantic(run, rounds=3, iterations=1) == len(paths)
    ops = ops_per_second(benchmark)
    if ops:
        rate = _FILES_PER_S[f"bulk_{workers}"] = ops * len(paths)
        summary(f"Bulk verify_files, {workers} process(es): {rate:,.0f} SM2 licences/s")
        if workers == 2 and "bulk_1" in _FILES_PER_S:
            summary(f"Bulk scaling 1 -> 2 processes: {rate / _FILES_PER_S['bulk_1']:.2f}x")
