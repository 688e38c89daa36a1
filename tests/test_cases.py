"""自动发证 / 码上办 through the API, on SQLite and PostgreSQL: approval events, the outbox
worker, lookup by case code, notifications without personal data."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.auth import Role, create_client
from api.cases import EventKeys, sign_event
from api.cli import cli
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.notify import LogNotifier, WebhookNotifier
from api.services import load_services
from api.settings import Settings
from api.worker import Worker, deployment_worker
from signing.types import builtin_types
from signing.types._formats import resident_id_check_char
from trust.registry import outbox
from trust.registry.models import AuditEntry, Case, Licence, OutboxItem

TYPES = builtin_types()
MARK_NAME = "禤翀翃"
MARK_ID = "11010519491231937" + resident_id_check_char("11010519491231937")
MARK_ADDRESS = "翀翃市禤家巷四百零四号"
MARKERS = (MARK_NAME, MARK_ID, MARK_ADDRESS)


def _dl(index: int = 0) -> dict[str, Any]:
    """A driving licence (produced by the shipped service DL-REISSUE) with marker values."""
    record = TYPES.get("DL").example(index)
    record.update(name=MARK_NAME, license_number=MARK_ID, address=MARK_ADDRESS,
                  birth_date="1949-12-31")
    return record


def _event(code: str, record: dict[str, Any] | None = None, *, applicant: str = MARK_ID,
           service: str = "DL-REISSUE", licence_type: str | None = "DL") -> dict[str, Any]:
    licence: dict[str, Any] = {"record": record or _dl()}
    if licence_type is not None:
        licence["type"] = licence_type
    return {"case_code": code, "service": service, "approved_at": "2026-12-06T10:00:00+08:00",
            "applicant": {"kind": "person", "id": applicant}, "licences": [licence]}


@dataclass
class Env:
    root: Path
    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, str]
    url: str

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def event_key(self, who: str = "approval") -> bytes:
        return EventKeys.of(Home(self.root)).for_client(self.ids[who])

    def signed(self, body: bytes, *, who: str = "approval", key: bytes | None = None,
               at: datetime | None = None, nonce: str | None = None) -> dict[str, str]:
        stamp = str(int((at or datetime.now(UTC)).timestamp()))
        nonce = nonce or secrets.token_hex(16)
        return {**self.headers(who), "Content-Type": "application/json",
                "X-SealTrust-Timestamp": stamp, "X-SealTrust-Nonce": nonce,
                "X-SealTrust-Signature": sign_event(key or self.event_key(who), stamp, nonce,
                                                    body)}

    def post(self, event: dict[str, Any], **kwargs: Any) -> httpx.Response:
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        return self.client.post("/v1/cases/approved", content=body,
                                headers=self.signed(body, **kwargs))

    def holder(self, holder_id: str) -> dict[str, str]:
        opened = self.client.post("/v1/holder/sessions", json={"holder_id": holder_id},
                                  headers=self.headers("holder_app"))
        assert opened.status_code == 201, opened.text
        return {**self.headers("holder_app"), "X-Holder-Session": opened.json()["session"]}

    def deployment(self) -> Deployment:
        home = Home(self.root)
        return Deployment(home, load_config(home))

    def work(self, **kwargs: Any) -> dict[str, int]:
        """One ``sealtrust worker --once`` in this process (its own deployment)."""
        dep = self.deployment()
        try:
            return deployment_worker(dep, Settings(home=self.root), **kwargs).run_once()
        finally:
            dep.close()


def _make_env(root: Path, url: str, monkeypatch: pytest.MonkeyPatch, *,
              worker: bool = False) -> Iterator[Env]:
    monkeypatch.setenv("SEALTRUST_DATABASE_URL", url)
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    tokens: dict[str, str] = {}
    ids: dict[str, str] = {}
    try:
        with dep.registry.session() as s:
            for who, roles, dept in (("approval", {Role.APPROVAL_SYSTEM}, DEMO_DEPARTMENT),
                                     ("approval2", {Role.APPROVAL_SYSTEM}, DEMO_DEPARTMENT),
                                     ("issuer", {Role.ISSUER}, DEMO_DEPARTMENT),
                                     ("holder_app", {Role.HOLDER_APP}, None)):
                client, tokens[who] = create_client(s, who, frozenset(roles), dept)
                ids[who] = client.id
    finally:
        dep.close()
    with TestClient(create_app(Settings(home=root, worker=worker))) as client:
        yield Env(root, client, tokens, ids, url)


@pytest.fixture
def env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    yield from _make_env(tmp_path / "home", db_url, monkeypatch)


def _count(env: Env, model: Any, *where: Any) -> int:
    dep = env.deployment()
    try:
        with dep.registry.session() as s:
            return int(s.execute(select(func.count()).select_from(model).where(*where))
                       .scalar_one())
    finally:
        dep.close()


def test_an_event_posted_twice_issues_once_and_answers_the_same(env: Env) -> None:
    event = _event("330100-20261206-000001")
    first = env.post(event)
    assert first.status_code == 202, first.text
    # The same event again, re-serialised (other key order, fresh nonce and timestamp).
    again = env.post(dict(reversed(list(event.items()))))
    assert again.status_code == 202 and again.json() == first.json()
    assert env.work()["done"] == 2  # the case, then its holder notification
    assert env.post(event).json() == first.json()
    assert env.work() == {"done": 0, "failed": 0, "retry": 0, "dead": 0, "lost": 0}
    assert _count(env, Licence) == 1
    shown = env.client.get("/v1/cases/330100-20261206-000001").json()
    assert shown["state"] == "issued" and len(shown["licences"]) == 1
    assert shown["licences"][0]["status"] == "valid"
    # A different event under the same case code is a conflict, never a second licence.
    changed = env.post(_event("330100-20261206-000001", _dl(1)))
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "case.conflict"
    other_client = env.post(event, who="approval2")
    assert other_client.status_code == 409
    assert _count(env, Licence) == 1


def test_tampered_stale_and_replayed_events_are_refused(env: Env) -> None:
    event = _event("330100-20261206-000002")
    body = json.dumps(event, ensure_ascii=False).encode()
    headers = env.signed(body)

    def post(data: bytes, hdrs: dict[str, str]) -> httpx.Response:
        return env.client.post("/v1/cases/approved", content=data, headers=hdrs)

    tampered = post(body.replace(b"DL-REISSUE", b"VL-TRANSFER"), headers)
    assert tampered.status_code == 401 and tampered.json()["error"]["code"] == "case.signature"
    stale = env.post(event, at=datetime.now(UTC) - timedelta(minutes=6))
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "case.stale"
    future = env.post(event, at=datetime.now(UTC) + timedelta(minutes=6))
    assert future.json()["error"]["code"] == "case.stale"
    # Another approval system's key, or the right client without any signature.
    foreign = env.post(event, key=env.event_key("approval2"))
    assert foreign.status_code == 401 and foreign.json()["error"]["code"] == "case.signature"
    unsigned = env.client.post("/v1/cases/approved", content=body,
                               headers=env.headers("approval"))
    assert unsigned.status_code == 401
    assert _count(env, Case) == 0
    ok = post(body, headers)
    assert ok.status_code == 202, ok.text
    replayed = post(body, headers)
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "case.replay"
    # Other roles may not post events at all.
    issuer = env.post(event, who="issuer", key=env.event_key("approval"))
    assert issuer.status_code == 403


def test_bad_records_foreign_applicants_and_foreign_types_are_refused_at_once(
        env: Env) -> None:
    bad = _dl()
    bad["license_number"] = "123"
    refused = env.post(_event("330100-20261206-000003", bad, applicant="123"))
    assert refused.status_code == 422
    other = "11010519491231945" + resident_id_check_char("11010519491231945")
    mismatch = env.post(_event("330100-20261206-000004", applicant=other))
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["code"] == "case.applicant"
    # The service decides what a case may produce: not another type, not an unknown service.
    ric = TYPES.get("RIC").example(0)
    foreign = env.post(_event("330100-20261206-000012", ric, applicant=ric["id_number"],
                              licence_type="RIC"))
    assert foreign.status_code == 422 and foreign.json()["error"]["code"] == "case.type"
    # Unknown, and a shipped service that produces nothing (taken from the catalogue, so the
    # test follows the data).
    barren = next(s.code for s in load_services(TYPES).all() if not s.produces)
    for service in ("NO-SUCH-SERVICE", barren):
        unknown = env.post(_event("330100-20261206-000013", service=service))
        assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "case.service"
    for text in (refused.text, mismatch.text):
        assert not any(m in text for m in MARKERS)
    assert _count(env, Case) == 0
    # The type may be left out when the service produces exactly one.
    implied = env.post(_event("330100-20261206-000014", licence_type=None))
    assert implied.status_code == 202, implied.text


def _die_mid_issuance(root: str, url: str) -> None:
    """A worker process killed (SIGKILL) after rendering and storing, before its commit."""
    os.environ["SEALTRUST_DATABASE_URL"] = url
    import api.cases

    real = api.cases.issue_one

    def issue_then_die(*args: Any, **kwargs: Any) -> Any:
        issued = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return issued

    api.cases.issue_one = issue_then_die  # type: ignore[assignment]
    home = Home(Path(root))
    dep = Deployment(home, load_config(home))
    deployment_worker(dep, Settings(home=Path(root)), lease=timedelta(seconds=60)).run_once()


def test_a_worker_killed_mid_job_never_loses_the_case(env: Env) -> None:
    assert env.post(_event("330100-20261206-000005")).status_code == 202
    process = multiprocessing.get_context("spawn").Process(
        target=_die_mid_issuance, args=(str(env.root), env.url))
    process.start()
    process.join(timeout=120)
    assert process.exitcode == -signal.SIGKILL
    assert _count(env, Licence) == 0  # its transaction died with it
    assert env.work()["done"] == 0  # still leased to the dead worker
    after_lease = datetime.now(UTC) + timedelta(seconds=61)  # rather than wait a minute
    assert env.work(clock=lambda: after_lease)["done"] == 2
    assert _count(env, Licence) == 1
    assert env.client.get("/v1/cases/330100-20261206-000005").json()["state"] == "issued"


def test_a_worker_that_lost_its_lease_rolls_back(env: Env) -> None:
    assert env.post(_event("330100-20261206-000006")).status_code == 202
    dep = env.deployment()
    try:
        clock = [datetime.now(UTC)]
        slow = deployment_worker(dep, Settings(home=env.root), lease=timedelta(seconds=30),
                                 clock=lambda: clock[0])
        (held,) = slow.claim()  # ... and stalls past its lease
        clock[0] += timedelta(seconds=31)
        fast = deployment_worker(dep, Settings(home=env.root), clock=lambda: clock[0])
        assert fast.run_once()["done"] == 2
        assert slow.process(held) == "lost"
    finally:
        dep.close()
    assert _count(env, Licence) == 1
    assert _count(env, OutboxItem, OutboxItem.topic == "notify") == 1


def test_lookup_masks_for_the_public_and_shows_the_holder_everything(env: Env) -> None:
    code = "330100-20261206-000007"
    assert env.post(_event(code)).status_code == 202
    pending = env.client.get(f"/v1/cases/{code}").json()
    assert pending["state"] == "accepted" and pending["licences"] == []
    env.work()
    public = env.client.get(f"/v1/cases/{code}")
    assert public.status_code == 200 and public.headers["cache-control"] == "no-store"
    (licence,) = public.json()["licences"]
    assert not any(m in public.text for m in MARKERS)
    assert licence["record"]["license_number"] == "*" * 14 + MARK_ID[-4:]
    assert licence["record"]["name"] == MARK_NAME[0] + "*" + MARK_NAME[-1]
    assert licence["record"]["birth_date"] == "1949-**-**"
    assert "holder_name" not in licence
    mine = env.client.get(f"/v1/cases/{code}", headers=env.holder(MARK_ID))
    assert mine.status_code == 200
    (full,) = mine.json()["licences"]
    assert full["record"]["license_number"] == MARK_ID
    assert full["record"]["address"] == MARK_ADDRESS
    downloaded = env.client.get(full["download"], headers=env.holder(MARK_ID))
    assert downloaded.status_code == 200 and downloaded.content.startswith(b"%PDF")
    # Another holder's session: "not found", exactly like a code that does not exist.
    other = "11010519491231945" + resident_id_check_char("11010519491231945")
    theirs = env.client.get(f"/v1/cases/{code}", headers=env.holder(other))
    unknown = env.client.get("/v1/cases/330100-20261206-999999", headers=env.holder(other))
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["error"]["code"] == unknown.json()["error"]["code"] == "case.not_found"
    assert theirs.json()["error"]["message"].replace(code, "X") == \
        unknown.json()["error"]["message"].replace("330100-20261206-999999", "X")
    assert env.client.get("/v1/cases/x").status_code == 404


def _marker_free(text: str | bytes) -> bool:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return not any(form in data for m in MARKERS
                   for form in (m.encode(), json.dumps(m)[1:-1].encode("ascii")))


def test_notifications_audit_and_outbox_carry_no_personal_data(
        env: Env, caplog: pytest.LogCaptureFixture) -> None:
    code = "330100-20261206-000008"
    with caplog.at_level(logging.DEBUG):
        assert env.post(_event(code)).status_code == 202
        dep = env.deployment()
        try:
            with dep.registry.session() as s:  # waiting: the records are sealed
                case = s.get(Case, code)
                assert case is not None and case.pending is not None
                assert case.data_key is not None and _marker_free(case.pending)
            seen: list[httpx.Request] = []
            hook = WebhookNotifier("https://app.example/hook", b"k" * 32, client=httpx.Client(
                transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))))
            from api.cases import case_handler

            worker = Worker.with_notifier(dep.registry, hook,
                                          {"case.issue": case_handler(dep)})
            assert worker.run_once()["done"] == 2  # the case, then its notification
            assert Worker.with_notifier(dep.registry, LogNotifier()).run_once()["done"] == 0
            with dep.registry.session() as s:
                case = s.get(Case, code)
                assert case is not None and case.pending is None and case.data_key is None
                payloads = [json.dumps(i.payload, ensure_ascii=False)
                            for i in s.execute(select(OutboxItem)).scalars()]
                audit_rows = [bytes(e.canonical) for e in s.execute(select(AuditEntry)).scalars()]
                kinds = [e.kind for e in s.execute(select(AuditEntry)).scalars()]
        finally:
            dep.close()
    (request,) = seen
    body = json.loads(request.content)
    assert body["kind"] == "licence.issued" and body["case_code"] == code
    assert len(body["holder_ref"]) == 64
    assert {"case.accepted", "case.issued"} <= set(kinds)
    for blob in (request.content, caplog.text, *payloads, *audit_rows):
        assert _marker_free(blob)


def test_an_undeliverable_notification_stays_in_the_outbox(env: Env) -> None:
    code = "330100-20261206-000009"
    assert env.post(_event(code)).status_code == 202
    dep = env.deployment()
    try:
        from api.cases import case_handler

        down = WebhookNotifier("https://app.example/hook", b"k" * 32, client=httpx.Client(
            transport=httpx.MockTransport(lambda r: httpx.Response(503))))
        tally = Worker.with_notifier(dep.registry, down,
                                     {"case.issue": case_handler(dep)}).run_once()
        assert tally["done"] == 1 and tally["retry"] == 1
        with dep.registry.session() as s:
            assert outbox.counts(s, "notify") == {"pending": 1, "done": 0, "dead": 0}
    finally:
        dep.close()


def test_cli_cases_show_and_worker_once(env: Env) -> None:
    code = "330100-20261206-000010"
    assert env.post(_event(code)).status_code == 202
    runner = CliRunner()
    ran = runner.invoke(cli, ["worker", "--once", "--json", "--home", str(env.root)])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["processed"]["done"] == 2
    shown = runner.invoke(cli, ["cases", "show", code, "--json", "--home", str(env.root)])
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    assert view["state"] == "issued" and _marker_free(shown.stdout)
    full = runner.invoke(cli, ["cases", "show", code, "--full", "--json", "--home",
                               str(env.root)])
    assert json.loads(full.stdout)["licences"][0]["record"]["license_number"] == MARK_ID
    missing = runner.invoke(cli, ["cases", "show", "330100-20261206-999999", "--home",
                                  str(env.root)])
    assert missing.exit_code == 2


def test_clients_add_shows_the_event_key_once(env: Env) -> None:
    runner = CliRunner()
    added = runner.invoke(cli, ["clients", "add", "--name", "审批系统", "--role",
                                "approval_system", "--dept", DEMO_DEPARTMENT, "--json",
                                "--home", str(env.root)])
    assert added.exit_code == 0, added.output
    shown = json.loads(added.stdout)
    assert bytes.fromhex(shown["event_key"]) == \
        EventKeys.of(Home(env.root)).for_client(shown["id"])
    no_dept = runner.invoke(cli, ["clients", "add", "--name", "x", "--role", "approval_system",
                                  "--home", str(env.root)])
    assert no_dept.exit_code == 2


def test_serve_issues_approved_cases_in_the_background(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.db_support import sqlite_url

    for env in _make_env(tmp_path / "home", sqlite_url(tmp_path), monkeypatch, worker=True):
        code = "330100-20261206-000011"
        assert env.post(_event(code)).status_code == 202
        deadline = time.monotonic() + 60
        while env.client.get(f"/v1/cases/{code}").json()["state"] != "issued":
            assert time.monotonic() < deadline, "the serve worker did not issue the case"
            time.sleep(0.2)


def test_a_dead_lettered_notice_is_listed_requeued_once_and_delivered(env: Env) -> None:
    code = "330100-20261206-000011"
    assert env.post(_event(code)).status_code == 202
    dep = env.deployment()
    delivered: list[bytes] = []
    try:
        from api.cases import case_handler

        def webhook(up: bool) -> WebhookNotifier:
            def answer(request: httpx.Request) -> httpx.Response:
                if up:
                    delivered.append(request.content)
                return httpx.Response(204 if up else 503)
            return WebhookNotifier("https://app.example/hook", b"k" * 32,
                                   client=httpx.Client(transport=httpx.MockTransport(answer)))

        down = Worker.with_notifier(dep.registry, webhook(False),
                                    {"case.issue": case_handler(dep)}, max_attempts=1)
        assert down.run_once()["dead"] == 1  # the webhook is down: one attempt, then dead
        runner = CliRunner()
        home = ["--home", str(env.root), "--json"]
        listed = json.loads(runner.invoke(cli, ["outbox", "dead", *home]).stdout)["dead"]
        assert [i["topic"] for i in listed] == ["notify"] and "notify.delivery" in listed[0]["last_error"]
        item = listed[0]["id"]
        dry = json.loads(runner.invoke(cli, ["outbox", "requeue", "--all", "--dry-run",
                                             *home]).stdout)
        assert dry["requeued"] == [item]
        with dep.registry.session() as s:
            assert outbox.counts(s, "notify")["dead"] == 1  # the dry run changed nothing
        both = runner.invoke(cli, ["outbox", "requeue", str(item), "--all", *home])
        assert both.exit_code == 2  # ids or --all, not both
        done = json.loads(runner.invoke(cli, ["outbox", "requeue", str(item), *home]).stdout)
        assert done["requeued"] == [item]
        again = json.loads(runner.invoke(cli, ["outbox", "requeue", str(item), *home]).stdout)
        assert again["requeued"] == [] and again["not_dead"] == [item]  # requeued once only
        up = Worker.with_notifier(dep.registry, webhook(True))
        assert up.run_once()["done"] == 1 and len(delivered) == 1
        with dep.registry.session() as s:
            assert outbox.counts(s, "notify") == {"pending": 0, "done": 1, "dead": 0}
            entries = s.scalars(select(AuditEntry).where(
                AuditEntry.kind == "outbox.requeued")).all()
            assert len(entries) == 1 and entries[0].actor.startswith("cli:")
        # A done item is never requeued.
        assert json.loads(runner.invoke(cli, ["outbox", "requeue", "--all", *home])
                          .stdout)["requeued"] == []
    finally:
        dep.close()
