"""The expiry job: due licences become expired once, in the registry and the status list."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.lifecycle_support import (
    NOW,
    USCC,
    add_licences,
    count_events,
    day,
    new_registry,
    statuses,
)
from trust.errors import InputError
from trust.indications import Indication, SubIndication
from trust.registry import Registry
from trust.registry.expiry import expire_due
from trust.registry.lifecycle import LicenceStatus, change_status, history
from trust.registry.models import AuditEntry, Licence
from trust.registry.statuslist import build_status_list
from trust.status import LicenceStatus as ListValue
from trust.status import StatusList
from verification.status import ListStatus, RegistryStatus


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    reg = new_registry(db_url)
    # E1 ended on 5 Dec (due), E2 on 1 Nov (due), T1 ends today (not due), F1 later,
    # N1 never ends, R1 is due but revoked, X1 due and suspended
    add_licences(reg, {"E1": day(5), "E2": day(1, 11), "T1": day(6), "F1": day(30),
                       "N1": None, "R1": day(2), "X1": day(3)})
    with reg.session() as s:
        change_status(s, "R1", LicenceStatus.REVOKED, reason="fraud", at=day(4), actor="amr")
        change_status(s, "X1", LicenceStatus.SUSPENDED, reason="inquiry", at=day(1),
                      actor="amr")
    yield reg
    reg.close()


def test_expires_exactly_the_due_licences_once(registry: Registry) -> None:
    run = expire_due(registry, at=NOW, actor="cli:ops")
    assert sorted(run.expired) == ["E1", "E2", "X1"]
    assert statuses(registry) == {"E1": "expired", "E2": "expired", "T1": "valid",
                                  "F1": "valid", "N1": "valid", "R1": "revoked",
                                  "X1": "expired"}
    again = expire_due(registry, at=NOW + timedelta(hours=1), actor="cli:ops")
    assert again.expired == [] and again.lost == 0
    assert count_events(registry, "expired") == {"E1": 1, "E2": 1, "X1": 1}
    with registry.session() as s:
        assert [(e.from_status, e.to_status) for e in history(s, "X1")][-1] == (
            "suspended", "expired")
        kinds = list(s.execute(select(AuditEntry.kind).order_by(AuditEntry.seq)).scalars())
    assert kinds.count("licence.expired") == 3
    assert kinds.count("lifecycle.expiry_run") == 2  # one per run, with its counts


def test_an_expired_licence_never_comes_back_but_may_be_revoked(registry: Registry) -> None:
    expire_due(registry, at=NOW, actor="ops")
    from trust.errors import ConflictError

    for target in (LicenceStatus.VALID, LicenceStatus.SUSPENDED):
        with pytest.raises(ConflictError), registry.session() as s:
            change_status(s, "E1", target, reason="r", at=NOW, actor="amr")
    with registry.session() as s:
        change_status(s, "E1", LicenceStatus.REVOKED, reason="found forged", at=NOW,
                      actor="amr")
    assert statuses(registry)["E1"] == "revoked"


def test_as_of_moves_the_cutoff_and_a_dry_run_changes_nothing(registry: Registry) -> None:
    before = statuses(registry)
    ahead = expire_due(registry, at=NOW, actor="ops", as_of=day(8), dry_run=True)
    assert sorted(ahead.expired) == ["E1", "E2", "T1", "X1"]  # T1's last day is the 6th
    assert statuses(registry) == before
    with registry.session() as s:
        assert s.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 2
    with pytest.raises(InputError) as refused:
        expire_due(registry, at=NOW, actor="ops", as_of=day(8))
    assert refused.value.code == "lifecycle.as_of_future"
    assert statuses(registry) == before
    past = expire_due(registry, at=NOW, actor="ops", as_of=day(3, 11))
    assert past.expired == ["E2"]
    with pytest.raises(InputError):
        expire_due(registry, at=datetime(2026, 12, 6), actor="ops")  # naive


def test_two_runs_at_once_change_each_licence_once(registry: Registry) -> None:
    add_licences(registry, {f"M{i:03d}": day(1 + i % 5) for i in range(60)}, start=100)
    barrier = threading.Barrier(2)
    runs: list[object] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            barrier.wait()
            runs.append(expire_due(registry, at=NOW, actor="node", chunk=7))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    changed = [lid for run in runs for lid in run.expired]  # type: ignore[attr-defined]
    assert len(changed) == len(set(changed)) == 63  # 60 + E1, E2, X1
    events = count_events(registry, "expired")
    assert len(events) == 63 and set(events.values()) == {1}


@pytest.fixture
def pg_registry() -> Iterator[Registry]:
    from tests.db_support import fresh_postgres_url

    for url in fresh_postgres_url():
        reg = new_registry(url)
        try:
            yield reg
        finally:
            reg.close()


@pytest.mark.postgres
def test_two_runs_that_read_the_same_due_licences_change_each_once(
        pg_registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race itself, forced: both runs read the same chunk before either writes (no
    database lock orders them on PostgreSQL); the conditional UPDATE lets one of them win
    each licence, the other counts it as changed elsewhere."""
    from trust.registry import expiry

    add_licences(pg_registry, {f"M{i:03d}": day(2) for i in range(20)})
    real, both_read = expiry._due_ids, threading.Barrier(2, timeout=30)

    def read_then_wait(*args: object) -> list[str]:
        ids = real(*args)  # type: ignore[arg-type]
        if ids and ids[0] == "M000":
            both_read.wait()  # the other run holds the same ids, nothing written yet
        return ids

    monkeypatch.setattr(expiry, "_due_ids", read_then_wait)
    runs: list[expiry.ExpiryRun] = []

    def run() -> None:
        runs.append(expire_due(pg_registry, at=NOW, actor="node", chunk=20))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(runs) == 2
    assert sum(len(r.expired) for r in runs) == 20
    assert sum(r.lost for r in runs) == 20  # each licence lost by exactly one run
    assert set(count_events(pg_registry, "expired").values()) == {1}


