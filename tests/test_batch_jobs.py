"""Batch jobs never hang: killed workers and exceptions end in failed-with-reason or resume.

Real processes are killed with SIGKILL: the service process running an API
job (its heartbeat stops, the next status read marks the job failed), and a
worker of the CLI runner (the run stops with a typed error; run again, it
resumes from the manifest).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import api.routes.licences as licence_routes
from signing.batch import BatchItem, BatchWorkerError, ItemResult, run_batch
from tests.api_support import Api

_OUT: Path | None = None


def _init(out_dir: str) -> None:
    global _OUT
    _OUT = Path(out_dir)


def _work(items: Sequence[BatchItem]) -> list[ItemResult]:
    """Writes one file per line; the first time it meets line 7 its process is SIGKILLed."""
    assert _OUT is not None
    marker = _OUT / "killed-once"
    results = []
    for item in items:
        if item.line == 7 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        name = f"line-{item.line}.txt"
        (_OUT / name).write_text(item.text)
        results.append(ItemResult(item.line, True, licence_id=f"L{item.line}", file=name))
    return results


def _raising_work(items: Sequence[BatchItem]) -> list[ItemResult]:
    if any(item.line == 3 for item in items):
        raise RuntimeError("a bug, not a bad line")
    return _work(items)


def _run_with_deadline(**kwargs: Any) -> Any:
    """run_batch in a thread: a hang is a test failure after 90 s, not a stuck suite."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["summary"] = run_batch(**kwargs)
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(90)
    assert not thread.is_alive(), "run_batch hangs after a worker was killed"
    return outcome


def test_cli_runner_stops_with_a_reason_when_a_worker_is_killed_and_resumes(
        tmp_path: Path) -> None:
    records = tmp_path / "in.jsonl"
    records.write_text("".join(f'{{"n": {i}}}\n' for i in range(1, 21)))
    out = tmp_path / "out"
    out.mkdir()
    options: dict[str, Any] = {"records": records, "out_dir": out, "initializer": _init,
                               "initargs": (str(out),), "workers": 2, "chunk": 2}
    first = _run_with_deadline(work=_work, **options)
    assert isinstance(first.get("error"), BatchWorkerError), first
    assert first["error"].code == "batch.worker_failed"
    assert "died" in first["error"].message
    second = _run_with_deadline(work=_work, **options)
    summary = second["summary"]
    assert summary.failed == 0 and summary.issued + summary.skipped == 20
    assert sorted(int(p.stem.split("-")[1]) for p in out.glob("line-*.txt")) == list(range(1, 21))


def test_cli_runner_turns_an_exception_into_a_typed_error(tmp_path: Path) -> None:
    records = tmp_path / "in.jsonl"
    records.write_text("".join(f'{{"n": {i}}}\n' for i in range(1, 6)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "killed-once").touch()
    for workers in (1, 2):
        result = _run_with_deadline(records=records, out_dir=out, initializer=_init,
                                    initargs=(str(out),), work=_raising_work, workers=workers,
                                    chunk=1)
        error = result.get("error")
        assert isinstance(error, BatchWorkerError), result
        assert "RuntimeError" in error.message and "a bug" not in error.message


def _job(api: Api, job_id: str) -> dict[str, Any]:
    response = api.client.get(f"/v1/licences/batch/{job_id}", headers=api.headers("issuer"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _dl_records(count: int, base: int) -> list[dict[str, Any]]:
    from datetime import date, timedelta

    from signing.types import builtin_types

    dl = builtin_types().get("DL")
    out = []
    for i in range(count):
        record = dl.example(base + i)
        record["valid_from"] = (date.today() - timedelta(days=1)).isoformat()
        record["valid_until"] = (date.today() + timedelta(days=365)).isoformat()
        out.append(record)
    return out


def test_an_exception_in_a_line_marks_the_job_failed_with_its_reason(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    real = licence_routes.issue_one
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom with 330106199001011234")  # a bug quoting a record
        return real(*args, **kwargs)

    monkeypatch.setattr(licence_routes, "issue_one", flaky)
    started = api.client.post("/v1/licences/batch", headers=api.headers("issuer"),
                              json={"type": "DL", "records": _dl_records(3, 3100)})
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    deadline = time.monotonic() + 60
    while (job := _job(api, job_id))["state"] in ("queued", "running") and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    assert job["state"] == "failed", job
    assert "line 2" in job["reason"] and "RuntimeError" in job["reason"]
    assert "330106199001011234" not in str(job)
    assert [r["index"] for r in job["results"]] == [1] and job["done"] == 1


def test_a_normal_job_is_done(api: Api) -> None:
    started = api.client.post("/v1/licences/batch", headers=api.headers("issuer"),
                              json={"type": "DL", "records": _dl_records(2, 3200)})
    job_id = started.json()["job_id"]
    deadline = time.monotonic() + 60
    while (job := _job(api, job_id))["state"] in ("queued", "running") and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    assert (job["state"], job["done"], job["reason"]) == ("done", 2, None), job


_SERVICE_PROCESS = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from api.deployment import DEMO_DEPARTMENT, open_deployment
    from api.routes.licences import start_job
    from tests.test_batch_jobs import _dl_records

    with open_deployment(Path(sys.argv[1])) as dep:
        job = start_job(dep, department=DEMO_DEPARTMENT, actor="service", type_code="DL",
                        alg="sm2", records=_dl_records(500, 4000))
        print(job, flush=True)
        time.sleep(600)
""")


def test_a_service_process_killed_mid_job_leaves_a_failed_job_not_a_running_one(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    stale_s = "2"
    monkeypatch.setenv(licence_routes.JOB_STALE_ENV, stale_s)
    env = {**os.environ, licence_routes.JOB_STALE_ENV: stale_s,
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-c", _SERVICE_PROCESS, str(api.home)],
                               stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert process.stdout is not None
        job_id = process.stdout.readline().strip()
        assert job_id, "the service process did not start the job"
        deadline = time.monotonic() + 60
        while ((job := _job(api, job_id))["state"] != "running" or job["done"] < 10) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert job["state"] == "running", job
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    assert _job(api, job_id)["state"] == "running"  # the heartbeat is still fresh
    time.sleep(float(stale_s) + 1)
    job = _job(api, job_id)
    assert job["state"] == "failed", job
    assert "no heartbeat" in job["reason"] and job["done"] >= 10
    assert all("licence_id" in r for r in job["results"][:10])
