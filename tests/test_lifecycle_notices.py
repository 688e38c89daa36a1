"""Expiry notices (once per licence, by reference) and the notices the jobs queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.lifecycle_support import NOW, add_licences, day, new_registry
from trust.errors import InputError
from trust.registry import Registry
from trust.registry.bulk import BulkAction, Selection, bulk_change
from trust.registry.expiry import expire_due
from trust.registry.expiry_notices import notify_expiring
from trust.registry.lifecycle import LicenceStatus, change_status
from trust.registry.models import AuditEntry, OutboxItem


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    reg = new_registry(db_url)
    # S10 ends in 10 days, S40 in 40, D1 is already due, T1's last day is today (ends in
    # hours), SP suspended in the window, NH in the window but without a holder reference
    add_licences(reg, {"S10": day(15), "S40": day(15, 1) + timedelta(days=365),
                       "D1": day(1), "T1": day(6), "SP": day(20)})
    add_licences(reg, {"NH": day(12)}, start=50, holder_ref=None)
    with reg.session() as s:
        change_status(s, "SP", LicenceStatus.SUSPENDED, reason="inquiry", at=day(1),
                      actor="amr")
    yield reg
    reg.close()


def outbox(reg: Registry) -> list[tuple[str, dict[str, object]]]:
    with reg.session() as s:
        return [(str(r.dedupe_key), dict(r.payload)) for r in
                s.execute(select(OutboxItem).order_by(OutboxItem.id)).scalars()]


def test_each_holder_is_notified_once_within_the_lead(registry: Registry) -> None:
    first = notify_expiring(registry, at=NOW, actor="ops", lead=timedelta(days=30))
    assert sorted(first.queued) == ["S10", "T1"]
    assert first.no_holder == 1
    items = outbox(registry)
    assert sorted(k for k, _ in items) == ["notify:expiring:S10", "notify:expiring:T1"]
    payload = dict(items[0][1])
    assert payload["kind"] == "licence.expiring" and payload["holder_ref"] == "a" * 64
    assert "张三" not in repr(items)  # references only, never the holder's name
    again = notify_expiring(registry, at=NOW + timedelta(hours=3), actor="other-node",
                            lead=timedelta(days=30))
    assert again.queued == [] and again.already == 2
    shorter = notify_expiring(registry, at=NOW, actor="ops", lead=timedelta(days=39))
    assert shorter.queued == []  # S40 ends on 16 January 00:00, 40 days and 15 h away
    longer = notify_expiring(registry, at=NOW, actor="ops", lead=timedelta(days=41))
    assert longer.queued == ["S40"] and longer.already == 2  # a longer lead re-sends nothing
    assert len(outbox(registry)) == 3
    with registry.session() as s:
        kinds = list(s.execute(select(AuditEntry.kind)).scalars())
    assert kinds.count("lifecycle.expiry_notice_run") == 4


def test_dry_run_queues_nothing_and_knows_what_was_sent(registry: Registry) -> None:
    dry = notify_expiring(registry, at=NOW, actor="ops", dry_run=True)
    assert sorted(dry.queued) == ["S10", "T1"] and outbox(registry) == []
    notify_expiring(registry, at=NOW, actor="ops")
    dry = notify_expiring(registry, at=NOW, actor="ops", dry_run=True)
    assert dry.queued == [] and dry.already == 2
    with pytest.raises(InputError):
        notify_expiring(registry, at=NOW, actor="ops", lead=timedelta(days=0))


def test_expiry_and_bulk_changes_tell_the_holder_once(registry: Registry) -> None:
    expire_due(registry, at=NOW, actor="ops")
    expire_due(registry, at=NOW, actor="ops")
    bulk_change(registry, Selection(ids=("S10", "NH", "S40")), BulkAction.REVOKE, reason="r",
                at=NOW, actor="ops")
    keys = sorted(k for k, _ in outbox(registry))
    assert keys == ["notify:licence.expired:D1", "notify:licence.revoked:S10",
                    "notify:licence.revoked:S40"]  # NH has no holder reference
