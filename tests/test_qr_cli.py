"""``sealtrust qr issue|verify`` and ``sealtrust trust export`` as a user runs them.

Exit codes are the contract: 0 only for TOTAL_PASSED, 1 for any other
verdict, 2 for usage errors. The exported files are read back with the
openssl CLI (anchor) and cbor2 (lists), not only with our own loaders.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from click.testing import CliRunner, Result

from api.cli import cli
from api.deployment import init_deployment
from signing.types import builtin_types


def run(home: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], input=input,
                              catch_exceptions=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("qrcli") / "home"
    init_deployment(root)
    return root


def issue(home: Path, tmp: Path, seed: int) -> str:
    record: dict[str, Any] = builtin_types().get("DL").example(seed)
    today = date.today()
    record["valid_from"] = (today - timedelta(days=10)).isoformat()
    record["valid_until"] = (today + timedelta(days=700)).isoformat()
    data = tmp / f"r{seed}.json"
    data.write_text(json.dumps(record, ensure_ascii=False))
    result = run(home, "issue", "--type", "DL", "--data", str(data), "--out",
                 str(tmp / f"{seed}.pdf"))
    assert result.exit_code == 0, result.output
    licence_id: str = json.loads(result.stdout)["licence_id"]
    return licence_id


def test_issue_then_verify_online_once_and_offline_from_image(home: Path, tmp_path: Path) -> None:
    licence_id = issue(home, tmp_path, 601)
    png, svg = tmp_path / "qr.png", tmp_path / "qr.svg"
    issued = run(home, "qr", "issue", licence_id, "--ttl", "90", "--png", str(png),
                 "--svg", str(svg))
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert token.startswith("LZ1:") and "\n" not in token
    assert png.read_bytes()[:4] == b"\x89PNG" and b"<svg" in svg.read_bytes()
    public = run(home, "qr", "verify", token, "--json")  # a public check spends nothing
    assert public.exit_code == 0, public.output
    first = run(home, "qr", "verify", token, "--redeem", "--json")
    assert first.exit_code == 0, first.output
    view = json.loads(first.stdout)
    assert view["indication"] == "TOTAL_PASSED" and view["online"] is True
    replay = run(home, "qr", "verify", token, "--redeem", "--json")
    assert replay.exit_code == 1
    assert json.loads(replay.stdout)["sub_indication"] == "SIG_CONSTRAINTS_FAILURE"
    offline = run(home, "qr", "verify", "--image", str(png), "--offline")
    assert offline.exit_code == 0, offline.output
    assert "TOTAL_PASSED" in offline.stderr and "status list age" in offline.stderr
    piped = run(home, "qr", "verify", "-", "--offline", "--json", input=token + "\n")
    assert piped.exit_code == 0 and json.loads(piped.stdout)["online"] is False


def test_export_then_revoke_then_export_again(home: Path, tmp_path: Path) -> None:
    licence_id = issue(home, tmp_path, 602)
    token = run(home, "qr", "issue", licence_id).stdout.strip()
    old, new = tmp_path / "old", tmp_path / "new"
    exported = run(home, "trust", "export", "--out", str(old), "--json")
    assert exported.exit_code == 0, exported.output
    manifest = json.loads(exported.stdout)
    assert "trust-list.cose" in manifest["files"] and "anchor.pem" in manifest["files"]
    status_files = sorted((old / "status").glob("*.cose"))
    assert len(status_files) == 1  # one list per department: only the demo one here
    if shutil.which("openssl"):
        subject = subprocess.run(["openssl", "x509", "-in", str(old / "anchor.pem"), "-noout",
                                  "-subject"], capture_output=True, text=True, check=True)
        assert "subject=" in subject.stdout
    payload = cbor2.loads(cbor2.loads((old / "trust-list.cose").read_bytes()).value[2])
    assert payload[1] == manifest["sequence"] and {e[3] for e in payload[4]} == {
        "issuer-ca", "token-signer", "status-signer"}
    assert run(home, "qr", "verify", token, "--offline", "--lists", str(old)).exit_code == 0
    revoked = run(home, "licence", "revoke", licence_id, "--reason", "test")
    assert revoked.exit_code == 0, revoked.output
    # Lists exported before the revocation cannot know (their age is reported) ...
    assert run(home, "qr", "verify", token, "--offline", "--lists", str(old)).exit_code == 0
    # ... a fresh export and the online check do.
    assert run(home, "trust", "export", "--out", str(new)).exit_code == 0
    fresh = run(home, "qr", "verify", token, "--offline", "--lists", str(new), "--json")
    assert fresh.exit_code == 1
    assert json.loads(fresh.stdout)["sub_indication"] == "REVOKED"
    online = run(home, "qr", "verify", token, "--json")
    assert online.exit_code == 1 and json.loads(online.stdout)["sub_indication"] == "REVOKED"
    refused = run(home, "qr", "issue", licence_id)
    assert refused.exit_code == 1 and "revoked" in refused.stderr


def test_tampered_lists_and_wrong_anchor_are_refused(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "lists"
    assert run(home, "trust", "export", "--out", str(out)).exit_code == 0
    other = home / "pki" / "rsa-root.pem"
    wrong = run(home, "qr", "verify", "LZ1:X", "--offline", "--lists", str(out),
                "--anchor", str(other))
    assert wrong.exit_code == 1 and "trustlist.signature" in wrong.stderr
    listed = bytearray((out / "trust-list.cose").read_bytes())
    listed[-5] ^= 1
    (out / "trust-list.cose").write_bytes(bytes(listed))
    tampered = run(home, "qr", "verify", "LZ1:X", "--offline", "--lists", str(out))
    assert tampered.exit_code == 1 and "trustlist.signature" in tampered.stderr


@pytest.mark.parametrize("args", [(), ("LZ1:X", "--image", "{png}"), ("LZ1:X", "--lists", ".")])
def test_usage_errors_exit_2(home: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    png = tmp_path / "x.png"
    png.write_bytes(b"x")
    result = run(home, "qr", "verify", *(a.format(png=png) for a in args))
    assert result.exit_code == 2, result.output


def test_bad_codes_and_images_exit_1(home: Path, tmp_path: Path) -> None:
    assert run(home, "qr", "verify", "not a token").exit_code == 1
    picture = tmp_path / "noise.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    result = run(home, "qr", "verify", "--image", str(picture), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["sub_indication"] == "FORMAT_FAILURE"
    missing = run(home, "qr", "issue", "NO-SUCH-LICENCE")
    assert missing.exit_code == 2 and "licence.not_found" in missing.stderr


def test_issue_with_a_grant_for_a_counter(home: Path, tmp_path: Path) -> None:
    licence_id = issue(home, tmp_path, 603)
    shown = run(home, "qr", "issue", licence_id, "--grant-to", "counter-7",
                "--scope", "name,vehicle_class", "--json")
    assert shown.exit_code == 0, shown.output
    grant = json.loads(shown.stdout)["grant"]
    assert grant["verifier_id"] == "counter-7" and grant["scope"] == ["name", "vehicle_class"]
    half = run(home, "qr", "issue", licence_id, "--grant-to", "counter-7")
    assert half.exit_code == 2
    unknown = run(home, "qr", "issue", licence_id, "--grant-to", "c", "--scope", "salary")
    assert unknown.exit_code == 2 and "grant.scope" in unknown.stderr
