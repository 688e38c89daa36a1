"""Lifecycle through the API and the CLI, on SQLite and PostgreSQL: renewal, bulk, expiry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from api.cli import cli as cli_main
from api.deployment import DEMO_DEPARTMENT, Deployment
from tests.api_support import OTHER_DEPARTMENT, Api, build_api
from tests.db_support import fresh_postgres_url
from tests.licence_corpus import dated
from trust.registry.models import AuditEntry, Department, Licence, OutboxItem
from trust.registry.statuslist import build_status_list
from trust.status import LicenceStatus as ListValue

CST = timezone(timedelta(hours=8))
TODAY = datetime.now(CST).date()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp(f"lifecycle-{request.param}") / "home"
    if request.param == "sqlite":
        yield from build_api(root)
        return
    for url in fresh_postgres_url():
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SEALTRUST_DATABASE_URL", url)
            yield from build_api(root)


def deployment(api: Api) -> Deployment:
    dep: Deployment = api.client.app.state.deployment  # type: ignore[attr-defined]
    return dep


def issue(api: Api, record: dict[str, Any], who: str = "issuer", type_code: str = "BL",
          historical: bool = False) -> str:
    made = api.client.post("/v1/licences", json={"type": type_code, "record": record,
                                                 "historical": historical},
                           headers=api.headers(who))
    assert made.status_code == 201, made.text
    return str(made.json()["licence_id"])


def show(api: Api, licence_id: str) -> dict[str, Any]:
    got = api.client.get(f"/v1/licences/{licence_id}", headers=api.headers("auditor"))
    assert got.status_code == 200, got.text
    return dict(got.json())


def licence_count(api: Api) -> int:
    with deployment(api).registry.session() as s:
        return int(s.execute(select(func.count()).select_from(Licence)).scalar_one())


def years(n: int) -> date:
    return TODAY.replace(year=TODAY.year + n)


def test_renewal_supersedes_with_a_licence_of_the_same_holder(api: Api) -> None:
    old = issue(api, dated("BL", 301, TODAY - timedelta(days=300), TODAY + timedelta(days=20)))
    renewed = api.client.post(f"/v1/licences/{old}/renew",
                              json={"record": dated("BL", 301, TODAY, years(5))},
                              headers=api.headers("issuer"))
    assert renewed.status_code == 201, renewed.text
    new = renewed.json()["licence_id"]
    assert renewed.json()["renewed"] == old and new != old
    before, after = show(api, old), show(api, new)
    assert (before["status"], before["superseded_by"]) == ("superseded", new)
    assert after["status"] == "valid" and after["type"] == "BL"
    last_day = datetime.fromisoformat(after["valid_to"]).astimezone(CST).date()
    assert last_day == years(5)
    with deployment(api).registry.session() as s:
        refs = {str(r[0]): r[1] for r in s.execute(select(Licence.id, Licence.holder_ref)
                                                   .where(Licence.id.in_([old, new])))}
        entry = s.execute(select(AuditEntry.canonical).where(
            AuditEntry.kind == "licence.renewed", AuditEntry.subject == new)).scalar_one()
        notice = s.execute(select(OutboxItem.payload).where(
            OutboxItem.dedupe_key == f"notify:licence.renewed:{new}")).scalar_one()
    assert refs[old] == refs[new] is not None
    assert old.encode() in entry
    assert notice["holder_ref"] == refs[new] and notice["kind"] == "licence.renewed"
    again = api.client.post(f"/v1/licences/{old}/renew",
                            json={"record": dated("BL", 301, TODAY, years(5))},
                            headers=api.headers("issuer"))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "licence.not_renewable"


def test_renewal_refuses_another_holder_and_stores_nothing(api: Api) -> None:
    old = issue(api, dated("BL", 302, TODAY - timedelta(days=10), years(1)))
    count = licence_count(api)
    refused = api.client.post(f"/v1/licences/{old}/renew",
                              json={"record": dated("BL", 303, TODAY, years(5))},
                              headers=api.headers("issuer"))
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "licence.renewal_holder_mismatch"
    assert "持证人" in error["message"] and "same holder" in error["message"]
    assert licence_count(api) == count and show(api, old)["status"] == "valid"
    other = api.client.post(f"/v1/licences/{old}/renew",
                            json={"record": dated("BL", 302, TODAY, years(5))},
                            headers=api.headers("other_issuer"))
    assert other.status_code == 403
    assert licence_count(api) == count


def test_renewal_is_one_transaction(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the new licence was stored (here: the supersede) leaves nothing."""
    import api.renewal as renewal

    old = issue(api, dated("BL", 304, TODAY - timedelta(days=10), years(1)))
    count = licence_count(api)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("crash between issuing and superseding")

    monkeypatch.setattr(renewal, "change_status", broken)
    dep = deployment(api)
    with pytest.raises(RuntimeError), dep.registry.session() as s:
        renewal.renew_licence(dep, s, old, dated("BL", 304, TODAY, years(5)), actor="t",
                              at=datetime.now(UTC))
    assert licence_count(api) == count
    assert show(api, old)["status"] == "valid"


