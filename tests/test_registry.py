"""Registry schema, migrations and the atomic counters on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import StatementError

from trust.registry import Registry, current_revision, head_revision, migrate, next_value
from trust.registry.models import Department, Meta


def test_migrate_creates_schema_and_is_idempotent(db_url: str) -> None:
    migrate(db_url)
    migrate(db_url)
    registry = Registry(db_url)
    try:
        assert current_revision(registry.engine) == head_revision()
        tables = set(inspect(registry.engine).get_table_names())
        assert {"departments", "keys", "certificates", "seals", "licences",
                "licence_events", "sequences", "meta"} <= tables
    finally:
        registry.close()


def test_datetimes_round_trip_aware_and_naive_is_refused(db_url: str) -> None:
    migrate(db_url)
    registry = Registry(db_url)
    shanghai = timezone(timedelta(hours=8))
    when = datetime(2026, 1, 2, 11, 0, tzinfo=shanghai)
    try:
        with registry.session() as s:
            s.add(Department(code="d1", name="市场监督管理局", uscc="11100000000000001X",
                             created_at=when))
        with registry.session() as s:
            dept = s.execute(select(Department)).scalar_one()
            assert dept.created_at == when
            assert dept.created_at.tzinfo is not None
            assert dept.name == "市场监督管理局"
        with pytest.raises(StatementError), registry.session() as s:
            s.add(Meta(key="k", value="v"))
            s.add(Department(code="d2", name="x", uscc="2", created_at=datetime(2026, 1, 1)))
        with registry.session() as s:  # the failed transaction left nothing behind
            assert s.get(Meta, "k") is None
    finally:
        registry.close()


def test_counters_are_unique_under_concurrency(db_url: str) -> None:
    migrate(db_url)
    registry = Registry(db_url)

    def take(_: int) -> int:
        with registry.session() as s:
            return next_value(s, "licence:BL")

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            values = list(pool.map(take, range(200)))
        assert sorted(values) == list(range(1, 201))
        with registry.session() as s:
            assert next_value(s, "other") == 1
    finally:
        registry.close()


def test_now_is_utc() -> None:
    from trust.registry.models import utcnow

    assert utcnow().tzinfo is UTC


def test_upgrade_from_first_revision_keeps_data(db_url: str) -> None:
    migrate(db_url, "0001")
    registry = Registry(db_url)
    try:
        assert current_revision(registry.engine) == "0001"
        with registry.session() as s:
            s.add(Department(code="d1", name="公安局", uscc="11100000000000001X"))
            assert next_value(s, "licence:DL") == 1
        migrate(db_url)
        assert current_revision(registry.engine) == head_revision() != "0001"
        with registry.session() as s:
            dept = s.get(Department, "d1")
            assert dept is not None and dept.name == "公安局"
            assert next_value(s, "licence:DL") == 2
    finally:
        registry.close()
