"""Bulk revocation and cancellation: selection, dry run, chunks, crash and rerun."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.lifecycle_support import (
    NOW,
    OTHER_USCC,
    USCC,
    add_licences,
    count_events,
    day,
    new_registry,
    statuses,
)
from trust.errors import InputError
from trust.registry import Registry
from trust.registry import bulk as bulk_module
from trust.registry.bulk import BulkAction, Selection, bulk_change, parse_ids
from trust.registry.lifecycle import LicenceStatus, change_status
from trust.registry.models import AuditEntry, Licence, LicenceEvent
from trust.registry.statuslist import build_status_list
from trust.status import LicenceStatus as ListValue


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    reg = new_registry(db_url)
    # amr: A01..A09 of type BL, B01..B03 of type DL; psb: P01..P03 of type BL
    add_licences(reg, {f"A{i:02d}": day(30) for i in range(1, 10)})
    add_licences(reg, {f"B{i:02d}": day(30) for i in range(1, 4)}, start=20, type_code="DL")
    add_licences(reg, {f"P{i:02d}": day(30) for i in range(1, 4)}, start=40, department="psb")
    with reg.session() as s:
        change_status(s, "A02", LicenceStatus.CANCELLED, reason="holder", at=day(1), actor="t")
        change_status(s, "A03", LicenceStatus.SUSPENDED, reason="inquiry", at=day(1), actor="t")
    yield reg
    reg.close()


def snapshot(reg: Registry) -> tuple[dict[str, str], int, int]:
    with reg.session() as s:
        events = s.execute(select(func.count()).select_from(LicenceEvent)).scalar_one()
        entries = s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    return statuses(reg), events, entries


def test_dry_run_says_exactly_what_would_change_and_changes_nothing(registry: Registry) -> None:
    before = snapshot(registry)
    run = bulk_change(registry, Selection(department="amr", type_code="BL"), BulkAction.REVOKE,
                      reason="licence type withdrawn", at=NOW, actor="ops", dry_run=True,
                      chunk=2)
    assert snapshot(registry) == before
    expected = ["A01", "A03", "A04", "A05", "A06", "A07", "A08", "A09"]  # A02 cancelled
    assert run.changed == expected
    assert run.to_json()["counts"] == {"would_change": 8, "skipped": 0, "missing": 0}
    real = bulk_change(registry, Selection(department="amr", type_code="BL"),
                       BulkAction.REVOKE, reason="licence type withdrawn", at=NOW, actor="ops",
                       chunk=2)
    assert real.changed == expected  # the dry run was exact
    assert {k for k, v in statuses(registry).items() if v == "revoked"} == set(expected)


def test_by_ids_reports_skipped_and_missing(registry: Registry) -> None:
    ids = parse_ids("A01\n# a comment\nA02\n\nP01  # other department\nZZZ\nA01\n")
    assert ids == ("A01", "A02", "P01", "ZZZ")
    dry = bulk_change(registry, Selection(ids=ids), BulkAction.CANCEL, reason="r", at=NOW,
                      actor="ops", dry_run=True)
    assert dry.to_json()["counts"] == {"would_change": 2, "skipped": 1, "missing": 1}
    assert dry.skipped == {"A02": "cancelled"} and dry.missing == ["ZZZ"]
    run = bulk_change(registry, Selection(ids=ids), BulkAction.CANCEL, reason="r", at=NOW,
                      actor="ops")
    assert run.changed == ["A01", "P01"]
    again = bulk_change(registry, Selection(ids=ids), BulkAction.CANCEL, reason="r", at=NOW,
                        actor="ops")
    assert again.changed == [] and again.skipped == {"A01": "cancelled", "A02": "cancelled",
                                                     "P01": "cancelled"}
    assert count_events(registry, "cancelled") == {"A01": 1, "A02": 1, "P01": 1}


def test_by_department_leaves_other_departments_and_shows_in_the_status_list(
        registry: Registry) -> None:
    bulk_change(registry, Selection(department="psb"), BulkAction.REVOKE, reason="dissolved",
                at=NOW, actor="ops")
    states = statuses(registry)
    assert {k for k, v in states.items() if v == "revoked"} == {"P01", "P02", "P03"}
    with registry.session() as s:
        listed = build_status_list(s, OTHER_USCC, at=NOW)
        mine = build_status_list(s, USCC, at=NOW)
        index = {str(r[0]): int(r[1]) for r in s.execute(select(Licence.id,
                                                                Licence.status_index))}
        run_entry = s.execute(select(AuditEntry.canonical).where(
            AuditEntry.kind == "lifecycle.bulk_revoke")).scalar_one()
    assert [listed.status(index[p]) for p in ("P01", "P02", "P03")] == [ListValue.REVOKED] * 3
    assert mine.status(index["A01"]) is ListValue.VALID
    assert b'"changed":3' in run_entry and b'"department":"psb"' in run_entry


def test_a_crash_half_way_and_a_rerun_finish_without_double_events(
        registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    real = bulk_module.transition_if
    calls = {"n": 0}

    def dies_on_the_fifth(*args: Any, **kwargs: Any) -> str | None:
        calls["n"] += 1
        if calls["n"] == 5:  # inside the third chunk of two: chunks 1 and 2 are committed
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk_module, "transition_if", dies_on_the_fifth)
    with pytest.raises(RuntimeError):
        bulk_change(registry, Selection(department="amr"), BulkAction.REVOKE, reason="r",
                    at=NOW, actor="ops", chunk=2)
    revoked = {k for k, v in statuses(registry).items() if v == "revoked"}
    assert revoked == {"A01", "A03", "A04", "A05"}  # two whole chunks, the third rolled back
    monkeypatch.setattr(bulk_module, "transition_if", real)
    rerun = bulk_change(registry, Selection(department="amr"), BulkAction.REVOKE, reason="r",
                        at=NOW, actor="ops", chunk=2)
    assert rerun.changed == ["A06", "A07", "A08", "A09", "B01", "B02", "B03"]
    events = count_events(registry, "revoked")
    assert len(events) == 11 and set(events.values()) == {1}
    with registry.session() as s:
        kinds = list(s.execute(select(AuditEntry.kind)).scalars())
    assert kinds.count("licence.revoked") == 11
    assert kinds.count("lifecycle.bulk_revoke") == 1  # the crashed run never finished


def test_bad_selections_and_reasons_are_refused(registry: Registry) -> None:
    for selection in ({}, {"ids": ("A01",), "department": "amr"}):
        with pytest.raises(InputError):
            Selection(**selection)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        bulk_change(registry, Selection(ids=("A01",)), BulkAction.REVOKE, reason=" ", at=NOW,
                    actor="ops")
    with pytest.raises(InputError):
        parse_ids("A01 B01\n")
    from trust.errors import NotFoundError

    with pytest.raises(NotFoundError) as unknown:
        bulk_change(registry, Selection(department="amr-typo"), BulkAction.REVOKE, reason="r",
                    at=NOW, actor="ops", dry_run=True)
    assert unknown.value.code == "bulk.unknown_department"
    assert statuses(registry)["A01"] == "valid"


def test_a_bounded_call_stops_at_its_share_and_the_next_goes_on(registry: Registry) -> None:
    everything = Selection(department="amr")
    listed = bulk_change(registry, everything, BulkAction.CANCEL, reason="r", at=NOW,
                         actor="ops", dry_run=True, max_listed=3)
    assert listed.changed == ["A01", "A03", "A04"] and listed.unlisted == 8
    assert listed.counts()["would_change"] == 11
    first = bulk_change(registry, everything, BulkAction.CANCEL, reason="r", at=NOW,
                        actor="ops", chunk=2, limit=3)
    assert not first.complete and first.changed == ["A01", "A03", "A04", "A05"]
    rest = bulk_change(registry, everything, BulkAction.CANCEL, reason="r", at=NOW,
                       actor="ops", chunk=2, limit=100)
    assert rest.complete and len(rest.changed) == 7
    assert set(count_events(registry, "cancelled").values()) == {1}


def _killed_half_way(url: str) -> None:
    """A bulk run in its own process that dies (SIGKILL: no cleanup, no rollback by Python)
    inside its third chunk; the database has to drop the open transaction itself."""
    import os
    import signal

    reg = Registry(url)
    real = bulk_module.transition_if
    calls = {"n": 0}

    def dies(*args: Any, **kwargs: Any) -> str | None:
        calls["n"] += 1
        if calls["n"] == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    bulk_module.transition_if = dies  # type: ignore[assignment]
    bulk_change(reg, Selection(department="amr"), BulkAction.REVOKE, reason="r", at=NOW,
                actor="ops", chunk=2)


def test_a_killed_process_and_a_rerun_finish_without_double_events(registry: Registry) -> None:
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(target=_killed_half_way,
                                                            args=(registry.url,))
    process.start()
    process.join(timeout=120)
    assert process.exitcode == -9
    assert {k for k, v in statuses(registry).items() if v == "revoked"} == {
        "A01", "A03", "A04", "A05"}
    rerun = bulk_change(registry, Selection(department="amr"), BulkAction.REVOKE, reason="r",
                        at=NOW, actor="ops", chunk=2)
    assert rerun.changed == ["A06", "A07", "A08", "A09", "B01", "B02", "B03"]
    assert len(count_events(registry, "revoked")) == 11
    assert set(count_events(registry, "revoked").values()) == {1}
    with registry.session() as s:  # the log has no hole where the killed chunk was
        seqs = sorted(s.execute(select(AuditEntry.seq)).scalars())
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