def test_bulk_dry_run_then_run_by_type_and_ids(api: Api) -> None:
    ids = [issue(api, dated("DL", 400 + i, TODAY - timedelta(days=5), years(2)),
                 type_code="DL") for i in range(3)]
    sealed = api.client.post("/v1/seals", json={"department": OTHER_DEPARTMENT},
                             headers=api.headers("other_seal_admin"))
    assert sealed.status_code == 201, sealed.text
    foreign = issue(api, dated("DL", 410, TODAY - timedelta(days=5), years(2)),
                    who="other_issuer", type_code="DL")
    with deployment(api).registry.session() as s:
        live = sorted(s.execute(select(Licence.id).where(
            Licence.type_code == "DL", Licence.department_code == DEMO_DEPARTMENT,
            Licence.status.in_(["valid", "suspended"]))).scalars())
    dry = api.client.post("/v1/lifecycle/bulk/cancel",
                          json={"type": "DL", "reason": "type withdrawn", "dry_run": True},
                          headers=api.headers("issuer"))
    assert dry.status_code == 200, dry.text
    assert dry.json()["licence_ids"] == live and set(ids) <= set(live)
    assert dry.json()["counts"]["would_change"] == len(live)
    assert all(show(api, i)["status"] == "valid" for i in ids)
    # another department's id in the list: refused as a whole, nothing changed
    mixed = api.client.post("/v1/lifecycle/bulk/revoke",
                            json={"ids": [ids[0], foreign], "reason": "r"},
                            headers=api.headers("issuer"))
    assert mixed.status_code == 403
    assert show(api, ids[0])["status"] == "valid"
    for who in ("auditor", "verifier"):
        assert api.client.post("/v1/lifecycle/bulk/revoke", json={"ids": ids, "reason": "r"},
                               headers=api.headers(who)).status_code == 403
    assert api.client.post("/v1/lifecycle/bulk/revoke", json={"reason": "r"},
                           headers=api.headers("issuer")).status_code == 422
    done = api.client.post("/v1/lifecycle/bulk/revoke",
                           json={"ids": [*ids[:2], "NO-SUCH-ID"], "reason": "fraud ring"},
                           headers=api.headers("issuer"))
    assert done.status_code == 200, done.text
    assert done.json()["licence_ids"] == ids[:2] and done.json()["missing"] == ["NO-SUCH-ID"]
    assert [show(api, i)["status"] for i in ids] == ["revoked", "revoked", "valid"]
    dep = deployment(api)
    with dep.registry.session() as s:
        uscc = s.execute(select(Department.uscc).where(
            Department.code == DEMO_DEPARTMENT)).scalar_one()
        listed = build_status_list(s, uscc, at=datetime.now(UTC))
        index = {str(r[0]): int(r[1]) for r in s.execute(
            select(Licence.id, Licence.status_index).where(Licence.id.in_(ids)))}
    assert [listed.status(index[i]) for i in ids] == [ListValue.REVOKED, ListValue.REVOKED,
                                                      ListValue.VALID]


def test_expire_due_cli_and_the_verifier_reports_expired(api: Api, tmp_path: Path) -> None:
    ended = issue(api, dated("APR", 501, TODAY - timedelta(days=800), TODAY - timedelta(days=2)),
                  type_code="APR", historical=True)
    current = issue(api, dated("APR", 502, TODAY - timedelta(days=2), years(1)),
                    type_code="APR")
    runner = CliRunner()
    base = ["--home", str(api.home), "--json"]
    dry = runner.invoke(cli_main, ["licence", "expire-due", "--dry-run", *base])
    assert dry.exit_code == 0, dry.output
    assert ended in json.loads(dry.stdout)["licence_ids"]
    assert show(api, ended)["status"] == "valid"
    ahead = runner.invoke(cli_main, ["licence", "expire-due", "--as-of",
                                     years(3).isoformat(), *base])
    assert ahead.exit_code == 2  # only a dry run may look ahead
    run = runner.invoke(cli_main, ["licence", "expire-due", "--operator", "ops", *base])
    assert run.exit_code == 0, run.output
    assert ended in json.loads(run.stdout)["licence_ids"]
    assert show(api, ended)["status"] == "expired" and show(api, current)["status"] == "valid"
    rerun = runner.invoke(cli_main, ["licence", "expire-due", *base])
    assert json.loads(rerun.stdout)["expired"] == 0
    pdf = api.client.get(f"/v1/licences/{ended}/pdf", headers=api.headers("auditor")).content
    verified = api.client.post("/v1/verify", headers=api.headers("verifier"),
                               files=[("files", ("e.pdf", pdf, "application/pdf"))])
    report = json.loads(verified.text.splitlines()[0])
    checks = {c["name"]: c for c in report["signatures"][0]["checks"]}
    assert (checks["licence_status"]["indication"], checks["licence_status"]["sub_indication"]) \
        == ("TOTAL_FAILED", "EXPIRED"), checks["licence_status"]
    assert report["indication"] == "TOTAL_FAILED"


