"""verify_pdf / judge / verify_files: facts once, then checks under a policy at a time."""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from functools import lru_cache, partial
from multiprocessing.context import BaseContext
from typing import TypeVar

from trust.errors import InputError
from trust.indications import Indication, SubIndication
from verification.certinfo import sha256_hex
from verification.checks import run_checks, verdict
from verification.extract import FactsPlan, extract_facts, finish_facts, plan_facts
from verification.facts import FileFacts
from verification.policy import VerificationPolicy
from verification.report import FileReport, SignatureReport
from verification.report_wire import pack_reports, unpack_reports
from verification.sm2_batch import verified_together
from verification.status import ChunkScope

__all__ = ["judge", "verify_files", "verify_pdf", "verify_pdfs"]

_T = TypeVar("_T")


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError("validation time must be timezone-aware", code="verification.naive_time")
    return at


def judge(facts: FileFacts, policy: VerificationPolicy, at: datetime | None = None) -> FileReport:
    """Apply a policy at a time to stored facts (no file access, no parsing)."""
    moment = _moment(at)
    unreadable = facts.format_error or (None if facts.signatures else "no signature found")
    if unreadable is not None:
        return FileReport(
            facts, moment, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, (), unreadable
        )
    reports = []
    # the licence a file carries: every signature of it is bound to its department
    licence = next((s.licence_id for s in facts.signatures
                    if s.kind == "signature" and s.licence_id is not None), None)
    last = max((i for i, s in enumerate(facts.signatures) if s.kind == "signature"), default=-1)
    for i, sig in enumerate(facts.signatures):
        checks, path = run_checks(sig, policy, moment, licence_id=licence, file_sm3=facts.sm3,
                                  last=i == last)
        indication, sub = verdict(checks)
        reports.append(SignatureReport(sig, checks, indication, sub, path))
    overall, sub = verdict(tuple(c for r in reports for c in r.checks))
    return FileReport(facts, moment, overall, sub, tuple(reports))


def _unread(name: str, reason: str, size: int = 0) -> FileFacts:
    """Facts of a file that was never parsed (missing, too large, timed out, crashed)."""
    return FileFacts(name=name, size=size, sha256="", parser="none", format_error=reason)


def verify_pdf(
    data: bytes, policy: VerificationPolicy, at: datetime | None = None, *, name: str = ""
) -> FileReport:
    """Verify every signature of one PDF. Bad input gives a FORMAT_FAILURE report, never a raise."""
    moment = _moment(at)
    facts = extract_facts(data, name=name, max_size=policy.max_file_size,
                          file_sm3=policy.licence_status.consults_registry)
    with _prefetched(policy, [facts], moment):  # one registry round trip, not three
        return judge(facts, policy, moment)


# ---------------------------------------------------------------- bulk
_worker_policy: VerificationPolicy | None = None


