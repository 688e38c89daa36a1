"""Batch issuance: JSON lines in, sealed PDFs out, in parallel processes, resumable.

The runner knows nothing about deployments: it is given a picklable worker
initializer and a per-item function (``api.issuance`` provides both), reads
the input lazily, and keeps a manifest (``issued.jsonl`` in the output
directory) of every line done, so a re-run skips them. A bad line is reported
with its number and error and never stops the others. Duplicate work after a
crash between sealing and the manifest write is harmless: each line carries an
idempotency key, so the registry returns the licence already issued.

Workers get lines in chunks of ``CHUNK`` and commit a chunk in one
transaction (one signed audit head per chunk, not per licence); results come
back, and reach the manifest, only after that commit.

Never a hang: workers run in a ``ProcessPoolExecutor``, which notices a
worker that died (SIGKILL, OOM, a crash in native code) and fails every
pending chunk, where ``multiprocessing.Pool`` would wait forever for the lost
chunk. A dead worker or an exception escaping ``work`` ends the run with
:class:`BatchWorkerError` (exit 2 from the CLI, with the reason); the
manifest keeps every committed line, so running the command again resumes.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from trust.errors import SealTrustError

MANIFEST: Final = "issued.jsonl"
ERRORS: Final = "errors.jsonl"
MAX_LINE: Final = 1024 * 1024
CHUNK: Final = 32


class BatchWorkerError(SealTrustError):
    """A worker died or ``work`` raised: the run stopped; running it again resumes."""

    code = "batch.worker_failed"


@dataclass(frozen=True)
class BatchItem:
    """One input line (1-based number) and its raw text."""

    line: int
    text: str


@dataclass(frozen=True)
class ItemResult:
    """What happened to one line."""

    line: int
    ok: bool
    licence_id: str | None = None
    file: str | None = None
    error_code: str | None = None
    error: str | None = None
    reused: bool = False


@dataclass
class BatchSummary:
    """Counts for the end-of-run report."""

    total: int = 0
    issued: int = 0
    skipped: int = 0
    failed: int = 0
    reused: int = 0
    errors: list[ItemResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "issued": self.issued, "skipped": self.skipped,
                "failed": self.failed, "reused": self.reused,
                "errors": [asdict(e) for e in self.errors[:100]]}


def _done_lines(out_dir: Path) -> set[int]:
    manifest = out_dir / MANIFEST
    done: set[int] = set()
    if not manifest.exists():
        return done
    for raw in manifest.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # a torn last line from a crash: that record is simply redone
        if isinstance(entry, dict) and entry.get("ok") and (out_dir / Path(
                str(entry.get("file", ""))).name).exists():
            done.add(int(entry["line"]))
    return done


def read_items(source: TextIO, skip: set[int]) -> Iterator[BatchItem]:
    """Non-empty lines not yet done, numbered from 1; over-long lines become errors later."""
    for number, text in enumerate(source, start=1):
        if number in skip:
            continue
        stripped = text.strip()
        if stripped:
            yield BatchItem(number, stripped[: MAX_LINE + 1])


def chunked(items: Iterable[BatchItem], size: int) -> Iterator[list[BatchItem]]:
    """Consecutive lists of at most ``size`` items (the unit of one commit)."""
    chunk: list[BatchItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for raw in fh if raw.strip())


def run_batch(
    records: Path,
    out_dir: Path,
    *,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    work: Callable[[Sequence[BatchItem]], list[ItemResult]],
    workers: int = 1,
    on_result: Callable[[ItemResult], None] | None = None,
    chunk: int = CHUNK,
) -> BatchSummary:
    """Issue every pending line of ``records`` into ``out_dir``; see the module docstring."""
    out_dir.mkdir(parents=True, exist_ok=True)
    done = _done_lines(out_dir)
    summary = BatchSummary(total=count_lines(records), skipped=len(done))
    with records.open(encoding="utf-8", errors="replace") as source, \
            (out_dir / MANIFEST).open("a", encoding="utf-8") as manifest, \
            (out_dir / ERRORS).open("a", encoding="utf-8") as errors:
        chunks = chunked(read_items(source, done), max(1, chunk))
        if workers <= 1:
            initializer(*initargs)
            try:
                _drain(map(work, chunks), summary, manifest, errors, on_result)
            except SealTrustError:
                raise
            except Exception as exc:
                raise _failed(exc) from exc
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=initializer,
                                     initargs=initargs) as pool:
                _drain(_unordered(pool, work, chunks, workers * 2), summary, manifest, errors,
                       on_result)
    return summary


def _failed(exc: Exception) -> BatchWorkerError:
    # The type only: an exception's text may quote a record (personal data).
    return BatchWorkerError(f"a worker failed with {type(exc).__name__}; lines done so far "
                            "are in the manifest: run the same command again to resume")


def _unordered(pool: ProcessPoolExecutor, work: Callable[[Sequence[BatchItem]], list[ItemResult]],
               chunks: Iterator[list[BatchItem]], in_flight: int) -> Iterator[list[ItemResult]]:
    """Results as chunks finish, at most ``in_flight`` submitted (the input stays lazy).

    Threat (availability): a worker killed mid-chunk must end the run with a
    reason, not leave it waiting forever for a result that will never come.
    """
    pending: set[Future[list[ItemResult]]] = set()
    try:
        while True:
            while len(pending) < in_flight:
                chunk = next(chunks, None)
                if chunk is None:
                    break
                pending.add(pool.submit(work, chunk))
            if not pending:
                return
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    except BrokenProcessPool:
        raise BatchWorkerError(
            "a worker process died (killed or crashed); the lines it held were not "
            "recorded: run the same command again to resume") from None
    except SealTrustError:
        raise
    except Exception as exc:
        raise _failed(exc) from exc
    finally:
        for future in pending:
            future.cancel()


def _drain(chunks: Iterator[list[ItemResult]], summary: BatchSummary, manifest: TextIO,
           errors: TextIO, on_result: Callable[[ItemResult], None] | None) -> None:
    for result in (r for results in chunks for r in results):
        line = json.dumps(asdict(result), ensure_ascii=False) + "\n"
        if result.ok:
            summary.issued += 1
            summary.reused += int(result.reused)
            manifest.write(line)
            manifest.flush()
        else:
            summary.failed += 1
            summary.errors.append(result)
            errors.write(line)
            errors.flush()
        if on_result is not None:
            on_result(result)
