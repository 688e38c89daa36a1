"""The tamper-evident audit log: append-only entries, signed tree heads, proofs.

Every seal, key, issuance, status change, grant and redemption is appended in
the same database transaction as the change itself. Entries are canonical
JSON; their RFC 6962 leaf hashes form a Merkle tree (``trust.merkle``) whose
head is signed (SM2 by default). :func:`verify_log` detects edited, deleted,
reordered and truncated entries against the signed heads.

When heads are signed is a :class:`HeadPolicy`. One-shot processes (the CLI,
batch chunks) sign before they commit. The service defers: a
:class:`HeadSchedule` keeps, in memory, what this process committed without a
head, a transaction signs only once ``max_pending`` entries wait, and a
:class:`HeadFlusher` thread signs one head at most ``interval_s`` after an
entry committed, and a last one when the process stops. An entry is
tamper-evident once a signed head covers it, so ``interval_s`` is the log's
maximum merge delay (as in Certificate Transparency).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, insert, select
from sqlalchemy.orm import Session, SessionTransaction

from trust import merkle
from trust.errors import InputError, NotFoundError
from trust.keys import SigningKey, signature_algorithm_oid, verify_signature
from trust.registry.db import conflict_insert, next_value
from trust.registry.models import AuditEntry, TreeHead

__all__ = [
    "Checkpoint",
    "HeadFlusher",
    "HeadPolicy",
    "HeadSchedule",
    "LogCheck",
    "append",
    "check_checkpoint",
    "consistency",
    "entry_fields",
    "inclusion",
    "latest_head",
    "sign_head",
    "sign_pending",
    "verify_log",
]

LOG_ID = "sealtrust-audit-v1"
# session.info: (last seq, entry count) appended in this transaction and awaiting a head.
PENDING_HEAD = "sealtrust.audit.pending_head"
_ON_COMMIT = "sealtrust.audit.on_commit"  # session.info: callbacks once the transaction commits
_COUNTER = "audit"
log = logging.getLogger(__name__)

_ENTRIES = cast(Table, AuditEntry.__table__)
_HEADS = cast(Table, TreeHead.__table__)
# Prebuilt Core statements: no unit of work, and SQLAlchemy memoises their cache keys.
_INSERT_ENTRY = insert(_ENTRIES)
_LATEST_HEAD = select(_HEADS).order_by(_HEADS.c.size.desc()).limit(1)
_LEAVES_AFTER = select(_ENTRIES.c.seq, _ENTRIES.c.leaf_hash).where(
    _ENTRIES.c.seq > bindparam("size")).order_by(_ENTRIES.c.seq)
_STORED_HEAD = select(_HEADS).where(_HEADS.c.size == bindparam("size"))


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise InputError("audit times must be timezone-aware")
    return at


def canonical(document: Mapping[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 — the bytes that are hashed."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def append(
    session: Session,
    *,
    kind: str,
    actor: str,
    subject: str,
    at: datetime,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry in the caller's transaction (so it commits with the change).

    Returns its sequence number. Pending ORM changes are flushed first, so the
    entry follows the rows it describes, as it always has.
    """
    session.flush()
    seq = next_value(session, _COUNTER)
    body = canonical({"seq": seq, "at": _aware(at).isoformat(), "kind": kind, "actor": actor,
                      "subject": subject, "details": dict(details or {})})
    session.connection().execute(_INSERT_ENTRY, {
        "seq": seq, "at": at, "kind": kind, "actor": actor, "subject": subject,
        "canonical": body, "leaf_hash": merkle.leaf_hash(body)})
    _, count = session.info.get(PENDING_HEAD, (0, 0))
    session.info[PENDING_HEAD] = (seq, count + 1)
    return seq


def _leaves(session: Session, size: int | None = None) -> list[bytes]:
    stmt = select(AuditEntry.leaf_hash).order_by(AuditEntry.seq)
    if size is not None:
        stmt = stmt.where(AuditEntry.seq <= size)
    return [bytes(h) for h in session.execute(stmt).scalars()]


def _head_bytes(size: int, root_hash: bytes, at: datetime) -> bytes:
    return canonical({"log": LOG_ID, "size": size, "root": root_hash.hex(),
                      "at": _aware(at).isoformat()})