class _Timeout(BaseException):
    """Raised by SIGALRM inside a worker; a BaseException so no parser swallows it."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Timeout


def _init_worker(policy: VerificationPolicy, memory_limit: int | None) -> None:
    global _worker_policy
    _worker_policy = policy  # per-process: its validator caches stay warm across files
    if memory_limit is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, hard))
    signal.signal(signal.SIGALRM, _on_alarm)


def _verify_chunk(paths: list[str], at: datetime, timeout: float) -> bytes:
    """Several files per task (IPC per file costs more than a fast-path verification);
    each file is cut off after ``timeout`` seconds (FORMAT_FAILURE). The reports travel
    as one :func:`pack_reports` message (a third of the pickling work, each DER value
    once)."""
    assert _worker_policy is not None
    return pack_reports(_verify_batch(paths, _worker_policy, at, timeout))


def _limited(path: str, timeout: float | None, work: Callable[[], _T],
             late: Callable[[str], _T]) -> _T:
    """``work()``, or ``late(reason)`` when it runs past ``timeout`` seconds (workers only)."""
    if timeout is None:
        return work()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return work()
    except _Timeout:
        return late(f"verification exceeded {timeout} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


# bytes of planned files held at once while their signatures are gathered (memory bound)
_GATHER_BYTES = 32 * 1024 * 1024


def _verify_batch(paths: list[str], policy: VerificationPolicy, at: datetime,
                  timeout: float | None) -> list[FileReport]:
    """The facts of every file of a chunk -- the SM2 verifications of its licence-shaped
    PDFs and its OFD packages gathered and verified in one ``trust.sm2.verify_many``
    call -- then the status rows they need read at once (one registry statement for
    the chunk, not three per file), then each file judged."""
    facts: list[FileFacts | None] = []
    group: list[tuple[int, FactsPlan]] = []
    held = 0

    def flush() -> None:
        nonlocal held
        inputs = [i for _, plan in group for i in plan.signature_inputs()]
        with verified_together(inputs):
            for index, plan in group:
                name = plan.base.name
                facts[index] = _limited(name, timeout, partial(finish_facts, plan),
                                        partial(_unread, name))
        group.clear()
        held = 0

    for path in paths:
        planned = _limited(path, timeout, partial(_plan_one, path, policy),
                           partial(_unread, path))
        if isinstance(planned, FactsPlan) and not planned.gathers:  # nothing to gather
            planned = _limited(path, timeout, partial(finish_facts, planned),
                               partial(_unread, path))
        if isinstance(planned, FileFacts):
            facts.append(planned)
            continue
        group.append((len(facts), planned))
        facts.append(None)
        held += planned.held_bytes
        if held >= _GATHER_BYTES:
            flush()
    if group:
        flush()
    done = [f for f in facts if f is not None]
    assert len(done) == len(paths)

    def late(f: FileFacts, why: str) -> FileReport:
        return judge(_unread(f.name, why, f.size), policy, at)

    with _prefetched(policy, done, at):
        return [_limited(f.name, timeout, partial(judge, f, policy, at), partial(late, f))
                for f in done]


def _prefetched(policy: VerificationPolicy, facts: list[FileFacts],
                at: datetime) -> AbstractContextManager[None]:
    """The status source's chunk scope over what these files carry, when it has one."""
    # (a Protocol isinstance costs ~20 µs a file: look the method up instead)
    chunk: ChunkScope | None = getattr(policy.licence_status, "chunk", None)
    if chunk is None:
        return nullcontext()
    sigs = [s for f in facts for s in f.signatures]
    fingerprints = {sha256_hex(der)
                    for s in sigs for der in (s.signer_cert, *s.certificates) if der is not None}
    if fingerprints:
        # The deployment's issuing CAs too: a GB/T 38540 seal signature (OFD) carries only
        # the signer's certificate, so its CA's revocation row would cost a second read.
        fingerprints |= _known_fingerprints(policy.known_intermediates)
    return chunk(
        (s.licence_id for s in sigs if s.licence_id is not None),
        (s.seal for s in sigs if s.seal is not None),
        fingerprints,
        at)


@lru_cache(maxsize=8)
def _known_fingerprints(known: frozenset[bytes]) -> frozenset[str]:
    """SHA-256 (hex) of each known intermediate, once per policy's set."""
    return frozenset(sha256_hex(der) for der in known)


def _plan_one(path: str, policy: VerificationPolicy) -> FactsPlan | FileFacts:
    """Read one file and parse it (facts of an unreadable file at once); named by the path
    as given."""
    try:  # (unbuffered: one stat and one copy of the file, not two of each)
        with open(path, "rb", buffering=0) as file:
            size = os.fstat(file.fileno()).st_size
            if size > policy.max_file_size:
                reason = f"file of {size} bytes exceeds the {policy.max_file_size}-byte limit"
                return _unread(path, reason, size)
            data = file.read()
    except OSError as exc:
        return _unread(path, f"cannot read file: {exc.strerror}")
    return plan_facts(data, name=path, max_size=policy.max_file_size,
                      file_sm3=policy.licence_status.consults_registry)


def _facts_one(path: str, policy: VerificationPolicy) -> FileFacts:
    """Read one file and extract its facts; the facts are named by the path as given."""
    planned = _plan_one(path, policy)
    return planned if isinstance(planned, FileFacts) else finish_facts(planned)


def _verify_one(path: str, policy: VerificationPolicy, at: datetime) -> FileReport:
    """Read and verify one file; the report is named by the path as given."""
    return judge(_facts_one(path, policy), policy, at)


