"""Rollback, fork and edited columns: caught by checkpoints held outside the database.

The scenario from issue 12: delete the newest audit entries together with
their signed heads (5 entries -> 4, heads 2 -> 1). ``verify_log`` alone still
says intact; a head kept elsewhere (``--checkpoint``, the witness) does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from api.auth import Role, create_client
from api.deployment import Deployment, Home, init_deployment, load_config
from tests.server_support import running_servers
from trust import audit
from trust.keys import SoftwareKey
from trust.registry import Registry, migrate
from trust.registry.models import AuditEntry, Sequence, TreeHead
from trust.witness import Outcome, judge

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _add(registry: Registry, key: SoftwareKey, count: int, tag: str, at: datetime) -> None:
    with registry.session() as s:
        for i in range(count):
            audit.append(s, kind="licence.issued", actor="dept-1", subject=f"{tag}{i}", at=at)
        audit.sign_head(s, key, at)


def _rollback(registry: Registry, keep: int) -> None:
    """What an insider with database access does: newest entries and their heads go."""
    with registry.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > keep))
        s.execute(delete(TreeHead).where(TreeHead.size > keep))
        s.execute(update(Sequence).where(Sequence.name == "audit").values(value=keep))


@pytest.fixture
def log(db_url: str) -> Iterator[tuple[Registry, SoftwareKey]]:
    migrate(db_url)
    registry = Registry(db_url)
    key = SoftwareKey.generate("sm2")
    _add(registry, key, 4, "L", T0)
    _add(registry, key, 1, "M", T0 + timedelta(minutes=1))  # 5 entries, 2 heads
    yield registry, key
    registry.close()


def _latest(registry: Registry) -> audit.Checkpoint:
    with registry.session() as s:
        head = audit.latest_head(s)
        assert head is not None
        return audit.Checkpoint.from_json(audit.Checkpoint.from_head(head).to_json())


def test_rollback_passes_verify_log_but_not_a_checkpoint(
        log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    held = _latest(registry)
    assert held.size == 5
    _rollback(registry, 4)
    with registry.session() as s:
        check = audit.verify_log(s, [key.public_key_der()])
        assert check.ok and (check.entries, check.heads) == (4, 1)  # the hole, by itself
        problems = audit.check_checkpoint(s, held, [key.public_key_der()])
    assert any("rolled back" in p and "5" in p for p in problems), problems


def test_fork_under_a_held_head_is_caught(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    held = _latest(registry)
    _rollback(registry, 4)
    _add(registry, key, 3, "X", T0 + timedelta(minutes=2))  # another history, 7 entries
    with registry.session() as s:
        assert audit.verify_log(s, [key.public_key_der()]).ok  # consistent with itself
        problems = audit.check_checkpoint(s, held, [key.public_key_der()])
        new = audit.Checkpoint.from_head(audit.latest_head(s))  # type: ignore[arg-type]
        proof = audit.consistency(s, held.size, new.size)
    assert any("forked" in p for p in problems), problems
    assert judge(held, new, proof, key.public_key_der()).outcome is Outcome.FORK


def test_checkpoint_signed_by_another_key_is_refused(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    held = _latest(registry)
    with registry.session() as s:
        assert audit.check_checkpoint(s, held, [key.public_key_der()]) == []
        other = SoftwareKey.generate("sm2").public_key_der()
        assert "not signed by the log key" in audit.check_checkpoint(s, held, [other])[0]


def test_witness_judgements(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    spki = key.public_key_der()
    first = _latest(registry)
    assert judge(None, first, None, spki).outcome is Outcome.FIRST
    assert judge(first, first, None, spki).outcome is Outcome.SAME
    _add(registry, key, 2, "N", T0 + timedelta(minutes=3))
    grown = _latest(registry)
    with registry.session() as s:
        proof = audit.consistency(s, first.size, grown.size)
    assert judge(first, grown, proof, spki).outcome is Outcome.EXTENDED
    assert judge(grown, first, None, spki).outcome is Outcome.ROLLBACK
    assert judge(first, grown, proof[1:], spki).outcome is Outcome.FORK
    other = SoftwareKey.generate("sm2").public_key_der()
    assert judge(first, grown, proof, other).outcome is Outcome.BAD_SIGNATURE


def test_edited_columns_are_detected(log: tuple[Registry, SoftwareKey]) -> None:
    registry, key = log
    with registry.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="someone-else"))
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(
            at=T0 + timedelta(days=1), kind="licence.revoked", subject="L9"))
    with registry.session() as s:
        problems = audit.verify_log(s, [key.public_key_der()]).problems
    assert "entry 2: column(s) actor differ from its signed canonical document" in problems
    assert "entry 3: column(s) at, kind, subject differ from its signed canonical document" \
        in problems
    assert len(problems) == 2


def _cli(home: Path, *args: str, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", "audit", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {}),
                                                       "SEALTRUST_HOME": str(home)})


def _grow(home: Path, count: int, tag: str) -> None:
    """Entries and a head, as a CLI command writes them (it signs before it exits)."""
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        now = datetime.now(UTC)
        with dep.registry.session() as s:
            for i in range(count):
                audit.append(s, kind="test.entry", actor="test", subject=f"{tag}{i}", at=now)
            audit.sign_pending(s, dep.key("audit"), now)
    finally:
        dep.close()


def _db_rollback(home: Path, keep: int) -> None:
    registry = Registry(Home(home).database_url())
    try:
        _rollback(registry, keep)
    finally:
        registry.close()


def test_cli_verify_checkpoint_refuses_the_rolled_back_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_deployment(home)
    _grow(home, 2, "a")
    _grow(home, 1, "b")
    head_file = tmp_path / "head.json"
    saved = _cli(home, "head", "--out", str(head_file), "--json")
    assert saved.returncode == 0, saved.stderr
    size = json.loads(head_file.read_text())["size"]
    _db_rollback(home, size - 1)
    plain = _cli(home, "verify", "--json")
    assert plain.returncode == 0, plain.stdout  # without a checkpoint: looks intact
    caught = _cli(home, "verify", "--checkpoint", str(head_file), "--json")
    assert caught.returncode == 1
    report = json.loads(caught.stdout)
    assert not report["ok"] and report["checkpoints"] == [size]
    assert any("rolled back" in p for p in report["problems"]), report
    head_file.write_text("{}")
    assert _cli(home, "verify", "--checkpoint", str(head_file)).returncode == 2


def test_witness_against_a_running_service(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_deployment(home)
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        with dep.registry.session() as s:
            _, credential = create_client(s, "witness", frozenset({Role.AUDITOR}))
    finally:
        dep.close()
    _grow(home, 3, "a")
    state = tmp_path / "witness"
    env = {"SEALTRUST_WITNESS_CREDENTIAL": credential}
    with running_servers(home) as (node,):
        def witness(*extra: str) -> tuple[int, list[dict[str, object]]]:
            run = _cli(home, "witness", "--url", node.url, "--state", str(state), "--json",
                       *extra, env=env)
            return run.returncode, [json.loads(line) for line in run.stdout.splitlines()]

        code, out = witness("--once")
        assert code == 0 and out[0]["outcome"] == "first" and out[0]["ok"], out
        held = json.loads((state / "head.json").read_text())["size"]
        assert (state / "log-key.der").exists()
        _grow(home, 2, "b")
        code, out = witness("--polls", "2", "--interval", "0.1")
        assert code == 0 and [o["outcome"] for o in out] == ["extended", "same"], out
        assert out[0]["held"] == held and out[0]["seen"] == held + 2
        before = (state / "head.json").read_text()
        _db_rollback(home, held + 1)  # the rollback: newest entry and head gone
        code, out = witness("--once")
        assert code == 1 and out[0]["outcome"] == "rollback", out
        assert "回滚" in str(out[0]["message"]) and "ROLLBACK" in str(out[0]["message"])
        assert (state / "head.json").read_text() == before  # the held head is kept
        _grow(home, 4, "fork")  # a different history that is longer than the held head
        code, out = witness("--once")
        assert code == 1 and out[0]["outcome"] == "fork", out
        assert witness("--once")[0] == 1  # still refused: the held head did not move
    no_service = _cli(home, "witness", "--url", node.url, "--state", str(state), "--once",
                      env=env)
    assert no_service.returncode == 1 and "cannot check the head" in no_service.stderr



def test_api_shows_the_signed_actor_not_the_edited_column(tmp_path: Path) -> None:
    from tests.api_support import build_api

    for api in build_api(tmp_path / "home"):
        registry = Registry(Home(api.home).database_url())
        try:
            with registry.session() as s:
                s.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(
                    actor="mallory", subject="elsewhere"))
        finally:
            registry.close()
        shown = api.client.get("/v1/audit/entries", headers=api.headers("auditor")).json()[0]
        signed = json.loads(shown["canonical"])
        assert shown["seq"] == 1 and shown["actor"] == signed["actor"] != "mallory"
        assert shown["subject"] == signed["subject"] != "elsewhere"
        key = api.client.get("/v1/audit/key", headers=api.headers("auditor")).json()
        assert len(bytes.fromhex(key["spki_der"])) > 64
        assert api.client.get("/v1/audit/key", headers=api.headers("issuer")).status_code == 403


def test_the_trust_list_carries_a_checkpoint_that_catches_a_rollback(tmp_path: Path) -> None:
    from api.routes.trust import export_lists
    from trust.trustlist import TrustList

    home = tmp_path / "home"
    init_deployment(home)
    _grow(home, 2, "a")
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        signed = export_lists(dep, datetime.now(UTC))
        listed = TrustList.verify(signed.trust_list, [signed.anchor])
        assert listed.audit_head is not None
        held = audit.Checkpoint.from_json(json.loads(listed.audit_head))
        # every status list carries the same checkpoint (key 10), signed by the list signer
        from trust.status import StatusList

        for data in signed.status_lists.values():
            status = StatusList.verify(data, listed)
            assert status.audit_head == listed.audit_head
        log_key = dep.key("audit").public_key_der()
        with dep.registry.session() as s:
            assert audit.check_checkpoint(s, held, [log_key]) == []
    finally:
        dep.close()
    _db_rollback(home, held.size - 1)
    registry = Registry(Home(home).database_url())
    try:
        with registry.session() as s:
            assert audit.verify_log(s, [log_key]).ok
            assert any("rolled back" in p for p in audit.check_checkpoint(s, held, [log_key]))
    finally:
        registry.close()
