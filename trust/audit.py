"""The tamper-evident audit log: append-only entries, signed tree heads, proofs.

Every seal, key, issuance, status change, grant and redemption is appended in
the same database transaction as the change itself. Entries are canonical
JSON; their RFC 6962 leaf hashes form a Merkle tree (``trust.merkle``) whose
head is signed (SM2 by default) after each batch. :func:`verify_log` detects
edited, deleted, reordered and truncated entries against the signed heads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trust import merkle
from trust.errors import InputError, NotFoundError
from trust.keys import SigningKey, signature_algorithm_oid, verify_signature
from trust.registry.db import next_value
from trust.registry.models import AuditEntry, TreeHead

__all__ = [
    "LogCheck",
    "append",
    "consistency",
    "inclusion",
    "latest_head",
    "sign_head",
    "sign_pending",
    "verify_log",
]

LOG_ID = "sealtrust-audit-v1"
PENDING_HEAD = "sealtrust.audit.pending_head"  # session.info flag: entries await a signed head
_COUNTER = "audit"


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
) -> AuditEntry:
    """Append one entry in the caller's transaction (so it commits with the change)."""
    seq = next_value(session, _COUNTER)
    body = canonical({"seq": seq, "at": _aware(at).isoformat(), "kind": kind, "actor": actor,
                      "subject": subject, "details": dict(details or {})})
    entry = AuditEntry(seq=seq, at=at, kind=kind, actor=actor, subject=subject,
                       canonical=body, leaf_hash=merkle.leaf_hash(body))
    session.add(entry)
    session.flush()
    session.info[PENDING_HEAD] = True
    return entry


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
    hold a gap in the sequence numbers.
    """
    latest = latest_head(session)
    size = latest.size if latest is not None else 0
    frontier = _split_frontier(latest.frontier) if latest is not None else []
    rows = session.execute(
        select(AuditEntry.seq, AuditEntry.leaf_hash).where(AuditEntry.seq > size).order_by(
            AuditEntry.seq)
    ).all()
    for seq, leaf in rows:
        if seq != size + 1:
            break
        frontier = merkle.frontier_append(frontier, size, bytes(leaf))
        size += 1
    if latest is not None and latest.size >= size:
        return latest
    root_hash = merkle.frontier_root(frontier)
    signed = _head_bytes(size, root_hash, at)
    spki = key.public_key_der()
    head = TreeHead(size=size, root_hash=root_hash, at=at, signed_bytes=signed,
                    signature=key.sign(signed),
                    signature_algorithm=signature_algorithm_oid(key.algorithm),
                    key_spki_sha256=hashlib.sha256(spki).hexdigest(),
                    frontier=b"".join(frontier))
    session.add(head)
    session.flush()
    return head


def _split_frontier(blob: bytes) -> list[bytes]:
    return [bytes(blob[i:i + 32]) for i in range(0, len(blob), 32)]


def sign_pending(session: Session, key: SigningKey, at: datetime) -> TreeHead | None:
    """Sign a head if this session appended entries: call once per batch, before commit."""
    if not session.info.pop(PENDING_HEAD, False):
        return None
    return sign_head(session, key, at)


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
        select(AuditEntry.seq, AuditEntry.canonical, AuditEntry.leaf_hash).order_by(
            AuditEntry.seq)
    ).all()
    leaves: list[bytes] = []
    for expected_seq, (seq, body, stored_leaf) in enumerate(rows, start=1):
        if seq != expected_seq:
            problems.append(f"entry {expected_seq} missing (found {seq} in its place)")
            break
        recomputed = merkle.leaf_hash(bytes(body))
        if recomputed != bytes(stored_leaf):
            problems.append(f"entry {seq} was modified (leaf hash mismatch)")
        try:
            if json.loads(bytes(body)).get("seq") != seq:
                problems.append(f"entry {seq} carries another sequence number")
        except ValueError:
            problems.append(f"entry {seq} is not valid JSON")
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
