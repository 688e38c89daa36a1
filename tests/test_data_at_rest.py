"""Personal data at rest: sealed rows, independent decryption, swaps, wrong KEKs, migration, rotation.

The independent reader below follows docs/encryption-at-rest.md with
``cryptography``'s SM4-GCM and the standard library's scrypt; it shares no
code with trust.envelope or hsm_adapters.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import select, text, update

from api.cli import cli as sealtrust
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from hsm_adapters.errors import PinError
from hsm_adapters.software_kek import create_kek_file
from hsm_adapters.wrapping import UnwrapError
from signing.types import builtin_types
from trust import sm3
from trust.envelope import SealedDataError
from trust.errors import SealTrustError
from trust.registry import migrate
from trust.registry.models import AuditEntry, Licence, LicenceFile
from trust.registry.rekey import count_plaintext, count_to_rewrap, encrypt_rows
from trust.registry.sealed import (
    DataKeyUnavailableError,
    check_kek,
    licence_file,
    licence_record,
)

TYPES = builtin_types()


# --- the independent reader (docs/encryption-at-rest.md) ---------------------------------

def _sm4_gcm_open(key: bytes, nonce: bytes, body: bytes, tag: bytes, ad: bytes) -> bytes:
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(ad)
    return dec.update(body) + dec.finalize()


def independent_kek(path: Path, password: bytes) -> bytes:
    data = path.read_bytes()
    assert data[:5] == b"STKEK" and data[5] == 1 and len(data) == 69
    log2_n, r, p, salt = data[6], data[7], data[8], data[9:25]
    file_key = hashlib.scrypt(password, salt=salt, n=2**log2_n, r=r, p=p, dklen=16,
                              maxmem=256 * 1024 * 1024)
    return _sm4_gcm_open(file_key, data[25:37], data[37:53], data[53:69], data[:25])


def independent_data_key(kek: bytes, wrapped: bytes, licence_id: str, kek_uri: str) -> bytes:
    assert wrapped[:3] == b"STK" and wrapped[3] == 1 and wrapped[4] == 0x01
    ad = b"SealTrust data key v1\x00" + licence_id.encode() + b"\x00" + kek_uri.encode()
    return _sm4_gcm_open(kek, wrapped[5:17], wrapped[17:-16], wrapped[-16:], ad)


def independent_open(data_key: bytes, sealed: bytes, column: str, licence_id: str) -> bytes:
    assert sealed[:3] == b"STE" and sealed[3] == 1 and sealed[4] == 1
    header = sealed[:17]
    ad = b"SealTrust at-rest v1\x00" + header + column.encode() + b"\x00" + licence_id.encode()
    return _sm4_gcm_open(data_key, sealed[5:17], sealed[17:-16], sealed[-16:], ad)


# --- helpers ------------------------------------------------------------------------------

def _deployment(root: Path) -> Deployment:
    init_deployment(root)
    home = Home(root)
    return Deployment(home, load_config(home))


@pytest.fixture
def dep(tmp_path: Path) -> Iterator[Deployment]:
    deployment = _deployment(tmp_path / "home")
    yield deployment
    deployment.close()


def _issue(dep: Deployment, n: int, *, start: int = 0, type_code: str = "DL") -> list[str]:
    ids = []
    for i in range(n):
        with dep.registry.session() as s:
            ids.append(issue_one(dep, s, type_code=type_code,
                                 record=TYPES.get(type_code).example(start + i),
                                 department=DEMO_DEPARTMENT, actor="test").licence_id)
    return ids


def _snapshot(dep: Deployment, ids: list[str]) -> dict[str, tuple[Any, bytes]]:
    out = {}
    with dep.registry.session() as s:
        for lid in ids:
            licence = s.get(Licence, lid)
            assert licence is not None
            out[lid] = (licence_record(s, licence), licence_file(s, lid))
    return out


def _raw(dep: Deployment, lid: str) -> tuple[Licence, bytes]:
    with dep.registry.session() as s:
        licence = s.get(Licence, lid)
        stored = s.get(LicenceFile, lid)
        assert licence is not None and stored is not None
        return licence, bytes(stored.pdf)


def _run(dep: Deployment, *args: str) -> Any:
    return CliRunner().invoke(sealtrust, [*args, "--home", str(dep.home.root)],
                              catch_exceptions=False)


# --- format and independent decryption ----------------------------------------------------

def test_records_and_files_decrypt_with_an_independent_reader(dep: Deployment) -> None:
    record = TYPES.get("DL").example(5)
    with dep.registry.session() as s:
        issued = issue_one(dep, s, type_code="DL", record=record, department=DEMO_DEPARTMENT,
                           actor="test")
    licence, stored_pdf = _raw(dep, issued.licence_id)
    assert licence.holder_name is None and licence.holder is None  # nothing in clear
    assert licence.data_kek == "file:keys/data-kek-1.kek"
    assert licence.record is not None and licence.data_key is not None
    kek = independent_kek(dep.home.keys / "data-kek-1.kek", dep.home.pin()())
    data_key = independent_data_key(kek, licence.data_key, licence.id, licence.data_kek)
    plain = json.loads(independent_open(data_key, licence.record, "licences.record",
                                        licence.id))
    assert plain["holder_name"] == record["name"]
    assert plain["holder"]["license_number"] == record["license_number"]
    pdf = independent_open(data_key, stored_pdf, "licence_files.pdf", licence.id)
    assert pdf == issued.pdf and sm3.sm3(pdf).hex() == licence.file_sm3
    assert record["name"].encode() not in stored_pdf + licence.record


def test_row_copied_onto_another_licence_fails_with_a_typed_error(dep: Deployment) -> None:
    a, b = _issue(dep, 2)
    licence_a, pdf_a = _raw(dep, a)
    with dep.registry.session() as s:  # B gets A's sealed record (its own data key stays)
        s.execute(update(Licence).where(Licence.id == b).values(record=licence_a.record))
    with dep.registry.session() as s, pytest.raises(SealedDataError) as caught:
        licence_record(s, s.get(Licence, b))  # type: ignore[arg-type]
    assert caught.value.code == "data.decrypt_failed"
    with dep.registry.session() as s:  # the whole personal part: record and wrapped key
        s.execute(update(Licence).where(Licence.id == b).values(
            record=licence_a.record, data_key=licence_a.data_key))
        s.execute(update(LicenceFile).where(LicenceFile.licence_id == b).values(pdf=pdf_a))
    with dep.registry.session() as s, pytest.raises(SealedDataError) as caught:
        licence_record(s, s.get(Licence, b))  # type: ignore[arg-type]
    assert caught.value.code == "keystore.unwrap_failed"
    with dep.registry.session() as s, pytest.raises(SealedDataError):
        licence_file(s, b)
    shown = _run(dep, "licence", "show", b)
    assert shown.exit_code != 0 and "keystore.unwrap_failed" in shown.output
    with dep.registry.session() as s:  # A itself is untouched
        assert licence_record(s, s.get(Licence, a)).holder_name  # type: ignore[arg-type]


def test_wrong_or_missing_kek_fails_at_start_up_never_garbage(tmp_path: Path) -> None:
    dep = _deployment(tmp_path / "home")
    try:
        (lid,) = _issue(dep, 1)
    finally:
        dep.close()
    kek_path = tmp_path / "home" / "keys" / "data-kek-1.kek"
    original = kek_path.read_bytes()
    password = Home(tmp_path / "home").pin()()
    kek_path.unlink()  # another KEK under the same name and password
    create_kek_file(kek_path, password, "file:keys/data-kek-1.kek")

    dep = Deployment(Home(tmp_path / "home"), load_config(Home(tmp_path / "home")))
    try:
        keys = dep.registry.data_keys
        assert keys is not None
        with dep.registry.session() as s, pytest.raises(DataKeyUnavailableError):
            check_kek(s, keys)
        with dep.registry.session() as s, pytest.raises(UnwrapError):
            licence_record(s, s.get(Licence, lid))  # type: ignore[arg-type]
    finally:
        dep.close()
    status = _run(dep, "registry", "status")
    assert status.exit_code == 1 and "not the one registered" in status.output

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(home=tmp_path / "home"))) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["data_kek"] == "down: data.key_unavailable"

    kek_path.unlink()  # missing altogether
    status = _run(dep, "registry", "status")
    assert status.exit_code == 1 and "keystore.key_not_found" in status.output
    with TestClient(create_app(Settings(home=tmp_path / "home"))) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["data_kek"] == "down: data.key_unavailable"

    kek_path.write_bytes(original)  # the right key again: ready
    with TestClient(create_app(Settings(home=tmp_path / "home"))) as client:
        ready = client.get("/health/ready")
        assert ready.json()["checks"]["data_kek"] == "ok", ready.json()


def test_kek_file_refuses_a_wrong_password(tmp_path: Path) -> None:
    from hsm_adapters.pins import LiteralPin
    from hsm_adapters.software import FileKeyStore

    store = FileKeyStore(tmp_path)
    with store.generate_wrapping_key("file:k.kek", LiteralPin("right")) as kek:
        wrapped = kek.wrap(b"k" * 16, b"ctx")
    with pytest.raises(PinError):
        store.open_wrapping_key("file:k.kek", LiteralPin("wrong"))
    with store.open_wrapping_key("file:k.kek", LiteralPin("right")) as kek:
        assert kek.unwrap(wrapped, b"ctx") == b"k" * 16
        with pytest.raises(UnwrapError):
            kek.unwrap(wrapped, b"another licence")


# --- migration: plaintext rows, 0004 -> head, registry encrypt ---------------------------

def _plaintext_licences(dep: Deployment, n: int) -> list[str]:
    """Licences stored as a deployment before encryption stored them."""
    keys, dep.registry.data_keys = dep.registry.data_keys, None
    try:
        return _issue(dep, n, start=50)
    finally:
        dep.registry.data_keys = keys


def test_upgrade_from_0004_keeps_plaintext_rows_readable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0004")
    from trust.registry import Registry

    registry = Registry(url)
    try:
        with registry.engine.begin() as conn:
            conn.execute(text("INSERT INTO departments (code, name, uscc, region, created_at) "
                              "VALUES ('d', 'x', '1', '', '2026-01-01')"))
            conn.execute(text(
                "INSERT INTO seals (es_id, department_code, name, seal_type, der, valid_start, "
                "valid_end, status, created_at) VALUES ('s', 'd', 'n', 1, x'00', '2026-01-01',"
                " '2027-01-01', 'active', '2026-01-01')"))
            conn.execute(text(
                "INSERT INTO licences (id, type_code, department_code, holder_name, holder, "
                "valid_from, status, status_index, file_sm3, seal_es_id, key_uri, issued_at) "
                "VALUES ('L1', 'DL', 'd', '张三', '{\"name\": \"张三\"}', '2026-01-01', "
                "'valid', 1, 'ab', 's', 'file:k', '2026-01-01')"))
            conn.execute(text("INSERT INTO licence_files (licence_id, pdf) "
                              "VALUES ('L1', x'255044462d')"))
        migrate(url)
        with registry.session() as s:
            licence = s.get(Licence, "L1")
            assert licence is not None
            assert licence_record(s, licence).holder == {"name": "张三"}
            assert licence_file(s, "L1") == b"%PDF-"
    finally:
        registry.close()


def test_encrypt_interrupted_half_way_resumes_and_loses_nothing(
        dep: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _plaintext_licences(dep, 7)
    before = _snapshot(dep, ids)
    import trust.registry.rekey as rekey

    real, calls = rekey.seal_row_values, []

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 6:
            raise RuntimeError("power cut")
        return real(*args)

    monkeypatch.setattr(rekey, "seal_row_values", failing)
    keys = dep.registry.data_keys
    assert keys is not None
    with pytest.raises(RuntimeError, match="power cut"):
        encrypt_rows(dep.registry, keys, batch_size=2)
    with dep.registry.session() as s:
        assert count_plaintext(s) == 3  # two whole batches of two; the third rolled back
    assert _snapshot(dep, ids) == before  # reading works half way
    monkeypatch.setattr(rekey, "seal_row_values", real)

    result = _run(dep, "registry", "encrypt", "--batch-size", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sealed"] == 3
    with dep.registry.session() as s:
        assert count_plaintext(s) == 0
        kinds = s.execute(select(AuditEntry.kind)).scalars().all()
    assert {"registry.encrypt_started", "registry.encrypted"} <= set(kinds)
    assert _snapshot(dep, ids) == before
    for lid in ids:
        licence, pdf = _raw(dep, lid)
        assert licence.holder is None and licence.record is not None and pdf[:3] == b"STE"
    raw = (dep.home.root / "sealtrust.db").read_bytes()
    for record, _ in before.values():
        assert record.holder_name.encode() not in raw  # VACUUM dropped the freed pages


def test_encrypt_killed_half_way_resumes(dep: Deployment) -> None:
    ids = _plaintext_licences(dep, 8)
    before = _snapshot(dep, ids)
    dep.close()
    slow = ("import sys, time\n"
            "import trust.registry.rekey as r\n"
            "real = r.seal_row_values\n"
            "def slow(*a):\n"
            "    time.sleep(0.4)\n"
            "    return real(*a)\n"
            "r.seal_row_values = slow\n"
            "from api.cli import cli\n"
            f"cli(['registry', 'encrypt', '--batch-size', '1', '--home', {str(dep.home.root)!r}])\n")
    proc = subprocess.Popen([sys.executable, "-c", slow], env={**os.environ,
                            "PYTHONPATH": os.getcwd()}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    fresh = Deployment(dep.home, load_config(dep.home))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with fresh.registry.session() as s:
                if count_plaintext(s) <= 5:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        with fresh.registry.session() as s:
            left = count_plaintext(s)
        assert 0 < left < 8  # killed half way
        assert _snapshot(fresh, ids) == before
        result = _run(fresh, "registry", "encrypt", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["sealed"] == left
        assert _snapshot(fresh, ids) == before
    finally:
        fresh.close()
        if proc.poll() is None:
            proc.kill()


# --- KEK rotation ------------------------------------------------------------------------

def test_rotation_interrupted_half_way_resumes_without_reencrypting(
        dep: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _issue(dep, 6)
    before = _snapshot(dep, ids)
    sealed_before = {lid: (_raw(dep, lid)[0].record, _raw(dep, lid)[1]) for lid in ids}
    import trust.registry.rekey as rekey

    real, calls = rekey.envelope.wrap_data_key, []

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("killed")
        return real(*args)

    monkeypatch.setattr(rekey.envelope, "wrap_data_key", failing)
    with pytest.raises(RuntimeError, match="killed"):
        _run(dep, "keys", "rotate-kek", "--batch-size", "2", "--operator", "ops")
    monkeypatch.setattr(rekey.envelope, "wrap_data_key", real)
    config = load_config(dep.home)
    assert config["data_kek"] == "file:keys/data-kek-2.kek"
    fresh = Deployment(dep.home, config)
    try:
        with fresh.registry.session() as s:
            assert count_to_rewrap(s, "file:keys/data-kek-2.kek") == 4  # one batch of 2 done
        assert _snapshot(fresh, ids) == before  # readable under either KEK
        result = _run(fresh, "keys", "rotate-kek", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert (report["resumed"], report["rewrapped"], report["left"]) == (True, 4, 0)
        assert report["data_kek"] == "file:keys/data-kek-2.kek"
        assert not (dep.home.keys / "data-kek-3.kek").exists()
        assert _snapshot(fresh, ids) == before
        for lid in ids:  # re-wrapped, not re-encrypted
            licence, pdf = _raw(fresh, lid)
            assert (licence.record, pdf) == sealed_before[lid]
            assert licence.data_kek == "file:keys/data-kek-2.kek"
        with fresh.registry.session() as s:
            entries = s.execute(select(AuditEntry.kind, AuditEntry.actor)).all()
        assert ("data_kek.rotation_started", "cli:ops") in entries
        assert any(kind == "data_kek.rotated" for kind, _ in entries)
    finally:
        fresh.close()


def test_issuance_during_rotation_uses_the_new_kek(dep: Deployment) -> None:
    _issue(dep, 1)
    result = _run(dep, "keys", "rotate-kek", "--json")
    assert result.exit_code == 0, result.output
    fresh = Deployment(dep.home, load_config(dep.home))
    try:
        (lid,) = _issue(fresh, 1, start=9)
        assert _raw(fresh, lid)[0].data_kek == "file:keys/data-kek-2.kek"
        with fresh.registry.session() as s:
            check_kek(s, fresh.registry.data_keys)  # type: ignore[arg-type]
    finally:
        fresh.close()


def test_plaintext_deployment_reads_the_same(tmp_path: Path) -> None:
    """A registry with no KEK (older deployments, benchmarks) stores and reads plaintext."""
    dep = _deployment(tmp_path / "home")
    try:
        ids = _plaintext_licences(dep, 1)
        licence, pdf = _raw(dep, ids[0])
        assert licence.holder is not None and pdf.startswith(b"%PDF")
        (record, pdf_read), = _snapshot(dep, ids).values()
        assert record.holder == licence.holder and pdf_read == pdf
    finally:
        dep.close()


def test_models_and_migrations_agree(db_url: str) -> None:
    """The sealed columns of 0007 are what the models say (types and nullability)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from trust.registry import make_engine
    from trust.registry.models import Base

    migrate(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_encrypt_on_a_deployment_from_before_encryption_creates_the_kek(tmp_path: Path) -> None:
    """No data_kek in deployment.json, plaintext rows: `registry encrypt` makes and uses one."""
    from trust.registry.models import Meta

    dep = _deployment(tmp_path / "home")
    try:
        ids = _plaintext_licences(dep, 2)
        before = _snapshot(dep, ids)
        with dep.registry.session() as s:  # as if init had never made a KEK
            for row in s.execute(select(Meta).where(Meta.key.like("kek-check:%"))).scalars():
                s.delete(row)
    finally:
        dep.close()
    (dep.home.keys / "data-kek-1.kek").unlink()
    config = json.loads(dep.home.config.read_text())
    del config["data_kek"]
    dep.home.config.write_text(json.dumps(config))
    assert _run(dep, "registry", "status").exit_code == 1  # no KEK: said so

    result = _run(dep, "registry", "encrypt", "--operator", "ops", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sealed"] == 2
    assert load_config(dep.home)["data_kek"] == "file:keys/data-kek-1.kek"
    fresh = Deployment(dep.home, load_config(dep.home))
    try:
        assert _snapshot(fresh, ids) == before
        with fresh.registry.session() as s:
            assert count_plaintext(s) == 0
            kinds = set(s.execute(select(AuditEntry.kind)).scalars())
        assert {"data_kek.created", "registry.encrypted"} <= kinds
    finally:
        fresh.close()


@pytest.mark.postgres
def test_encrypt_on_postgresql_leaves_no_plaintext_in_a_dump(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from tests.db_support import fresh_postgres_url

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump not installed")
    for url in fresh_postgres_url():
        monkeypatch.setenv("SEALTRUST_DATABASE_URL", url)
        dep = _deployment(tmp_path / "home")
        try:
            ids = _plaintext_licences(dep, 3)
            before = _snapshot(dep, ids)
            result = _run(dep, "registry", "encrypt", "--batch-size", "2", "--json")
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout)["sealed"] == 3
            assert _snapshot(dep, ids) == before
        finally:
            dep.close()
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        dump = subprocess.run([pg_dump, "--no-owner", libpq], capture_output=True, check=True,
                              timeout=120).stdout
        assert b"licence_files" in dump
        for record, _ in before.values():
            assert record.holder_name.encode() not in dump
            assert record.holder["license_number"].encode() not in dump


def test_data_keys_are_unwrapped_once_per_row_and_cache_is_bounded(
        dep: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """Record, file, record again: one unwrap; other wrapped bytes (a rotation) miss."""
    from trust import envelope
    from trust.registry.sealed import DataKeys

    ids = _issue(dep, 3, start=80)
    calls: list[str] = []
    real = envelope.unwrap_data_key

    def counting(kek: Any, wrapped: bytes, licence_id: str) -> bytes:
        calls.append(licence_id)
        return real(kek, wrapped, licence_id)

    monkeypatch.setattr(envelope, "unwrap_data_key", counting)
    before = _snapshot(dep, ids[:1])
    assert _snapshot(dep, ids[:1]) == before and calls == [ids[0]]
    keys = dep.registry.data_keys
    assert keys is not None
    small = DataKeys(keys.current, keys.kek, cache_size=2)
    rows = {lid: _raw(dep, lid)[0] for lid in ids}
    for lid in [*ids, ids[2], ids[0]]:  # ids[0] was evicted by ids[2]
        small.data_key(lid, rows[lid].data_key, rows[lid].data_kek)  # type: ignore[arg-type]
    assert calls[1:] == [ids[0], ids[1], ids[2], ids[0]]
    other = bytearray(rows[ids[1]].data_key or b"")
    other[-1] ^= 1  # an altered wrapped key is not served from the cache: it fails
    with pytest.raises(SealTrustError):
        small.data_key(ids[1], bytes(other), rows[ids[1]].data_kek)
