"""Issue 15, bulk on 2 processes: what a worker sends back costs the parent less, and the
reports stay the same.

The worker's reports travel as one packed message per chunk (verification/report_wire.py):
each DER value a department's licences repeat (certificates, the ~14 KB seal) and each
repeated check once. The reports themselves are compared with the one-process reports
as JSON, byte for byte, on the whole mixed corpus in tests/test_verify_bulk_batched.py
(workers=2, in tasks of 4 files and of up to 64).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import pytest

from tests.licence_corpus import Licences, open_licences
from trust.indications import Indication, SubIndication
from verification import FileReport, engine, verify_files
from verification.report_wire import pack_reports, unpack_reports

N = 8


@pytest.fixture(scope="module")
def licences(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Licences, list[Path]]]:
    """N SM2 licences of one department on disk."""
    root = tmp_path_factory.mktemp("wire")
    for lic in open_licences(root / "home"):
        paths = []
        for i in range(N):
            path = root / f"sm2_{i}.pdf"
            path.write_bytes(lic.issue(f"sm2_{i}", "sm2", number=i + 1))
            paths.append(path)
        yield lic, paths


def _der_values(report: FileReport) -> list[bytes]:
    (sig,) = report.facts.signatures
    assert sig.signer_cert is not None and sig.seal_der is not None
    assert sig.tsa_cert is not None
    return [sig.signer_cert, sig.seal_der, sig.tsa_cert, *sig.certificates,
            *sig.tsa_certificates, *report.signatures[0].chain]


def test_a_chunk_message_is_a_fraction_of_its_pickled_reports(
    licences: tuple[Licences, list[Path]]
) -> None:
    """What a worker returns for a chunk of one department's licences, as the executor
    pickles it: at most a quarter of the reports' own pickle (each ~14 KB seal and every
    certificate went once per licence), and the same reports once unpacked."""
    lic, paths = licences
    policy, at = lic.offline(), datetime.now(UTC)
    names = [str(p) for p in paths]
    reports = engine._verify_batch(names, policy, at, None)
    before = signal.getsignal(signal.SIGALRM)
    try:
        engine._init_worker(policy, None)
        message = engine._verify_chunk(names, at, 30.0)
    finally:
        engine._worker_policy = None
        signal.signal(signal.SIGALRM, before)
    sent = len(ForkingPickler.dumps(message))
    reports_size = len(ForkingPickler.dumps(reports))
    assert sent <= reports_size // 4, (sent, reports_size)
    assert isinstance(message, bytes)
    assert [r.to_json() for r in unpack_reports(message)] == [r.to_json() for r in reports]
    assert unpack_reports(message) == reports  # field by field, not only the JSON


def test_reports_from_workers_share_each_der_value_and_check(
    licences: tuple[Licences, list[Path]]
) -> None:
    """In the parent, the licences of one task hold one object per DER value (memory
    held by a caller keeping reports) and per repeated check."""
    lic, paths = licences
    reports = list(verify_files(paths, lic.offline(), workers=2, chunk=N))
    assert len(reports) == N and all(r.passed for r in reports)
    columns = list(zip(*(_der_values(r) for r in reports), strict=True))
    for column in columns:
        assert len(set(column)) == 1  # the same value in every licence of the department
        assert len({id(v) for v in column}) <= N // 4  # one per task (the run's last files
        # go in tasks of 4, see test_the_last_files_go_in_smaller_tasks)
    checks = [c for r in reports for s in r.signatures for c in s.checks]
    assert len({id(c) for c in checks}) < len(checks) // 2


def test_a_message_shares_equal_values_and_keeps_unequal_ones_apart() -> None:
    """Sharing is by equality: values of the same length and ends stay apart, and every
    report comes back equal to what was packed."""
    from dataclasses import replace

    from trust.indications import Check
    from verification.facts import FileFacts, SignatureFacts
    from verification.report import SignatureReport

    a, b = b"\x30" + b"a" * 100 + b"\x01", b"\x30" + b"b" * 100 + b"\x01"
    sig = SignatureFacts(signer_cert=a, certificates=(a, b), seal_der=b, tsa_cert=a)
    check = Check("integrity", Indication.TOTAL_PASSED, None, "ok")
    facts = FileFacts(name="x", size=1, sha256="", parser="fast", signatures=(sig,))
    at = datetime.now(UTC)
    report = FileReport(facts, at, Indication.TOTAL_PASSED, None,
                        (SignatureReport(sig, (check, check), Indication.TOTAL_PASSED, None,
                                         (b, a)),))
    other = replace(report, facts=replace(facts, name="y"))
    back = unpack_reports(pack_reports([report, other]))
    assert back == [report, other]
    got = back[0].facts.signatures[0]
    assert got.certificates == (a, b) and got.seal_der == b and back[0].signatures[0].chain == (b, a)
    assert got.signer_cert is got.certificates[0] is got.tsa_cert
    assert back[1].facts.signatures[0].seal_der is got.seal_der


def test_the_pool_forks_whatever_the_default_start_method(
    licences: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers are forked (the parent's imports and warm caches), also where the process
    default is spawn or forkserver (Python 3.14 on Linux): ~0.7 s of imports a worker."""
    lic, paths = licences
    used: list[Any] = []

    class Recording(ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            used.append(kwargs.get("mp_context"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(engine, "ProcessPoolExecutor", Recording)
    assert all(r.passed for r in verify_files(paths[:2], lic.offline(), workers=2))
    assert used and used[0] is not None and used[0].get_start_method() == "fork"


class _Recording(ProcessPoolExecutor):
    """The pool, noting the size of each task the engine sends."""

    sizes: list[int] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], list):
            _Recording.sizes.append(len(args[0]))
        return super().submit(fn, *args, **kwargs)


def test_the_last_files_go_in_smaller_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, licences: tuple[Licences, list[Path]]
) -> None:
    """With whole chunks to the end one worker sat idle for up to a chunk's time while
    the other finished the last one: the tasks after the last whole chunk hold at most
    half a chunk each and together at least a chunk per worker."""
    lic, _ = licences
    monkeypatch.setattr(engine, "ProcessPoolExecutor", _Recording)
    monkeypatch.setattr(_Recording, "sizes", [])
    chunk, workers = 16, 2
    paths = [tmp_path / f"missing-{i}.pdf" for i in range(10 * chunk)]  # quick reports
    reports = list(verify_files(paths, lic.offline(), workers=workers, chunk=chunk))
    assert sorted(r.facts.name for r in reports) == sorted(str(p) for p in paths)
    assert all("cannot read file" in (r.facts.format_error or "") for r in reports)
    sizes = _Recording.sizes
    assert sum(sizes) == len(paths) and max(sizes) <= chunk
    last_whole = max(i for i, n in enumerate(sizes) if n == chunk)
    tail = sizes[last_whole + 1:]
    assert tail and max(tail) <= chunk // 2 and sum(tail) >= workers * chunk, sizes