def test_each_variant_runs_on_its_database(api: Api, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.params["api"]
    assert deployment(api).registry.url.startswith(
        "postgresql" if backend == "postgres" else "sqlite")


def test_daily_run_is_claimed_once_per_day_and_catches_up(api: Api) -> None:
    from api.lifecycle_schedule import DailyLifecycle, next_run, parse_daily_at

    ended = issue(api, dated("APR", 601, TODAY - timedelta(days=700), TODAY - timedelta(days=1)),
                  type_code="APR", historical=True)
    soon = issue(api, dated("APR", 602, TODAY - timedelta(days=300), TODAY + timedelta(days=9)),
                 type_code="APR")
    dep = deployment(api)
    at = parse_daily_at("02:00")
    assert at is not None
    node_a = DailyLifecycle(dep, at, 30, "node-a")
    node_b = DailyLifecycle(dep, at, 30, "node-b")
    now = datetime.now(UTC)  # build_api turns the timer off: nobody claimed today yet
    first = node_a.run_now(now)
    assert first is not None and first["expired"] >= 1 and first["notices_queued"] >= 1
    assert node_b.run_now(now + timedelta(seconds=5)) is None  # the day is node a's
    assert node_b.run_now(now + timedelta(days=1)) is not None  # the next day: whoever claims
    assert show(api, ended)["status"] == "expired" and show(api, soon)["status"] == "valid"
    with dep.registry.session() as s:
        notices = s.execute(select(OutboxItem.dedupe_key).where(
            OutboxItem.dedupe_key == f"notify:expiring:{soon}")).scalars().all()
    assert notices == [f"notify:expiring:{soon}"]
    assert next_run(datetime(2026, 12, 6, 17, 0, tzinfo=UTC), at) == datetime(
        2026, 12, 6, 18, 0, tzinfo=UTC)  # 02:00 China time
    assert next_run(datetime(2026, 12, 6, 18, 0, tzinfo=UTC), at) == datetime(
        2026, 12, 7, 18, 0, tzinfo=UTC)


def test_the_schedule_setting_is_checked() -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    assert Settings(lifecycle_daily_at="off").lifecycle_daily_at == "off"
    for bad in ("25:00", "2am", ""):
        with pytest.raises(ValidationError):
            Settings(lifecycle_daily_at=bad)


def test_cli_renew_and_bulk_with_an_ids_file(api: Api, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--home", str(api.home), "--json", "--operator", "desk-7"]
    old = issue(api, dated("BL", 701, TODAY - timedelta(days=30), years(1)))
    record = tmp_path / "rec.json"
    record.write_text(json.dumps(dated("BL", 702, TODAY, years(5))), "utf-8")
    refused = runner.invoke(cli_main, ["licence", "renew", old, "--data", str(record), *base])
    assert refused.exit_code != 0 and show(api, old)["status"] == "valid"
    record.write_text(json.dumps(dated("BL", 701, TODAY, years(5))), "utf-8")
    renewed = runner.invoke(cli_main, ["licence", "renew", old, "--data", str(record), *base])
    assert renewed.exit_code == 0, renewed.output
    new = json.loads(renewed.stdout)["licence_id"]
    assert show(api, old)["superseded_by"] == new

    targets = [issue(api, dated("BL", 710 + i, TODAY - timedelta(days=3), years(1)))
               for i in range(3)]
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join([*targets, old, "# done by hand", "NOPE-1"]) + "\n", "utf-8")
    dry = runner.invoke(cli_main, ["licence", "bulk", "revoke", "--ids", str(ids), "--reason",
                                   "court order", "--dry-run", *base])
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.stdout)
    assert planned["counts"] == {"would_change": 3, "skipped": 1, "missing": 1}
    assert planned["licence_ids"] == targets and planned["skipped"] == {old: "superseded"}
    assert all(show(api, t)["status"] == "valid" for t in targets)
    done = runner.invoke(cli_main, ["licence", "bulk", "revoke", "--ids", str(ids), "--reason",
                                    "court order", *base])
    assert json.loads(done.stdout)["licence_ids"] == targets
    assert all(show(api, t)["status"] == "revoked" for t in targets)
    with deployment(api).registry.session() as s:
        actors = set(s.execute(select(AuditEntry.actor).where(
            AuditEntry.subject.in_(targets), AuditEntry.kind == "licence.revoked")).scalars())
    assert actors == {"cli:desk-7"}
    both = runner.invoke(cli_main, ["licence", "bulk", "cancel", "--ids", str(ids),
                                    "--department", DEMO_DEPARTMENT, "--reason", "r", *base])
    assert both.exit_code == 2