def sign_head(session: Session, key: SigningKey, at: datetime) -> TreeHead:
    """Sign the current tree head (returning the latest when nothing was added).

    Incremental: starts from the previous head's frontier and reads only the
    entries appended since, so a head costs O(new entries), not O(log size).
    Only the contiguous prefix is covered: a concurrent transaction may still
    hold a gap in the sequence numbers. Another process may sign the same
    size at the same time (service flushers, a CLI command): both heads sign
    the same root, so the second insert is skipped and the stored head
    returned. The result is a detached row.
    """
    connection = session.connection()
    latest = connection.execute(_LATEST_HEAD).first()
    size = latest.size if latest is not None else 0
    frontier = _split_frontier(latest.frontier) if latest is not None else []
    for seq, leaf in connection.execute(_LEAVES_AFTER, {"size": size}).all():
        if seq != size + 1:
            break
        frontier = merkle.frontier_append(frontier, size, bytes(leaf))
        size += 1
    if latest is not None and latest.size >= size:
        return TreeHead(**latest._mapping)
    root_hash = merkle.frontier_root(frontier)
    signed = _head_bytes(size, root_hash, at)
    row = {"size": size, "root_hash": root_hash, "at": at, "signed_bytes": signed,
           "signature": key.sign(signed),
           "signature_algorithm": signature_algorithm_oid(key.algorithm),
           "key_spki_sha256": hashlib.sha256(key.public_key_der()).hexdigest(),
           "frontier": b"".join(frontier)}
    if connection.execute(_insert_head(connection.dialect.name), row).first() is None:
        # Another signer stored this size first: same root, keep theirs.
        stored = connection.execute(_STORED_HEAD, {"size": size}).one()
        return TreeHead(**stored._mapping)
    return TreeHead(**row)


@cache
def _insert_head(dialect: str) -> Any:
    """INSERT .. ON CONFLICT (size) DO NOTHING RETURNING size: no row when skipped.

    (RETURNING, not rowcount: psycopg reports -1 for this statement.)
    """
    return conflict_insert(dialect, _HEADS).on_conflict_do_nothing(
        index_elements=["size"]).returning(_HEADS.c.size)


def _split_frontier(blob: bytes) -> list[bytes]:
    return [bytes(blob[i:i + 32]) for i in range(0, len(blob), 32)]


@dataclass(frozen=True)
class HeadPolicy:
    """How long committed entries may wait for a signed tree head.

    ``interval_s`` bounds the wait (0: sign in every write transaction);
    ``max_pending`` bounds how many entries one process leaves waiting, so a
    burst does not widen the window in which stored entries could be edited
    unnoticed.
    """

    interval_s: float = 1.0
    max_pending: int = 256

    def __post_init__(self) -> None:
        if not (math.isfinite(self.interval_s) and self.interval_s >= 0):
            raise InputError("the audit head interval must be 0 or more seconds")
        if self.max_pending < 1:
            raise InputError("the audit head max_pending must be at least 1")

    @property
    def immediate(self) -> bool:
        return self.interval_s == 0


