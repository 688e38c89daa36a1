"""Keyed request digests (issue 17): no plain hash of a licence record is stored.

The stored value is checked against an independent HMAC (RFC 2104 written
here over gmssl's pure-Python SM3), not our own MAC code, and idempotency is
exercised before, during (interrupted) and after the upgrade of old rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gmssl import sm3 as gm_sm3
from sqlalchemy import select, update

from api import issuance
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.batch import run_batch
from signing.issue import IdempotencyConflictError, request_digest
from signing.types import builtin_types
from trust.registry.models import Licence

TYPES = builtin_types()


def _gm_sm3(data: bytes) -> bytes:
    return bytes.fromhex(gm_sm3.sm3_hash(list(data)))


def independent_mac(key: bytes, sha256_hex: str) -> str:
    """HMAC-SM3(key, "SealTrust request v1" 0x00 || SHA-256) from the documented format."""
    block = key.ljust(64, b"\x00") if len(key) <= 64 else _gm_sm3(key).ljust(64, b"\x00")
    inner = _gm_sm3(bytes(b ^ 0x36 for b in block) + b"SealTrust request v1\x00"
                    + bytes.fromhex(sha256_hex))
    return _gm_sm3(bytes(b ^ 0x5C for b in block) + inner).hex()


@pytest.fixture
def dep(tmp_path: Path) -> Iterator[Deployment]:
    root = tmp_path / "home"
    init_deployment(root)
    deployment = Deployment(Home(root), load_config(Home(root)))
    yield deployment
    deployment.close()


def _issue(dep: Deployment, code: str, record: dict[str, Any], key: str) -> Any:
    with dep.registry.session() as s:
        return issue_one(dep, s, type_code=code, record=record, department=DEMO_DEPARTMENT,
                         idempotency_key=key, actor="t")


def _digest(code: str, record: dict[str, Any]) -> str:
    """The plain SHA-256 issuance computes over the validated record."""
    return request_digest(code, TYPES.get(code).validate(dict(record)), DEMO_DEPARTMENT)


def _batch(dep: Deployment, tmp_path: Path, record: dict[str, Any]) -> Any:
    lines = tmp_path / "batch.jsonl"
    lines.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    options = {"out_dir": str(tmp_path / "out"), "type": "SSC", "department": DEMO_DEPARTMENT,
               "alg": "sm2", "key_uri": None, "actor": "t"}
    (tmp_path / "out" / "issued.jsonl").unlink(missing_ok=True)  # not a resume: look it up
    return run_batch(lines, tmp_path / "out", initializer=issuance.batch_worker_init,
                     initargs=(str(dep.home.root), options),
                     work=issuance.batch_worker_issue, workers=1, chunk=1)


def test_no_plain_request_digest_is_stored(dep: Deployment, tmp_path: Path) -> None:
    """The SQLite file (and WAL) holds neither the request's SHA-256 nor a batch key of it."""
    record = TYPES.get("DL").example(3)
    issued = _issue(dep, "DL", record, "req-1")
    raw_batch = TYPES.get("SSC").example(4)
    assert _batch(dep, tmp_path, raw_batch).issued == 1
    stored = b"".join(p.read_bytes() for p in dep.home.root.glob("sealtrust.db*"))
    for code, rec in (("DL", record), ("SSC", raw_batch)):
        assert _digest(code, rec).encode() not in stored
        assert request_digest(code, rec, DEMO_DEPARTMENT).encode() not in stored
    key = dep.home.request_key_file.read_bytes()
    with dep.registry.session() as s:
        licence = s.get(Licence, issued.licence_id)
        assert licence is not None and licence.request_sha256 is None
        assert licence.request_mac == independent_mac(key, _digest("DL", record))
        keys = set(s.execute(select(Licence.idempotency_key)).scalars())
    raw_sha = request_digest("SSC", raw_batch, DEMO_DEPARTMENT)
    assert f"batch:m:{independent_mac(key, raw_sha)}" in keys


def _make_legacy(dep: Deployment, rows: dict[str, tuple[str, str | None]]) -> None:
    """Rows as issuance stored them before 0012: plain digest, batch key of the raw SHA-256."""
    with dep.registry.session() as s:
        for lid, (sha, batch_sha) in rows.items():
            values: dict[str, Any] = {"request_sha256": sha, "request_mac": None}
            if batch_sha is not None:
                values["idempotency_key"] = f"batch:{batch_sha}"
            s.execute(update(Licence).where(Licence.id == lid).values(**values))


