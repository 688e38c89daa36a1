"""A small registry of licences with validity ends, for the lifecycle job tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from trust.registry import Registry, migrate
from trust.registry.models import Department, Licence, LicenceEvent, SealRecord

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=CST)  # the jobs run on 6 December (China time)
USCC = "11330100002482077H"
OTHER_USCC = "91330000MA27U8W63Y"


def day(d: int, month: int = 12) -> datetime:
    """``valid_to`` as issuance stores it: 00:00 China time of the last valid day."""
    return datetime(2026, month, d, tzinfo=CST)


def new_registry(db_url: str) -> Registry:
    """Two departments (amr, psb) with a seal each, no licences."""
    migrate(db_url)
    reg = Registry(db_url)
    with reg.session() as s:
        s.add(Department(code="amr", name="市场监督管理局", uscc=USCC))
        s.add(Department(code="psb", name="公安局", uscc=OTHER_USCC))
        s.flush()
        for es_id, dept in (("S1", "amr"), ("S2", "psb")):
            s.add(SealRecord(es_id=es_id, department_code=dept, name="章", seal_type=1,
                             der=b"\x30\x00", valid_start=day(1, 1), valid_end=day(31)))
    return reg


def add_licences(reg: Registry, ends: Mapping[str, datetime | None], start: int = 1, *,
                 department: str = "amr", type_code: str = "BL",
                 holder_ref: str | None = "a" * 64) -> None:
    with reg.session() as s:
        for i, (licence_id, end) in enumerate(ends.items(), start=start):
            s.add(Licence(id=licence_id, type_code=type_code, department_code=department,
                          holder_name="张三", holder={"name": "张三"}, valid_from=day(1, 1),
                          valid_to=end, status_index=i, holder_ref=holder_ref,
                          file_sm3="00" * 32, seal_es_id="S1" if department == "amr" else "S2",
                          key_uri="file:k.p8"))
            s.add(LicenceEvent(licence_id=licence_id, at=day(1, 1), from_status=None,
                               to_status="valid", reason="issued"))


def statuses(reg: Registry) -> dict[str, str]:
    with reg.session() as s:
        return {str(k): str(v) for k, v in s.execute(select(Licence.id, Licence.status))}


def count_events(reg: Registry, to_status: str) -> dict[str, int]:
    with reg.session() as s:
        rows = s.execute(select(LicenceEvent.licence_id, func.count())
                         .where(LicenceEvent.to_status == to_status)
                         .group_by(LicenceEvent.licence_id))
        return {str(k): int(v) for k, v in rows}
