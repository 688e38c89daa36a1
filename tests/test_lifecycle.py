"""Licence status transitions, their events and audit entries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from trust.errors import ConflictError, InputError, NotFoundError
from trust.registry import Registry, migrate
from trust.registry.lifecycle import LicenceStatus, change_status, get_licence, history
from trust.registry.models import AuditEntry, Department, Licence, SealRecord

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    migrate(db_url)
    reg = Registry(db_url)
    with reg.session() as s:
        s.add(Department(code="amr", name="市场监督管理局", uscc="11100000000000001X"))
        s.add(Department(code="psb", name="公安局", uscc="11100000000000002X"))
        s.flush()
        s.add(SealRecord(es_id="S1", department_code="amr", name="章", seal_type=1, der=b"\x30\x00",
                         valid_start=T0, valid_end=T0 + timedelta(days=365)))
        s.flush()
        # L1, L2, L4 (other department), L5 (other type): holder A; L3: holder B; L6: no ref.
        for i, holder, dept, kind in ((1, "a", "amr", "BL"), (2, "a", "amr", "BL"),
                                      (3, "b", "amr", "BL"), (4, "a", "psb", "BL"),
                                      (5, "a", "amr", "APR"), (6, None, "amr", "BL")):
            s.add(Licence(id=f"L{i}", type_code=kind, department_code=dept, holder_name="张三",
                          holder={"name": "张三"}, valid_from=T0, status_index=i,
                          holder_ref=None if holder is None else holder * 64,
                          file_sm3="00" * 32, seal_es_id="S1", key_uri="file:k.p8"))
    yield reg
    reg.close()


def test_revoke_records_event_and_audit(registry: Registry) -> None:
    with registry.session() as s:
        change_status(s, "L1", LicenceStatus.REVOKED, reason="fraud", at=T0, actor="amr")
    with registry.session() as s:
        assert get_licence(s, "L1").status == "revoked"
        events = history(s, "L1")
        assert [(e.from_status, e.to_status, e.reason) for e in events] == [
            ("valid", "revoked", "fraud")]
        entry = s.execute(select(AuditEntry)).scalar_one()
        assert (entry.kind, entry.subject) == ("licence.revoked", "L1")


@pytest.mark.parametrize("final", [LicenceStatus.REVOKED, LicenceStatus.CANCELLED])
def test_no_reinstatement_or_second_change(registry: Registry, final: LicenceStatus) -> None:
    with registry.session() as s:
        change_status(s, "L1", final, reason="r", at=T0, actor="amr")
    for target in (LicenceStatus.VALID, LicenceStatus.REVOKED, LicenceStatus.CANCELLED):
        with pytest.raises(ConflictError), registry.session() as s:
            change_status(s, "L1", target, reason="again", at=T0, actor="amr")
    with registry.session() as s:
        assert len(history(s, "L1")) == 1


def test_supersede_needs_an_existing_other_licence(registry: Registry) -> None:
    with pytest.raises(InputError), registry.session() as s:
        change_status(s, "L1", LicenceStatus.SUPERSEDED, reason="r", at=T0, actor="a")
    with pytest.raises(NotFoundError), registry.session() as s:
        change_status(s, "L1", LicenceStatus.SUPERSEDED, reason="r", at=T0, actor="a",
                      superseded_by="L9")
    with pytest.raises(InputError), registry.session() as s:
        change_status(s, "L1", LicenceStatus.SUPERSEDED, reason="r", at=T0, actor="a",
                      superseded_by="L1")
    with registry.session() as s:
        change_status(s, "L1", LicenceStatus.SUPERSEDED, reason="changed", at=T0, actor="a",
                      superseded_by="L2")
    with registry.session() as s:
        licence = s.get(Licence, "L1")
        assert licence is not None
        assert (licence.status, licence.superseded_by) == ("superseded", "L2")


def test_bad_inputs(registry: Registry) -> None:
    with pytest.raises(NotFoundError), registry.session() as s:
        change_status(s, "nope", LicenceStatus.REVOKED, reason="r", at=T0, actor="a")
    with pytest.raises(InputError), registry.session() as s:
        change_status(s, "L1", LicenceStatus.REVOKED, reason=" ", at=T0, actor="a")
    with pytest.raises(InputError), registry.session() as s:
        change_status(s, "L1", LicenceStatus.REVOKED, reason="r", at=datetime(2026, 1, 1),
                      actor="a")
    with registry.session() as s:
        assert get_licence(s, "L1").status == "valid"


@pytest.mark.parametrize("other", ["L3", "L4", "L5", "L6"])
def test_supersede_only_by_the_same_holder_type_and_department(registry: Registry,
                                                               other: str) -> None:
    # L3 is another holder's, L4 another department's, L5 another type's, L6 has no holder.
    with pytest.raises(ConflictError) as refused, registry.session() as s:
        change_status(s, "L1", LicenceStatus.SUPERSEDED, reason="r", at=T0, actor="a",
                      superseded_by=other)
    assert refused.value.code == "licence.supersede_mismatch"
    with pytest.raises(ConflictError), registry.session() as s:  # no holder: nothing matches
        change_status(s, "L6", LicenceStatus.SUPERSEDED, reason="r", at=T0, actor="a",
                      superseded_by="L1")
    with registry.session() as s:
        assert get_licence(s, "L1").status == "valid"


def test_supersede_by_a_licence_no_longer_valid_is_refused(registry: Registry) -> None:
    with registry.session() as s:
        change_status(s, "L2", LicenceStatus.REVOKED, reason="r", at=T0, actor="a")
    with pytest.raises(ConflictError), registry.session() as s:
        change_status(s, "L1", LicenceStatus.SUPERSEDED, reason="r", at=T0, actor="a",
                      superseded_by="L2")


def test_suspend_and_reinstate_are_audited_and_reinstate_only_from_suspended(
        registry: Registry) -> None:
    with pytest.raises(ConflictError), registry.session() as s:  # valid: nothing to reinstate
        change_status(s, "L1", LicenceStatus.VALID, reason="r", at=T0, actor="a")
    with registry.session() as s:
        change_status(s, "L1", LicenceStatus.SUSPENDED, reason="inquiry", at=T0, actor="amr")
    with pytest.raises(ConflictError), registry.session() as s:  # no second suspension
        change_status(s, "L1", LicenceStatus.SUSPENDED, reason="again", at=T0, actor="amr")
    with registry.session() as s:
        change_status(s, "L1", LicenceStatus.VALID, reason="cleared", at=T0, actor="amr")
        change_status(s, "L2", LicenceStatus.SUSPENDED, reason="inquiry", at=T0, actor="amr")
        change_status(s, "L2", LicenceStatus.REVOKED, reason="confirmed", at=T0, actor="amr")
    with pytest.raises(ConflictError), registry.session() as s:  # revoked: final
        change_status(s, "L2", LicenceStatus.VALID, reason="r", at=T0, actor="a")
    with registry.session() as s:
        assert [(e.from_status, e.to_status) for e in history(s, "L1")] == [
            ("valid", "suspended"), ("suspended", "valid")]
        kinds = list(s.execute(select(AuditEntry.kind).order_by(AuditEntry.seq)).scalars())
    assert kinds == ["licence.suspended", "licence.reinstated", "licence.suspended",
                     "licence.revoked"]
