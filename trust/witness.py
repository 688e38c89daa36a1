"""An audit-log witness: signed tree heads kept outside the service's database.

Whoever controls the database can delete the newest audit entries together
with the heads that signed them; the log then verifies as intact against the
heads that remain. A witness (run by someone else, ideally on another
machine) keeps the latest head it accepted and checks that every newer head
extends it (an RFC 6962 consistency proof). A smaller head is a rollback, an
equal size with another root or a proof that fails is a fork: both are
reported, and the witness keeps the head it holds.

State directory: ``head.json`` (the latest accepted head, the JSON of
``GET /v1/audit/head``) and ``log-key.der`` (the log's public key, pinned on
first use unless given). Files are replaced atomically (write, fsync,
rename), so a crash leaves the old or the new head, never half of one.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from trust import merkle
from trust.audit import Checkpoint
from trust.errors import InputError

__all__ = ["Outcome", "Verdict", "WitnessState", "judge"]

HEAD_FILE: Final = "head.json"
KEY_FILE: Final = "log-key.der"


class Outcome(enum.StrEnum):
    FIRST = "first"  # nothing held yet: the head is pinned
    SAME = "same"
    EXTENDED = "extended"
    ROLLBACK = "rollback"
    FORK = "fork"
    BAD_SIGNATURE = "bad_signature"

    @property
    def ok(self) -> bool:
        return self in (Outcome.FIRST, Outcome.SAME, Outcome.EXTENDED)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    held: int | None  # the size the witness held before
    seen: int  # the size the service showed
    message: str  # bilingual, for people

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "ok": self.outcome.ok, "held": self.held,
                "seen": self.seen, "message": self.message}


def judge(held: Checkpoint | None, seen: Checkpoint, proof: Sequence[bytes] | None,
          log_key: bytes) -> Verdict:
    """Compare the head the service shows now with the one held; ``proof``: old -> new.

    A head not signed by the pinned log key is refused (a forged head would
    let a rolled-back service pass off any size). A proof is needed only when
    the head grew.
    """
    if not seen.verify([log_key]):
        return Verdict(Outcome.BAD_SIGNATURE, held.size if held else None, seen.size,
                       "the service's tree head is not signed by the pinned log key / "
                       "树头签名不是固定的日志密钥所签")
    if held is None:
        return Verdict(Outcome.FIRST, None, seen.size,
                       f"first head pinned: {seen.size} entries / 首次记录树头：{seen.size} 条")
    if seen.size < held.size:
        return Verdict(Outcome.ROLLBACK, held.size, seen.size,
                       f"ROLLBACK: the service shows {seen.size} entries, this witness holds a "
                       f"signed head of {held.size} / 回滚：服务只显示 {seen.size} 条，"
                       f"见证方持有 {held.size} 条的签名树头")
    if seen.size == held.size:
        if seen.root_hash == held.root_hash:
            return Verdict(Outcome.SAME, held.size, seen.size,
                           f"unchanged at {seen.size} entries / 无变化：{seen.size} 条")
        return Verdict(Outcome.FORK, held.size, seen.size,
                       f"FORK: another root for the same {seen.size} entries / "
                       f"分叉：相同的 {seen.size} 条对应不同的根")
    if held.size == 0 or (proof is not None and merkle.verify_consistency(
            held.size, seen.size, held.root_hash, seen.root_hash, proof)):
        return Verdict(Outcome.EXTENDED, held.size, seen.size,
                       f"extended {held.size} -> {seen.size} entries, consistent / "
                       f"增长 {held.size} -> {seen.size} 条，一致")
    return Verdict(Outcome.FORK, held.size, seen.size,
                   f"FORK: head {seen.size} does not extend the held head {held.size} "
                   f"(consistency proof fails) / 分叉：树头 {seen.size} 不是 {held.size} 的延续")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


class WitnessState:
    """The witness's own copy: the latest accepted head and the pinned log key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def head(self) -> Checkpoint | None:
        try:
            return Checkpoint.from_json(json.loads((self.directory / HEAD_FILE).read_text()))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise InputError(f"witness state {self.directory / HEAD_FILE} is unreadable: "
                             f"{exc}", code="witness.state") from None

    def save_head(self, head: Checkpoint) -> None:
        _write_atomic(self.directory / HEAD_FILE,
                      json.dumps(head.to_json(), indent=2).encode())

    def log_key(self) -> bytes | None:
        try:
            return (self.directory / KEY_FILE).read_bytes()
        except FileNotFoundError:
            return None

    def pin_log_key(self, spki_der: bytes) -> None:
        """Pin the key; a different key than the one pinned is refused."""
        held = self.log_key()
        if held is not None and held != spki_der:
            raise InputError(f"the witness already pins another log key "
                             f"(SHA-256 {hashlib.sha256(held).hexdigest()[:16]}...)",
                             code="witness.key_mismatch")
        if held is None:
            _write_atomic(self.directory / KEY_FILE, spki_der)