def _retries_work(dep: Deployment, issued: dict[str, Any],
                  records: dict[str, dict[str, Any]]) -> None:
    for key, first in issued.items():
        again = _issue(dep, "DL", records[key], key)
        assert (again.licence_id, again.reused) == (first.licence_id, True)
    with pytest.raises(IdempotencyConflictError):  # same key, another record: refused
        _issue(dep, "DL", records["req-1"], "req-0")


def test_idempotency_works_across_an_interrupted_upgrade(dep: Deployment,
                                                         tmp_path: Path) -> None:
    from trust.registry.request_macs import count_unkeyed, upgrade_request_macs
    from trust.request_mac import RequestKey

    records = {f"req-{i}": TYPES.get("DL").example(40 + i) for i in range(5)}
    issued = {k: _issue(dep, "DL", r, k) for k, r in records.items()}
    raw_batch = TYPES.get("SSC").example(41)
    assert _batch(dep, tmp_path, raw_batch).issued == 1
    raw_sha = request_digest("SSC", raw_batch, DEMO_DEPARTMENT)
    with dep.registry.session() as s:
        batch_id = s.execute(select(Licence.id).where(
            Licence.idempotency_key.like("batch:%"))).scalar_one()
    legacy = {v.licence_id: (_digest("DL", records[k]), None) for k, v in issued.items()}
    legacy[batch_id] = (_digest("SSC", raw_batch), raw_sha)
    _make_legacy(dep, legacy)
    total = len(legacy)

    _retries_work(dep, issued, records)  # old rows, new code
    assert _batch(dep, tmp_path, raw_batch).reused == 1  # found by its legacy key

    class Stop(Exception):
        pass

    def stop(done: int) -> None:
        raise Stop

    key = RequestKey(dep.home.request_key_file.read_bytes())
    with pytest.raises(Stop):  # interrupted after its first batch of 2 committed
        upgrade_request_macs(dep.registry, key, batch=2, on_batch=stop)
    assert count_unkeyed(dep.registry) == total - 2
    _retries_work(dep, issued, records)  # mixed state
    assert _batch(dep, tmp_path, raw_batch).reused == 1

    result = init_deployment(dep.home.root)  # an upgrade run finishes the job
    assert f"keyed the request digest of {total - 2} existing licences" in result.actions
    assert count_unkeyed(dep.registry) == 0
    assert upgrade_request_macs(dep.registry, key) == 0  # a finished run is a no-op
    stored = b"".join(p.read_bytes() for p in dep.home.root.glob("sealtrust.db*"))
    for sha, _ in legacy.values():  # init vacuumed: no old digest left in freed pages
        assert sha.encode() not in stored and raw_sha.encode() not in stored
    secret = dep.home.request_key_file.read_bytes()
    with dep.registry.session() as s:
        for lid, (sha, batch_sha) in legacy.items():
            licence = s.get(Licence, lid)
            assert licence is not None and licence.request_sha256 is None
            assert licence.request_mac == independent_mac(secret, sha)
            if batch_sha is not None:
                assert licence.idempotency_key == f"batch:m:{independent_mac(secret, raw_sha)}"
    _retries_work(dep, issued, records)
    summary = _batch(dep, tmp_path, raw_batch)
    assert (summary.issued, summary.reused) == (1, 1)  # the same licence, not a second one
    with dep.registry.session() as s:
        assert len(s.execute(select(Licence.id)).all()) == total


def test_a_row_with_no_digest_is_never_handed_out(dep: Deployment) -> None:
    """Fail closed: a row whose digest is missing cannot prove a retry is the same request."""
    record = TYPES.get("DL").example(9)
    first = _issue(dep, "DL", record, "req-9")
    with dep.registry.session() as s:
        s.execute(update(Licence).where(Licence.id == first.licence_id)
                  .values(request_mac=None, request_sha256=None))
    with pytest.raises(IdempotencyConflictError):
        _issue(dep, "DL", record, "req-9")


def test_missing_or_other_request_key_fails_readiness(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    root = tmp_path / "home"
    init_deployment(root)
    key_file = Home(root).request_key_file
    original = key_file.read_bytes()

    def ready() -> tuple[int, str]:
        with TestClient(create_app(Settings(home=root))) as client:
            answer = client.get("/health/ready")
            return answer.status_code, answer.json()["checks"]["request_key"]

    assert ready() == (200, "ok")
    key_file.write_bytes(bytes(32))  # another key under the same name
    assert ready() == (503, "down: request.key_mismatch")
    key_file.unlink()
    code, state = ready()
    assert code == 503 and state.startswith("down: ")
    key_file.write_bytes(original)
    assert ready() == (200, "ok")
