"""``sealtrust audit verify`` on a real deployment: intact, proofs, then tampering detected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, update

from api.deployment import Deployment, Home, init_deployment, load_config
from trust import audit
from trust.registry.models import AuditEntry, TreeHead


def _verify(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", "audit", "verify", *args,
                           "--home", str(home), "--json"], capture_output=True, text=True,
                          timeout=120)


def test_audit_verify_proves_and_detects_an_edited_entry(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    root = tmp_path / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    try:
        for n in range(3):  # more entries and heads, one transaction each
            now = datetime.now(UTC)
            with dep.registry.session() as s:
                for k in range(n + 1):
                    audit.append(s, kind="test.entry", actor="test", subject=f"{n}.{k}", at=now)
                audit.sign_pending(s, dep.key("audit"), now)
        with dep.registry.session() as s:
            sizes = s.execute(select(TreeHead.size).order_by(TreeHead.size)).scalars().all()
        assert len(sizes) >= 3
        ok = _verify(root, "--entry", "1", "--entry", str(sizes[-1]), "--since", str(sizes[0]))
        assert ok.returncode == 0, ok.stderr
        report = json.loads(ok.stdout)
        assert report["ok"] and report["latest_head"] == sizes[-1]
        assert [p["ok"] for p in report["proofs"]] == [True, True, True]
        beyond = _verify(root, "--entry", str(sizes[-1] + 1))
        assert beyond.returncode == 1 and "not yet covered" in beyond.stdout
        with dep.registry.session() as s:  # an insider edits one stored entry
            s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(
                canonical=AuditEntry.canonical + b" "))
        bad = _verify(root)
        assert bad.returncode == 1
        problems = json.loads(bad.stdout)["problems"]
        assert any("entry 2 was modified" in p for p in problems)
    finally:
        dep.close()
