"""Licence routes: issue, batch jobs, lifecycle, download; roles and departments; PostgreSQL races."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from api.deployment import DEMO_DEPARTMENT
from signing.types import builtin_types
from tests.api_support import Api

TYPES = builtin_types()


def _issue(api: Api, who: str = "issuer", **extra: object) -> dict:
    record = TYPES.get("DL").example(len(str(extra)) + 40)
    body = {"type": "DL", "record": record, **extra}
    response = api.client.post("/v1/licences", json=body, headers=api.headers(who))
    assert response.status_code == 201, response.text
    return {**response.json(), "holder_id": record["license_number"]}


def test_issue_show_download_and_revoke(api: Api) -> None:
    issued = _issue(api)
    lid = issued["licence_id"]
    shown = api.client.get(f"/v1/licences/{lid}", headers=api.headers("issuer")).json()
    assert shown["status"] == "valid"
    assert shown["department"] == DEMO_DEPARTMENT
    pdf = api.client.get(issued["download"], headers=api.holder_headers(issued["holder_id"]))
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    revoked = api.client.post(f"/v1/licences/{lid}/revoke", json={"reason": "fraud"},
                              headers=api.headers("issuer"))
    assert revoked.json()["status"] == "revoked"
    again = api.client.post(f"/v1/licences/{lid}/cancel", json={"reason": "x"},
                            headers=api.headers("issuer"))
    assert again.status_code == 409


def test_idempotency_header(api: Api) -> None:
    body = {"type": "SSC", "record": TYPES.get("SSC").example(11)}
    headers = {**api.headers("issuer"), "Idempotency-Key": "http-retry-1"}
    first = api.client.post("/v1/licences", json=body, headers=headers).json()
    second = api.client.post("/v1/licences", json=body, headers=headers).json()
    assert second["licence_id"] == first["licence_id"]
    assert second["reused"] is True


@pytest.mark.parametrize("who", ["seal_admin", "verifier", "auditor", "holder_app"])
def test_only_issuers_issue(api: Api, who: str) -> None:
    response = api.client.post("/v1/licences", json={"type": "DL",
                                                      "record": TYPES.get("DL").example(1)},
                               headers=api.headers(who))
    assert response.status_code == 403


def test_issuer_cannot_touch_another_departments_licence(api: Api) -> None:
    lid = _issue(api)["licence_id"]
    for path in (f"/v1/licences/{lid}/revoke", f"/v1/licences/{lid}/cancel"):
        response = api.client.post(path, json={"reason": "x"},
                                   headers=api.headers("other_issuer"))
        assert response.status_code == 403
    assert api.client.get(f"/v1/licences/{lid}",
                          headers=api.headers("other_issuer")).status_code == 403
    assert api.client.get(f"/v1/licences/{lid}", headers=api.headers("auditor")).status_code == 200
    assert api.client.post(f"/v1/licences/{lid}/revoke", json={"reason": "x"},
                           headers=api.headers("auditor")).status_code == 403
    assert api.client.get(f"/v1/licences/{lid}",
                          headers=api.headers("verifier")).status_code == 403


def test_bad_record_is_422_with_field_errors_and_nothing_stored(api: Api) -> None:
    record = TYPES.get("DL").example(2)
    record.pop("name")
    response = api.client.post("/v1/licences", json={"type": "DL", "record": record},
                               headers=api.headers("issuer"))
    assert response.status_code == 422
    body = response.json()["error"]
    assert "name" in body["message"]
    unknown = api.client.post("/v1/licences", json={"type": "XX", "record": {}},
                              headers=api.headers("issuer"))
    assert unknown.status_code in (404, 422)


def test_batch_job_progress_and_results(api: Api) -> None:
    records = [TYPES.get("VL").example(300 + i) for i in range(5)] + [{"broken": True}]
    started = api.client.post("/v1/licences/batch", json={"type": "VL", "records": records},
                              headers=api.headers("issuer"))
    assert started.status_code == 202
    job = started.json()["job_id"]
    deadline = time.monotonic() + 60
    status = {}
    while time.monotonic() < deadline:
        status = api.client.get(f"/v1/licences/batch/{job}", headers=api.headers("issuer")).json()
        if status["state"] == "done":
            break
        time.sleep(0.2)
    assert (status["state"], status["done"], status["failed"]) == ("done", 5, 1)
    assert status["results"][-1]["error"]["code"] == "licence.record_invalid"
    assert api.client.get(f"/v1/licences/batch/{job}",
                          headers=api.headers("other_issuer")).status_code == 403


def test_oversized_batch_is_422(api: Api) -> None:
    response = api.client.post("/v1/licences/batch",
                               json={"type": "VL", "records": [{}] * 1001},
                               headers=api.headers("issuer"))
    assert response.status_code == 422


def _issue_many(home: str, url: str, n: int, offset: int, queue: multiprocessing.Queue) -> None:
    os.environ["SEALTRUST_DATABASE_URL"] = url
    from api.deployment import Deployment, Home, load_config
    from api.issuance import issue_one

    dep = Deployment(Home(Path(home)), load_config(Home(Path(home))))
    ids = []
    try:
        for i in range(n):
            with dep.registry.session() as s:
                issued = issue_one(dep, s, type_code="DL", record=TYPES.get("DL").example(
                    offset + i), department=DEMO_DEPARTMENT, actor=f"worker{offset}")
            ids.append(issued.licence_id)
    finally:
        dep.close()
    queue.put(ids)


@pytest.mark.postgres
def test_two_processes_issuing_on_postgres_never_collide(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import func, select

    from tests.db_support import fresh_postgres_url
    from trust.registry import Registry
    from trust.registry.models import AuditEntry, Licence

    for url in fresh_postgres_url():
        monkeypatch.setenv("SEALTRUST_DATABASE_URL", url)
        from api.deployment import init_deployment

        home = tmp_path / "pg-home"
        init_deployment(home)
        ctx = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue = ctx.Queue()
        workers = [ctx.Process(target=_issue_many, args=(str(home), url, 12, k * 1000, queue))
                   for k in range(2)]
        for w in workers:
            w.start()
        ids = [lid for _ in workers for lid in queue.get(timeout=240)]
        for w in workers:
            w.join(timeout=60)
            assert w.exitcode == 0
        assert len(ids) == 24
        assert len(set(ids)) == 24
        registry = Registry(url)
        try:
            with registry.session() as s:
                assert s.execute(select(func.count()).select_from(Licence)).scalar_one() == 24
                indices = s.execute(select(Licence.status_index)).scalars().all()
                assert len(set(indices)) == 24
                kinds = s.execute(select(AuditEntry.kind)).scalars().all()
                assert kinds.count("licence.issued") == 24
        finally:
            registry.close()


def test_issuance_refuses_an_ended_validity_unless_historical(api: Api) -> None:
    """Issue 12: a record whose validity has already ended is refused (422, bilingual),
    unless the caller marks it a historical re-issue (audited as such)."""
    from tests.licence_corpus import dated

    record = dated("APR", 77, __import__("datetime").date(2016, 3, 1),
                   __import__("datetime").date(2019, 2, 28))
    refused = api.client.post("/v1/licences", json={"type": "APR", "record": record},
                              headers=api.headers("issuer"))
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "licence.validity_ended"
    assert "有效期" in error["message"] and "historical" in error["message"]
    issued = api.client.post("/v1/licences", json={"type": "APR", "record": record,
                                                   "historical": True},
                             headers=api.headers("issuer"))
    assert issued.status_code == 201, issued.text