def test_status_list_and_verifiers_report_expired(registry: Registry) -> None:
    expire_due(registry, at=NOW, actor="ops")
    with registry.session() as s:
        listed = build_status_list(s, USCC, at=NOW)
        index = {str(r[0]): int(r[1]) for r in s.execute(select(Licence.id, Licence.status_index))}
    # fail open before value 6: "expired" was left out of the list, i.e. published as valid
    assert listed.status(index["E1"]) is ListValue.EXPIRED
    assert listed.status(index["T1"]) is ListValue.VALID
    again = StatusList.from_cbor(listed.to_cbor())
    assert again.status(index["X1"]) is ListValue.EXPIRED
    # read the bytes without our reader: CBOR map, zlib, 4-bit entries MSB first
    import zlib

    import cbor2

    raw = cbor2.loads(listed.to_cbor())
    bits = zlib.decompress(raw[7])
    nibble = {lid: (bits[i // 2] >> (4 - 4 * (i % 2))) & 0xF for lid, i in index.items()}
    assert raw[5] == 4
    assert nibble == {"E1": 6, "E2": 6, "X1": 6, "T1": 0, "F1": 0, "N1": 0, "R1": 1}

    from trust.trustlist import TrustList

    trust = TrustList(1, NOW, NOW + timedelta(days=1), ())
    offline = ListStatus(trust, {USCC: listed}, {})
    online = RegistryStatus(registry.url)
    try:
        for source, lid in ((offline, "E1"), (online, "E1")):
            check = source.licence_status(_licence_id(lid), NOW, index[lid]) \
                if source is offline else source.licence_status(lid, NOW)
            assert (check.indication, check.sub_indication) == (
                Indication.TOTAL_FAILED, SubIndication.EXPIRED), check
        valid = online.licence_status("T1", NOW)
        assert valid.indication is Indication.TOTAL_PASSED
        # before the job ran (validation time in the past) the registry said valid
        earlier = online.licence_status("E1", NOW - timedelta(hours=2))
        assert earlier.indication is Indication.TOTAL_PASSED
    finally:
        online.close()


def _licence_id(_: str) -> str:
    """A well-formed licence id of issuer ``USCC`` (the offline check reads the issuer)."""
    from datetime import date

    from trust.licence_id import format_licence_id

    return format_licence_id("BL", USCC, 1, date(2026, 1, 1))


def test_token_status_check_fails_expired() -> None:
    from trust.token.verify import _status_check

    check = _status_check("status", ListValue.EXPIRED)
    assert (check.indication, check.sub_indication) == (Indication.TOTAL_FAILED,
                                                        SubIndication.EXPIRED)


def test_the_page_says_expired_in_both_languages() -> None:
    """A status list saying expired: the page names it, not "cannot decide"."""
    from trust.token.verify import TokenResult, _status_check
    from verification.qr import result_view

    check = _status_check("status", ListValue.EXPIRED)
    view = result_view(TokenResult(Indication.TOTAL_FAILED, SubIndication.EXPIRED, (check,)))
    assert (view["message_zh"], view["message_en"]) == ("证照已过期", "The licence has expired")


def test_the_due_queries_read_an_index_not_every_licence(tmp_path: Any) -> None:
    """Threat: a daily job reading every licence ever issued (tens of millions, growing)
    until it misses its window. SQLite's plan for both due queries must search an index
    on (status, valid_to), never scan the table."""
    from sqlalchemy import text

    from trust.registry.expiry import _due_ids
    from trust.registry.expiry_notices import _window

    reg = new_registry(f"sqlite:///{tmp_path / 'plan.db'}")
    add_licences(reg, {f"L{i:05d}": day(1 + i % 28) for i in range(300)})
    captured: list[str] = []
    try:
        with reg.session() as s:
            s.execute(text("ANALYZE"))
            conn = s.connection()

            def plan(run: Any) -> str:
                def before(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
                    if statement.lstrip().upper().startswith("SELECT") and not captured:
                        captured.append(str(conn.exec_driver_sql(
                            "EXPLAIN QUERY PLAN " + statement, params).fetchall()))
                from sqlalchemy import event
                event.listen(conn, "before_cursor_execute", before)
                try:
                    run()
                finally:
                    event.remove(conn, "before_cursor_execute", before)
                return captured.pop()

            due = plan(lambda: _due_ids(s, day(5), None, 100))
            window = plan(lambda: _window(s, NOW, timedelta(days=30), (day(7), "L0"), 100))
    finally:
        reg.close()
    for found in (due, window):
        assert "ix_licences_status_valid_to" in found, found
        assert "SCAN licences" not in found, found
