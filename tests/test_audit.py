"""The audit log detects every kind of tampering with stored entries (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from trust import audit, merkle
from trust.keys import SoftwareKey
from trust.registry import Registry, migrate
from trust.registry.models import AuditEntry, TreeHead

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def log(db_url: str) -> Iterator[tuple[Registry, SoftwareKey]]:
    migrate(db_url)
    registry = Registry(db_url)
    key = SoftwareKey.generate("sm2")
    with registry.session() as s:
        for i in range(5):
            audit.append(s, kind="licence.issued", actor="dept-1", subject=f"L{i}",
                         at=T0 + timedelta(minutes=i), details={"n": i, "holder": "张三"})
        audit.sign_head(s, key, T0 + timedelta(hours=1))
    with registry.session() as s:
        for i in range(5, 12):
            audit.append(s, kind="licence.revoked", actor="dept-1", subject=f"L{i}",
                         at=T0 + timedelta(minutes=i), details={"reason": "test"})
        audit.sign_head(s, key, T0 + timedelta(hours=2))
    yield registry, key
    registry.close()


def _check(registry: Registry, key: SoftwareKey) -> audit.LogCheck:
    with registry.session() as s:
        return audit.verify_log(s, [key.public_key_der()])


def test_intact_log_verifies_and_proofs_check(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    result = _check(registry, key)
    assert result.ok, result.problems
    assert (result.entries, result.heads) == (12, 2)
    with registry.session() as s:
        heads = s.execute(select(TreeHead).order_by(TreeHead.size)).scalars().all()
        for seq in (1, 5, 7, 12):
            leaf, path = audit.inclusion(s, seq, 12)
            assert merkle.verify_inclusion(leaf, seq - 1, 12, path, heads[1].root_hash)
            assert not merkle.verify_inclusion(leaf, seq % 12, 12, path, heads[1].root_hash)
        proof = audit.consistency(s, 5, 12)
        assert merkle.verify_consistency(5, 12, heads[0].root_hash, heads[1].root_hash, proof)
        assert not merkle.verify_consistency(5, 12, heads[1].root_hash, heads[1].root_hash, proof)


def test_signing_again_without_new_entries_adds_no_head(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    with registry.session() as s:
        head = audit.sign_head(s, key, T0 + timedelta(hours=3))
        assert head.size == 12
        assert len(s.execute(select(TreeHead)).scalars().all()) == 2


def test_edited_entry_is_detected(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    with registry.session() as s:
        row = s.get(AuditEntry, 3)
        assert row is not None
        forged = row.canonical.replace(b"L2", b"L9")
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(canonical=forged))
    assert any("entry 3 was modified" in p for p in _check(registry, key).problems)


def test_edit_with_recomputed_leaf_hash_is_detected(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    with registry.session() as s:
        row = s.get(AuditEntry, 8)
        assert row is not None
        forged = row.canonical.replace(b"test", b"fake")
        s.execute(update(AuditEntry).where(AuditEntry.seq == 8).values(
            canonical=forged, leaf_hash=merkle.leaf_hash(forged)))
    problems = _check(registry, key).problems
    assert any("do not match the signed head" in p for p in problems)


def test_deleted_entry_is_detected(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    with registry.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
    assert any("entry 4 missing" in p for p in _check(registry, key).problems)


def test_reordered_entries_are_detected(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    with registry.session() as s:
        a, b = s.get(AuditEntry, 6), s.get(AuditEntry, 7)
        assert a is not None and b is not None
        ca, la, cb, lb = a.canonical, a.leaf_hash, b.canonical, b.leaf_hash
        s.execute(update(AuditEntry).where(AuditEntry.seq == 6).values(canonical=cb, leaf_hash=lb))
        s.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(canonical=ca, leaf_hash=la))
    problems = _check(registry, key).problems
    assert any("another sequence number" in p for p in problems)
    assert any("do not match the signed head" in p for p in problems)


def test_truncated_log_is_detected(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    with registry.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 9))
    assert any("log truncated" in p for p in _check(registry, key).problems)


def test_forged_and_untrusted_heads_are_detected(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    with registry.session() as s:
        s.execute(update(TreeHead).where(TreeHead.size == 5).values(signature=os.urandom(70)))
    assert any("invalid signature" in p for p in _check(registry, key).problems)
    other = SoftwareKey.generate("sm2")
    with registry.session() as s:
        problems = audit.verify_log(s, [other.public_key_der()]).problems
    assert any("untrusted key" in p for p in problems)


def test_naive_time_is_refused(log: tuple[Registry, SoftwareKey]) -> None:
    registry, _ = log
    from trust.errors import InputError

    with pytest.raises(InputError), registry.session() as s:
        audit.append(s, kind="x", actor="y", subject="z", at=datetime(2026, 1, 1))