def _dies_on_crash(batch: Any) -> Any:
    def run(paths: list[str], *args: Any) -> list[FileReport]:
        if any("crash" in p for p in paths):
            os._exit(3)  # a worker killed mid-chunk (OOM killer, segfault in a library)
        result: list[FileReport] = batch(paths, *args)
        return result
    return run


def test_a_worker_that_dies_fails_its_files_closed(
    licences: tuple[Licences, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lic, paths = licences
    crash = tmp_path / "crash.pdf"
    crash.write_bytes(paths[0].read_bytes())
    monkeypatch.setattr(engine, "_verify_batch", _dies_on_crash(engine._verify_batch))
    files = [crash, *paths[:3]]
    reports = {r.facts.name: r for r in verify_files(files, lic.offline(), workers=2, chunk=1)}
    assert set(reports) == {str(p) for p in files}
    failed = reports[str(crash)]
    assert failed.indication is Indication.TOTAL_FAILED
    assert failed.sub_indication is SubIndication.FORMAT_FAILURE
    assert "worker failed" in failed.detail
    for report in reports.values():  # the others: verified, or failed closed with the pool
        assert report.passed or report.sub_indication is SubIndication.FORMAT_FAILURE


def test_a_message_the_parent_cannot_read_fails_its_files_closed(
    licences: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lic, paths = licences
    monkeypatch.setattr(engine, "pack_reports", lambda reports: b"\x80\x05garbage")
    reports = list(verify_files(paths[:3], lic.offline(), workers=2, chunk=2))
    assert sorted(r.facts.name for r in reports) == sorted(str(p) for p in paths[:3])
    for report in reports:
        assert report.sub_indication is SubIndication.FORMAT_FAILURE
        assert "worker failed" in report.detail


def test_a_chunk_of_zero_still_sends_every_file_once(
    tmp_path: Path, licences: tuple[Licences, list[Path]]
) -> None:
    lic, _ = licences
    paths = [tmp_path / f"missing-{i}.pdf" for i in range(5)]
    reports = list(verify_files(paths, lic.offline(), workers=2, chunk=0))
    assert sorted(r.facts.name for r in reports) == sorted(str(p) for p in paths)


def test_files_after_a_dead_worker_are_still_verified(
    licences: tuple[Licences, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies breaks its pool; the run used to raise BrokenProcessPool out of
    verify_files at the next submission, leaving every later file without a report. Now
    the chunks in flight fail closed and the files still to come go to a fresh pool."""
    lic, paths = licences
    crash = tmp_path / "crash.pdf"
    crash.write_bytes(paths[0].read_bytes())
    monkeypatch.setattr(engine, "_verify_batch", _dies_on_crash(engine._verify_batch))
    later = [tmp_path / f"later-{i}.pdf" for i in range(24)]
    for i, path in enumerate(later):
        path.write_bytes(paths[i % len(paths)].read_bytes())
    files = [crash, *later]
    reports = {r.facts.name: r for r in verify_files(files, lic.offline(), workers=2, chunk=1,
                                                     max_pending=2)}
    assert set(reports) == {str(p) for p in files}
    assert "worker failed" in reports[str(crash)].detail
    for report in reports.values():
        assert report.passed or report.sub_indication is SubIndication.FORMAT_FAILURE
    assert all(reports[str(p)].passed for p in later[-8:])  # verified by the fresh pool
