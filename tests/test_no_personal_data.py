"""Nothing personal where it does not belong: marker values issued, superseded, granted, refused,
archived.

Licences carry marker values (a name, an identity number, an address no
other data contains); afterwards every log line, audit entry, metric, error
body, job record, stored column and the raw database (SQLite file, or a
pg_dump of PostgreSQL) is searched for them, in UTF-8 and as JSON escapes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select

from signing.types import builtin_types
from signing.types._formats import resident_id_check_char
from tests.api_support import Api, build_api
from tests.db_support import fresh_postgres_url
from trust.token import decode_token, mask_name

TYPES = builtin_types()
MARK_NAME = "禤翀翃"
MARK_ID = "11010519491231937" + resident_id_check_char("11010519491231937")
MARK_BAD_ID = "11010519491231938" + "0"  # wrong check character: refused, must not echo
MARK_ADDRESS = "翀翃市禤家巷四百零四号"
MARKERS = (MARK_NAME, MARK_ID, MARK_BAD_ID, MARK_ADDRESS)


def _forms(marker: str) -> list[bytes]:
    """The byte forms a marker takes in storage: UTF-8, JSON \\u escapes, UTF-16 (pg text)."""
    return [marker.encode("utf-8"), json.dumps(marker)[1:-1].encode("ascii"),
            marker.encode("utf-16-le")]


def _leaks(blob: bytes | str, where: str) -> list[str]:
    data = blob.encode("utf-8") if isinstance(blob, str) else blob
    return [f"{where}: {m}" for m in MARKERS if any(f in data for f in _forms(m))]


def _record(i: int, **changes: Any) -> dict[str, Any]:
    record = TYPES.get("DL").example(700 + i)
    record.update(changes)
    return record


def _archive(api: Api, folder: Path, licence_ids: list[str]) -> list[str]:
    """Export the marked licences for the records office; leaks in the package's entries."""
    from click.testing import CliRunner

    from api.cli import cli as sealtrust
    from tests.records_office import make_records_office

    cert, _ = make_records_office(folder / "office")
    out = folder / "archive.zip"
    args = ["archive", "export", "--recipient", str(cert), "--out", str(out),
            "--home", str(api.home), "--json"]
    for lid in licence_ids:
        args += ["--licence", lid]
    result = CliRunner().invoke(sealtrust, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    leaks = _leaks(result.stdout, "archive export output")
    leaks += _leaks(out.read_bytes(), "raw archive package")
    with zipfile.ZipFile(out) as zf:  # inflated: the clear parts, and the sealed ones
        for name in zf.namelist():
            leaks += _leaks(zf.read(name), f"archive entry {name}")
    return leaks


def _scenario(api: Api, folder: Path) -> list[str]:
    """Issue, show, supersede, present, grant, refuse and archive with marker values; the
    leaks seen."""
    leaks: list[str] = []
    issuer = api.headers("issuer")
    marked = {"name": MARK_NAME, "license_number": MARK_ID, "address": MARK_ADDRESS}
    first = api.client.post("/v1/licences", json={"type": "DL", "record": _record(1, **marked)},
                            headers=issuer)
    assert first.status_code == 201, first.text
    second = api.client.post("/v1/licences", json={"type": "DL",
                                                    "record": _record(2, **marked)},
                             headers=issuer)
    assert second.status_code == 201, second.text
    old, new = first.json()["licence_id"], second.json()["licence_id"]
    holder = api.holder_headers(MARK_ID)  # a holder session for the marked holder
    shown = api.client.get(f"/v1/licences/{new}", headers=api.headers("auditor")).json()
    assert shown["holder_name"] == MARK_NAME  # decrypted for an authorised reader
    assert api.client.get(f"/v1/licences/{new}/pdf", headers=holder).content[:5] == b"%PDF-"
    superseded = api.client.post(f"/v1/licences/{old}/supersede",
                                 json={"reason": "renewed", "by": new}, headers=issuer)
    assert superseded.status_code == 200, superseded.text  # an authorised answer: may show it
    presented = api.client.post("/v1/presentations", json={"licence_id": new}, headers=holder)
    assert presented.status_code == 201, presented.text
    claims = decode_token(presented.json()["token"]).claims
    assert claims.holder_name == mask_name(MARK_NAME)  # the masking rules still hold
    leaks += _leaks(presented.text, "presentation token")
    granted = api.client.post("/v1/grants", json={
        "licence_id": new, "verifier_id": "counter-1", "scope": ["name", "address"]},
        headers=holder)
    assert granted.status_code == 201, granted.text
    leaks += _leaks(granted.text, "grant answer")
    bad = _record(3, name=MARK_NAME, license_number=MARK_BAD_ID, address=MARK_ADDRESS)
    refused = api.client.post("/v1/licences", json={"type": "DL", "record": bad}, headers=issuer)
    assert refused.status_code == 422
    leaks += _leaks(refused.text, "error body")
    job = api.client.post("/v1/licences/batch", json={"type": "DL", "records": [
        _record(4, **marked), bad]}, headers=issuer)
    assert job.status_code == 202, job.text
    job_id = job.json()["job_id"]
    deadline, status = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        status = api.client.get(f"/v1/licences/batch/{job_id}", headers=issuer).json()
        if status["state"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert status["state"] in ("done", "failed"), status  # finished, not timed out
    assert (status["done"], status["failed"]) == (1, 1), status
    leaks += _leaks(json.dumps(status, ensure_ascii=False), "job status")
    leaks += _archive(api, folder, [old, new])
    leaks += _leaks(api.client.get("/metrics").text, "metrics")
    entries = api.client.get("/v1/audit/entries", params={"limit": 500},
                             headers=api.headers("auditor"))
    leaks += _leaks(entries.text, "audit entries (API)")
    return leaks


def _stored_leaks(url: str) -> list[str]:
    """Every column of every table, read raw (no decryption), searched for the markers."""
    engine = create_engine(url)
    leaks: list[str] = []
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(select(table)):
                    for column, value in zip(table.columns, row, strict=True):
                        if value is None:
                            continue
                        blob = bytes(value) if isinstance(value, bytes | memoryview) else \
                            json.dumps(value, ensure_ascii=False, default=str).encode()
                        leaks += _leaks(blob, f"{table.name}.{column.name}")
    finally:
        engine.dispose()
    return leaks


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_markers_reach_no_log_audit_metric_job_column_or_database_file(
        tmp_path: Path, logs: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "home"
    api_iter = build_api(root)
    api = next(api_iter)
    try:
        leaks = _scenario(api, tmp_path)
    finally:
        with pytest.raises(StopIteration):
            next(api_iter)
    leaks += _leaks("\n".join(r.getMessage() + " " + str(r.args) for r in logs.records)
                    + logs.text, "log lines")
    leaks += _stored_leaks(f"sqlite:///{root / 'sealtrust.db'}")
    for path in root.glob("sealtrust.db*"):  # the file itself, WAL included
        leaks += _leaks(path.read_bytes(), f"raw {path.name}")
    assert not leaks, leaks


@pytest.mark.postgres
def test_markers_reach_no_postgresql_dump(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          logs: pytest.LogCaptureFixture) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump not installed")
    for url in fresh_postgres_url():
        monkeypatch.setenv("SEALTRUST_DATABASE_URL", url)
        api_iter = build_api(tmp_path / "home")
        api = next(api_iter)
        try:
            leaks = _scenario(api, tmp_path)
        finally:
            with pytest.raises(StopIteration):
                next(api_iter)
        leaks += _stored_leaks(url)
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        dump = subprocess.run([pg_dump, "--no-owner", libpq], capture_output=True, check=True,
                              timeout=120, env={**os.environ}).stdout
        assert b"licence_files" in dump and len(dump) > 10_000
        leaks += _leaks(dump, "pg_dump")
        leaks += _leaks(logs.text, "log lines")
        assert not leaks, leaks