class HeadSchedule:
    """One process's committed entries that no head it knows of covers, and when one is due.

    In memory and thread-safe, so the check in every write transaction costs
    no query. Entries count once their transaction commits (reported by a
    session hook); a head counts once its transaction commits. A head of
    size ``n`` covers every entry committed before it read the log: sequence
    numbers come from a transactional counter, so no committed entry can sit
    behind an uncommitted one.
    """

    def __init__(self, policy: HeadPolicy, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.wake = threading.Event()  # set when entries start waiting (and on stop)
        self._lock = threading.Lock()
        self._appended = 0  # highest sequence number this process committed
        self._covered = 0  # largest head size this process saw committed
        self._pending = 0  # entries committed since, at most
        self._oldest: float | None = None  # clock() at or before the oldest of them

    def due(self, entries: int = 0) -> bool:
        """Whether a transaction adding ``entries`` more should sign a head before commit."""
        if self.policy.immediate:
            return True
        with self._lock:
            return self._pending + entries >= self.policy.max_pending or (
                self._oldest is not None
                and self.clock() - self._oldest >= self.policy.interval_s)

    def delay(self) -> float | None:
        """Seconds until a head is due (0 when overdue), None when nothing waits."""
        with self._lock:
            if self._oldest is None:
                return None
            return max(0.0, self._oldest + self.policy.interval_s - self.clock())

    def committed(self, seq: int, entries: int, head: int | None = None,
                  read_at: float | None = None) -> None:
        """A transaction committed ``entries`` ending at ``seq`` (and maybe a head)."""
        now = self.clock()
        with self._lock:
            self._appended = max(self._appended, seq)
            self._pending += entries
            if self._oldest is None:
                self._oldest = now
                self.wake.set()
        if head is not None:
            self.covered(head, now if read_at is None else read_at)

    def covered(self, size: int, read_at: float) -> None:
        """A head of ``size`` committed; it read the log at ``read_at`` (clock time).

        Entries beyond it committed after ``read_at``, so that is a safe age
        for what still waits.
        """
        with self._lock:
            self._covered = max(self._covered, size)
            if self._appended <= self._covered:
                self._pending, self._oldest = 0, None
            else:
                self._pending = min(self._pending, self._appended - self._covered)
                self._oldest = read_at if self._oldest is None else max(self._oldest, read_at)

    @property
    def waiting(self) -> bool:
        with self._lock:
            return self._oldest is not None


def _on_commit(session: Session, callback: Callable[[], None]) -> None:
    session.info.setdefault(_ON_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.get_nested_transaction() is None:  # the outer transaction, not a SAVEPOINT
        for callback in session.info.pop(_ON_COMMIT, ()):
            callback()


@event.listens_for(Session, "after_transaction_end")
def _after_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back: nothing to report
        session.info.pop(_ON_COMMIT, None)


def sign_pending(session: Session, key: SigningKey, at: datetime,
                 schedule: HeadSchedule | None = None) -> TreeHead | None:
    """Sign a head if this session appended entries and one is due; call before commit.

    Without ``schedule`` a head is always due (CLI commands, batch chunks: the
    process may exit right after). With one, the head is signed only when
    ``schedule`` says so, and the commit is reported to it either way.
    """
    pending = session.info.pop(PENDING_HEAD, None)
    if pending is None:
        return None
    if schedule is None:
        return sign_head(session, key, at)
    seq, entries = pending
    head: TreeHead | None = None
    read_at = schedule.clock()
    if schedule.due(entries):
        head = sign_head(session, key, at)
    _on_commit(session, partial(schedule.committed, seq, entries,
                                head.size if head is not None else None, read_at))
    return head


class HeadFlusher:
    """Signs the heads a :class:`HeadSchedule` defers, in a background thread.

    One per service process. Each head is its own short transaction; several
    processes signing the same size is harmless (see :func:`sign_head`). It
    signs once at start (entries a crashed process left unsigned), whenever
    the oldest waiting entry is ``interval_s`` old, and once at :meth:`stop`.
    A failure (database or key down) is logged and retried; it never reaches
    a request.
    """

    def __init__(self, schedule: HeadSchedule,
                 sessions: Callable[[], AbstractContextManager[Session]],
                 key: Callable[[], SigningKey]) -> None:
        self.schedule = schedule
        self._sessions = sessions
        self._key = key
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-heads", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread, then sign what this process left waiting."""
        self._stopping = True
        self.schedule.wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self.schedule.waiting:
            self._flush_logged()

    def flush(self) -> TreeHead:
        """Sign a head over everything committed now, in its own transaction."""
        read_at = self.schedule.clock()
        with self._sessions() as session:
            head = sign_head(session, self._key(), datetime.now(UTC))
        self.schedule.covered(head.size, read_at)
        return head

    def _flush_logged(self) -> bool:
        try:
            self.flush()
        except Exception:  # a background thread must survive, log and retry
            log.warning("signing an audit tree head failed; retrying", exc_info=True)
            return False
        return True

    def _run(self) -> None:
        wake = self.schedule.wake
        sweep = True  # the start-up head, until one succeeds
        backoff: float | None = None  # after a failure: wait before retrying, never spin
        while not self._stopping:
            delay = 0.0 if sweep else self.schedule.delay()
            if backoff is not None:
                delay = backoff
            if delay is None or delay > 0:
                wake.wait(delay)
                wake.clear()
                backoff = None
                continue
            if self._flush_logged():
                sweep = False
            else:
                backoff = max(0.5, min(self.schedule.policy.interval_s, 5.0))


def latest_head(session: Session) -> TreeHead | None:
    return session.execute(select(TreeHead).order_by(TreeHead.size.desc()).limit(1)).scalar()


def inclusion(session: Session, seq: int, size: int) -> tuple[bytes, list[bytes]]:
    """(leaf hash, audit path) of entry ``seq`` in the tree of ``size`` entries."""
    leaves = _leaves(session, size)
    if len(leaves) != size:
        raise NotFoundError(f"the log has fewer than {size} entries")
    if not 1 <= seq <= size:
        raise NotFoundError(f"entry {seq} is not in a tree of size {size}")
    return leaves[seq - 1], merkle.inclusion_proof(seq - 1, leaves)


def consistency(session: Session, old_size: int, new_size: int) -> list[bytes]:
    """Consistency proof between two tree sizes."""
    leaves = _leaves(session, new_size)
    if len(leaves) != new_size:
        raise NotFoundError(f"the log has fewer than {new_size} entries")
    return merkle.consistency_proof(old_size, leaves)


@dataclass(frozen=True)
class LogCheck:
    """Outcome of a full log verification; ``problems`` is empty when intact."""

    entries: int
    heads: int
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_log(session: Session, trusted_spki: Sequence[bytes]) -> LogCheck:
    """Recompute every leaf and every signed head; report each inconsistency.

    Detects: an edited entry (leaf hash or head root mismatch), a deleted
    entry (gap in sequence numbers), reordered entries (head root mismatch),
    a truncated log (a signed head larger than the log), forged heads (bad
    signature or unknown key) and heads that are not consistent extensions.
    """
    problems: list[str] = []
    trusted = {hashlib.sha256(s).hexdigest(): s for s in trusted_spki}
    rows = session.execute(
        select(AuditEntry.seq, AuditEntry.canonical, AuditEntry.leaf_hash, AuditEntry.at,
               AuditEntry.kind, AuditEntry.actor, AuditEntry.subject).order_by(AuditEntry.seq)
    ).all()
    leaves: list[bytes] = []
    for expected_seq, (seq, body, stored_leaf, at, kind, actor, subject) in enumerate(
            rows, start=1):
        if seq != expected_seq:
            problems.append(f"entry {expected_seq} missing (found {seq} in its place)")
            break
        recomputed = merkle.leaf_hash(bytes(body))
        if recomputed != bytes(stored_leaf):
            problems.append(f"entry {seq} was modified (leaf hash mismatch)")
        try:
            signed = entry_fields(bytes(body))
        except InputError:
            problems.append(f"entry {seq} is not a valid canonical document")
        else:
            if signed["seq"] != seq:
                problems.append(f"entry {seq} carries another sequence number")
            # The columns are what people query and read; an insider who edits the
            # actor column (and not the hashed document) must not go unnoticed.
            columns = {"at": _as_utc(at), "kind": kind, "actor": actor, "subject": subject}
            edited = sorted(name for name, value in columns.items() if signed[name] != value)
            if edited:
                problems.append(f"entry {seq}: column(s) {', '.join(edited)} differ from "
                                f"its signed canonical document")
        leaves.append(recomputed)
    heads = session.execute(select(TreeHead).order_by(TreeHead.size)).scalars().all()
    previous: TreeHead | None = None
    for head in heads:
        spki = trusted.get(head.key_spki_sha256)
        if spki is None:
            problems.append(f"tree head {head.size} signed by an untrusted key")
        elif head.signed_bytes != _head_bytes(head.size, bytes(head.root_hash), head.at) or \
                not verify_signature(spki, head.signature_algorithm, bytes(head.signed_bytes),
                                     bytes(head.signature)):
            problems.append(f"tree head {head.size} has an invalid signature")
        if head.size > len(leaves):
            problems.append(f"log truncated: signed head covers {head.size} entries, "
                            f"{len(leaves)} present")
        elif merkle.root(leaves[: head.size]) != bytes(head.root_hash):
            problems.append(f"entries up to {head.size} do not match the signed head")
        if previous is not None and previous.size <= len(leaves) and head.size <= len(leaves):
            proof = merkle.consistency_proof(previous.size, leaves[: head.size]) \
                if previous.size > 0 else []
            if previous.size > 0 and not merkle.verify_consistency(
                previous.size, head.size, bytes(previous.root_hash), bytes(head.root_hash), proof
            ):
                problems.append(f"head {head.size} is not an extension of head {previous.size}")
        previous = head
    return LogCheck(entries=len(rows), heads=len(heads), problems=tuple(problems))


def _as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC instant (SQLite hands back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def entry_fields(body: bytes) -> dict[str, Any]:
    """seq, at (aware, UTC), kind, actor, subject and details of a canonical entry document.

    What the API shows and what ``verify_log`` compares the columns with: the
    signed bytes, never the editable columns.
    """
    try:
        doc = json.loads(body)
        fields = {"seq": doc["seq"], "at": _as_utc(datetime.fromisoformat(doc["at"])),
                  "kind": doc["kind"], "actor": doc["actor"], "subject": doc["subject"],
                  "details": doc.get("details", {})}
    except (ValueError, TypeError, KeyError):
        raise InputError("an audit entry is not a canonical entry document",
                         code="audit.entry_malformed") from None
    if type(fields["seq"]) is not int or not all(
            isinstance(fields[k], str) for k in ("kind", "actor", "subject")):
        raise InputError("an audit entry is not a canonical entry document",
                         code="audit.entry_malformed")
    return fields


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head held outside the database (a witness, a list, an auditor's file).

    The JSON form is what ``GET /v1/audit/head`` returns, so a head fetched from
    the service is a checkpoint file as it is.
    """

    size: int
    root_hash: bytes
    at: datetime
    signed_bytes: bytes
    signature: bytes
    signature_algorithm: str
    key_spki_sha256: str

    @classmethod
    def from_head(cls, head: TreeHead) -> Checkpoint:
        return cls(head.size, bytes(head.root_hash), _as_utc(head.at), bytes(head.signed_bytes),
                   bytes(head.signature), head.signature_algorithm, head.key_spki_sha256)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Parse the JSON form; the signed bytes must state the same size and root."""
        try:
            signed = str(data["signed_bytes"]).encode()
            doc = json.loads(signed)
            head = cls(int(data["size"]), bytes.fromhex(str(data["root_hash"])),
                       _as_utc(datetime.fromisoformat(str(doc["at"]))), signed,
                       bytes.fromhex(str(data["signature"])), str(data["signature_algorithm"]),
                       str(data["key_spki_sha256"]))
            # The signature covers signed_bytes only: the size and root used must be those.
            same = (doc["log"] == LOG_ID and doc["size"] == head.size
                    and doc["root"] == head.root_hash.hex() and head.size >= 0)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise InputError("not a signed tree head (the JSON of GET /v1/audit/head)",
                             code="audit.checkpoint_malformed") from None
        if not same:
            raise InputError("the head's size or root differ from its signed bytes",
                             code="audit.checkpoint_malformed")
        return head

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "root_hash": self.root_hash.hex(),
                "at": self.at.isoformat(), "signed_bytes": self.signed_bytes.decode(),
                "signature": self.signature.hex(),
                "signature_algorithm": self.signature_algorithm,
                "key_spki_sha256": self.key_spki_sha256}

    def verify(self, trusted_spki: Sequence[bytes]) -> bool:
        """Whether a trusted log key signed this head."""
        for spki in trusted_spki:
            if hashlib.sha256(spki).hexdigest() == self.key_spki_sha256:
                return verify_signature(spki, self.signature_algorithm, self.signed_bytes,
                                        self.signature)
        return False


def check_checkpoint(session: Session, checkpoint: Checkpoint,
                     trusted_spki: Sequence[bytes]) -> list[str]:
    """Problems of the stored log against a head held elsewhere (empty: consistent).

    Stops a rollback (the newest entries deleted together with their signed
    heads, which ``verify_log`` alone cannot see) and a fork (history
    rewritten under a head someone already holds).
    """
    if not checkpoint.verify(trusted_spki):
        return [f"checkpoint of size {checkpoint.size} is not signed by the log key"]
    leaves = _leaves(session, checkpoint.size)
    if len(leaves) < checkpoint.size:
        return [f"log rolled back: the checkpoint covers {checkpoint.size} entries, "
                f"the log holds {len(leaves)} / 日志被回滚：检查点覆盖 {checkpoint.size} 条，"
                f"日志仅有 {len(leaves)} 条"]
    problems = []
    if merkle.root(leaves) != checkpoint.root_hash:
        problems.append(f"log forked: its first {checkpoint.size} entries do not match the "
                        f"checkpoint / 日志分叉：前 {checkpoint.size} 条与检查点不一致")
    latest = latest_head(session)
    if latest is None or latest.size < checkpoint.size:
        problems.append(f"signed heads rolled back: the latest stored head covers "
                        f"{latest.size if latest is not None else 0} entries, the checkpoint "
                        f"{checkpoint.size} / 签名树头被回滚")
    return problems
