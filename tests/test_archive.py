"""Archive packages for the records office (issue 17): export, open, independent decryption.

The content key is decrypted with the openssl command line (``pkeyutl
-decrypt``) and with gmssl's pure-Python SM2; the personal entries with
``cryptography``'s SM4-GCM from the format in docs/archive.md. None of it goes
through trust/archive.py or trust/sm2_cipher.py.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core
from click.testing import CliRunner
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3
from sqlalchemy import select

from api.cli import cli as sealtrust
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.types import builtin_types
from tests.records_office import make_records_office, private_scalar_hex
from trust.registry.lifecycle import LicenceStatus, change_status
from trust.registry.models import AuditEntry, Licence
from trust.registry.sealed import licence_file, licence_record

TYPES = builtin_types()


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("archive") / "home"
    init_deployment(root)
    deployment = Deployment(Home(root), load_config(Home(root)))
    yield deployment
    deployment.close()


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_records_office(tmp_path_factory.mktemp("office"))


@pytest.fixture(scope="module")
def licences(dep: Deployment) -> list[str]:
    ids = []
    for i in range(3):
        with dep.registry.session() as s:
            ids.append(issue_one(dep, s, type_code="DL", record=TYPES.get("DL").example(300 + i),
                                 department=DEMO_DEPARTMENT, actor="t").licence_id)
    with dep.registry.session() as s:
        change_status(s, ids[0], LicenceStatus.SUSPENDED, reason="check", actor="t",
                      at=datetime.now(UTC))
    return ids


def _run(dep: Deployment, *args: str) -> Any:
    return CliRunner().invoke(sealtrust, [*args, "--home", str(dep.home.root)],
                              catch_exceptions=False)


def _export(dep: Deployment, out: Path, cert: Path, *selection: str) -> dict[str, Any]:
    result = _run(dep, "archive", "export", *selection, "--recipient", str(cert),
                  "--out", str(out), "--operator", "archivist", "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _openssl_content_key(wrapped: bytes, key: Path, tmp: Path) -> bytes:
    (tmp / "ck.sm2").write_bytes(wrapped)
    return subprocess.run(["openssl", "pkeyutl", "-decrypt", "-inkey", str(key), "-in",
                           str(tmp / "ck.sm2")], check=True, capture_output=True,
                          timeout=60).stdout


class _Sm2Cipher(core.Sequence):
    """GM/T 0009 SM2Cipher, written from the standard."""

    _fields = [("x", core.Integer), ("y", core.Integer), ("hash", core.OctetString),
               ("ciphertext", core.OctetString)]


def _gmssl_content_key(wrapped: bytes, key: Path) -> bytes:
    """GM/T 0009 DER -> C1 || C3 || C2, decrypted by gmssl; C3 checked here (gmssl skips it)."""
    parsed = _Sm2Cipher.load(wrapped)
    x, y, c3, c2 = (parsed[f].native for f in ("x", "y", "hash", "ciphertext"))
    raw = x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2
    scalar = private_scalar_hex(key)
    crypt = gm_sm2.CryptSM2(private_key=scalar, public_key="", mode=1)
    plain = crypt.decrypt(raw)
    point = crypt._kg(int(scalar, 16), raw[:64].hex())  # the shared point (x2, y2)
    check = gm_sm3.sm3_hash(list(bytes.fromhex(point[:64]) + plain + bytes.fromhex(point[64:])))
    assert bytes.fromhex(check) == c3, "C3 does not match: not this recipient's ciphertext"
    return bytes(plain)


def _independent_open(key: bytes, package_id: str, name: str, blob: bytes) -> bytes:
    ad = b"SealTrust archive v1\x00" + package_id.encode() + b"\x00" + name.encode()
    dec = Cipher(algorithms.SM4(key), modes.GCM(blob[:12], blob[-16:])).decryptor()
    dec.authenticate_additional_data(ad)
    return dec.update(blob[12:-16]) + dec.finalize()


def test_export_decrypts_with_independent_tools_and_is_audited(
        dep: Deployment, licences: list[str], office: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = office
    out = tmp_path / "pkg.zip"
    report = _export(dep, out, cert, "--licence", licences[0], "--licence", licences[1])
    assert report["licences"] == 2 and out.stat().st_mode & 0o077 == 0
    with zipfile.ZipFile(out) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(entries["manifest.json"])
    package_id = manifest["package_id"]
    assert [m["id"] for m in manifest["licences"]] == sorted(licences[:2])
    content_key = _openssl_content_key(entries["content-key.sm2"], key, tmp_path)
    assert len(content_key) == 16 and _gmssl_content_key(entries["content-key.sm2"], key) == \
        content_key
    with dep.registry.session() as s:
        for meta in manifest["licences"]:
            lid = meta["id"]
            licence = s.get(Licence, lid)
            assert licence is not None
            held = licence_record(s, licence)
            record = json.loads(_independent_open(content_key, package_id, meta["record"],
                                                  entries[meta["record"]]))
            assert record == {"holder_name": held.holder_name, "holder": held.holder}
            pdf = _independent_open(content_key, package_id, meta["file"], entries[meta["file"]])
            assert pdf == licence_file(s, lid) and pdf.startswith(b"%PDF-")
            assert (meta["status"], meta["file_sm3"]) == (licence.status, licence.file_sm3)
            # nothing personal in clear: the name and licence number only inside the sealed parts
            for name, data in entries.items():
                if not name.startswith("personal/"):
                    assert held.holder_name.encode() not in data, name
                    assert str(held.holder["license_number"]).encode() not in data, name
        assert manifest["licences"][0]["status"] == "suspended"
        assert any(e["kind"] == "licence.suspended" for e in manifest["licences"][0]["audit"])
        exported = s.execute(select(AuditEntry).where(AuditEntry.kind == "archive.exported")
                             .order_by(AuditEntry.seq.desc())).scalars().first()
        assert exported is not None and exported.subject == package_id
        details = json.loads(exported.canonical)["details"]
    assert details["manifest_sm3"] == gm_sm3.sm3_hash(list(entries["manifest.json"]))
    assert details["licences"] == 2 and "cli:archivist" in exported.actor


def test_archive_open_reads_back_and_checks_the_evidence(
        dep: Deployment, licences: list[str], office: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = office
    out = tmp_path / "dl.zip"
    assert _export(dep, out, cert, "--type", "DL")["licences"] >= 3
    result = _run(dep, "archive", "open", str(out), "--key", str(key), "--out-dir",
                  str(tmp_path / "opened"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["evidence_ok"] and set(licences) <= set(report["licences"])
    with dep.registry.session() as s:
        assert (tmp_path / "opened" / "personal" / f"{licences[2]}.pdf").read_bytes() == \
            licence_file(s, licences[2])


def _rewrite(src: Path, dst: Path, change: Any) -> None:
    with zipfile.ZipFile(src) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    change(entries)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    dst.write_bytes(buffer.getvalue())


def test_wrong_key_swapped_or_added_entries_are_refused(
        dep: Deployment, licences: list[str], office: tuple[Path, Path], tmp_path: Path) -> None:
    from trust import sm3

    cert, key = office
    out = tmp_path / "pkg.zip"
    _export(dep, out, cert, "--licence", licences[1], "--licence", licences[2])
    _, other_key = make_records_office(tmp_path / "other")
    wrong = _run(dep, "archive", "open", str(out), "--key", str(other_key), "--json")
    assert wrong.exit_code == 1 and json.loads(wrong.stdout)["error"]["code"] == "sm2.cipher"

    def swap(entries: dict[str, bytes]) -> None:  # two licences' files swapped, digests fixed
        a, b = (f"personal/{licences[i]}.pdf" for i in (1, 2))
        entries[a], entries[b] = entries[b], entries[a]
        manifest = json.loads(entries["manifest.json"])
        manifest["entries"][a], manifest["entries"][b] = \
            sm3.sm3(entries[a]).hex(), sm3.sm3(entries[b]).hex()
        entries["manifest.json"] = json.dumps(manifest).encode()

    _rewrite(out, tmp_path / "swapped.zip", swap)
    swapped = _run(dep, "archive", "open", str(tmp_path / "swapped.zip"), "--key", str(key),
                   "--json")
    assert swapped.exit_code == 1
    assert json.loads(swapped.stdout)["error"]["code"] == "archive.invalid"

    def add(entries: dict[str, bytes]) -> None:
        entries["personal/extra.pdf"] = b"%PDF-1.7"

    _rewrite(out, tmp_path / "added.zip", add)
    added = _run(dep, "archive", "open", str(tmp_path / "added.zip"), "--key", str(key), "--json")
    assert added.exit_code == 1 and "extra" in json.loads(added.stdout)["error"]["message"]


def test_bad_selections_and_recipients_are_refused(
        dep: Deployment, licences: list[str], office: tuple[Path, Path], tmp_path: Path) -> None:
    cert, _ = office
    out = str(tmp_path / "x.zip")
    for selection in ([], ["--type", "DL", "--department", DEMO_DEPARTMENT],
                      ["--licence", "NOPE"]):
        result = _run(dep, "archive", "export", *selection, "--recipient", str(cert), "--out",
                      out, "--json")
        assert result.exit_code == 2, (selection, result.output)
    rsa_cert, _ = make_records_office(tmp_path / "rsa", algorithm="RSA")
    sign_only, _ = make_records_office(tmp_path / "sign", key_usage="digitalSignature")
    for recipient in (rsa_cert, sign_only):
        result = _run(dep, "archive", "export", "--licence", licences[0], "--recipient",
                      str(recipient), "--out", out, "--json")
        assert result.exit_code == 2, result.output
        assert json.loads(result.stdout)["error"]["code"] == "archive.recipient"
    assert not Path(out).exists() and not list(tmp_path.glob(".x.zip.*"))


def test_altered_evidence_and_damaged_zips_are_reported(
        dep: Deployment, licences: list[str], office: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = office
    out = tmp_path / "pkg.zip"
    _export(dep, out, cert, "--licence", licences[0])

    def restate(entries: dict[str, bytes]) -> None:  # an audit entry's text rewritten
        manifest = json.loads(entries["manifest.json"])
        entry = manifest["licences"][0]["audit"][-1]
        entry["entry"] = entry["entry"].replace("suspended", "reinstated")
        entries["manifest.json"] = json.dumps(manifest).encode()

    _rewrite(out, tmp_path / "restated.zip", restate)
    result = _run(dep, "archive", "open", str(tmp_path / "restated.zip"), "--key", str(key),
                  "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert not report["evidence_ok"] and "does not hash to its leaf" in report["problems"][0]
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    result = _run(dep, "archive", "open", str(damaged), "--key", str(key), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "archive.invalid"