def verify_files(
    paths: Iterable[str | os.PathLike[str]],
    policy: VerificationPolicy,
    workers: int = 1,
    at: datetime | None = None,
    *,
    chunk: int = 32,
    max_pending: int = 64,
    timeout: float = 30.0,
    memory_limit: int | None = 3 * 1024**3,
) -> Iterator[FileReport]:
    """Reports as they finish (not in input order), over ``workers`` processes.

    The policy is sent to each worker once; its caches are per process. Files
    travel in tasks of ``chunk`` paths and at most ``max_pending`` tasks are in
    flight, so memory stays bounded for any number of paths. In worker
    processes each file gets ``timeout`` seconds and each worker an
    address-space limit of ``memory_limit`` bytes; a file that hits either is
    reported as FORMAT_FAILURE and the batch goes on. The last files go in
    smaller tasks, so that the workers finish together. ``workers=1`` runs in
    this process, without those two limits, in chunks of ``chunk`` files too.
    Per chunk the SM2 verifications are batched and the registry is read once:
    a status change made during a run is seen from the next chunk on.
    """
    moment = _moment(at)
    if workers <= 1:
        batch: list[str] = []
        for p in paths:
            batch.append(os.fspath(p))
            if len(batch) >= chunk:
                yield from _verify_batch(batch, policy, moment, None)
                batch = []
        if batch:
            yield from _verify_batch(batch, policy, moment, None)
        return
    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=_pool_context(),
                                   initializer=_init_worker, initargs=(policy, memory_limit))

    pool = new_pool()
    pending: dict[Future[bytes], list[str]] = {}

    def submit(batch: list[str]) -> None:
        nonlocal pool
        try:
            pending[pool.submit(_verify_chunk, batch, moment, timeout)] = batch
        except BrokenProcessPool:
            # A worker died (a file past the memory limit, a crash in a library): its
            # chunks in flight fail closed in _collect, and the files still to come go
            # to a fresh pool instead of raising out of the run or failing unverified.
            pool.shutdown(wait=False)  # its futures have already failed
            pool = new_pool()
            pending[pool.submit(_verify_chunk, batch, moment, timeout)] = batch

    try:
        chunk = max(chunk, 1)
        held: list[str] = []  # the last workers + 1 chunks' files, for _tail
        for p in paths:
            held.append(os.fspath(p))
            if len(held) >= chunk * (workers + 1):
                batch = held[:chunk]
                del held[:chunk]
                submit(batch)
                if len(pending) >= max_pending:
                    yield from _collect(pending, policy, moment)
        for batch in _tail(held, chunk, workers):
            submit(batch)
        while pending:
            yield from _collect(pending, policy, moment)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _tail(paths: list[str], chunk: int, workers: int) -> Iterator[list[str]]:
    """The last files of a run in tasks of about a quarter chunk, so that the workers
    finish within a short task of each other: with whole chunks to the end, one worker
    sat idle for up to a chunk's time (~40 ms for 32 licences) while the other finished
    the last one -- ~3% of a 400-file run on 2 processes."""
    size = min(chunk, max(-(-len(paths) // (4 * workers)), min(chunk, 4)))
    for start in range(0, len(paths), size):
        yield paths[start:start + size]


def _pool_context() -> BaseContext | None:
    """Forked workers where the platform forks, whatever the process default is.

    A forked worker starts with the parent's imports and warm caches (the validator,
    parsed certificates and seals) in ~5 ms; spawn and forkserver (Python 3.14's default
    on Linux) import everything again (~0.7 s CPU a worker) and warm their caches anew.
    The bulk engine is run by single-threaded callers (the CLI), so forking is safe.
    """
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None


def _collect(
    pending: dict[Future[bytes], list[str]], policy: VerificationPolicy, at: datetime
) -> Iterator[FileReport]:
    """Yield finished reports; a crashed worker becomes FORMAT_FAILURE for its files."""
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    for future in done:
        batch = pending.pop(future)
        try:
            reports = unpack_reports(future.result())
        except Exception as exc:  # noqa: BLE001  (e.g. a worker killed by the memory limit)
            reason = f"worker failed: {type(exc).__name__}"
            reports = [judge(_unread(path, reason), policy, at) for path in batch]
        yield from reports


# ---------------------------------------------------------------- a few files in memory
def verify_pdfs(files: Sequence[tuple[str, bytes]], policy: VerificationPolicy,
                at: datetime | None = None) -> list[FileReport]:
    """:func:`verify_pdf` of each ``(name, data)``, in order, judged as one bulk chunk.

    The counter's fill verifies the few files of one grant: as in a bulk chunk,
    their SM2 verifications go through one ``trust.sm2.verify_many`` call and the
    status rows they need are read in one registry statement, with the same
    reports as :func:`verify_pdf` file by file. All files are held at once: the
    caller bounds how many (no timeouts, in this process).
    """
    moment = _moment(at)
    file_sm3 = policy.licence_status.consults_registry
    plans = [plan_facts(data, name=name, max_size=policy.max_file_size, file_sm3=file_sm3)
             for name, data in files]
    with verified_together(i for plan in plans for i in plan.signature_inputs()):
        facts = [finish_facts(plan) for plan in plans]
    with _prefetched(policy, facts, moment):
        return [judge(f, policy, moment) for f in facts]
