"""End-to-end issuance: every type, interop with stock pyHanko, refusals, idempotency, batch."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from hsm_adapters.errors import DeviceError
from signing.issue import IdempotencyConflictError
from signing.seals import SealUnusableError, make_department_seal, revoke_seal
from signing.types import RecordValidationError, UnknownLicenceTypeError, builtin_types
from tests.api_support import OTHER_USCC
from tests.support import TYPE_SAMPLE
from trust.envelope import is_sealed
from trust.errors import ConflictError
from trust.registry.models import AuditEntry, Licence, LicenceFile, SealRecord
from trust.registry.sealed import licence_file

TYPES = builtin_types()


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True,
                            text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("issue") / "home"
    init_deployment(root)
    home = Home(root)
    dep = Deployment(home, load_config(home))
    yield dep
    dep.close()


def _count(dep: Deployment, model: type) -> int:
    with dep.registry.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.mark.parametrize("code", TYPE_SAMPLE)
def test_every_type_issues_a_licence_that_renders_and_names_its_holder(
    deployment: Deployment, code: str, tmp_path: Path,
) -> None:
    licence_type = TYPES.get(code)
    record = licence_type.example(3)
    with deployment.registry.session() as s:
        issued = issue_one(deployment, s, type_code=code, record=record,
                           department=DEMO_DEPARTMENT, actor="test")
    pdf = tmp_path / "l.pdf"
    pdf.write_bytes(issued.pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert licence_type.holder_name(record) in text
    assert issued.licence_id.split("-")[1] == code
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "p")], check=True)
    from PIL import Image

    image = Image.open(next(tmp_path.glob("p*.png"))).convert("L")
    dark = sum(1 for v in image.tobytes() if v < 200)
    assert dark > 0.01 * image.width * image.height
    with deployment.registry.session() as s:
        row = s.get(Licence, issued.licence_id)
        assert row is not None
        assert row.status == "valid"
        stored = s.get(LicenceFile, issued.licence_id)
        assert stored is not None
        assert is_sealed(stored.pdf) and stored.pdf != issued.pdf  # encrypted at rest
        assert licence_file(s, issued.licence_id) == issued.pdf


def test_dual_signed_licence_validates_in_stock_pyhanko(deployment: Deployment,
                                                        tmp_path: Path) -> None:
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    with deployment.registry.session() as s:
        issued = issue_one(deployment, s, type_code="BL", record=TYPES.get("BL").example(9),
                           department=DEMO_DEPARTMENT, alg="sm2+rsa", actor="test")
    import io

    reader = PdfFileReader(io.BytesIO(issued.pdf))
    sigs = reader.embedded_signatures
    assert len(sigs) == 2
    root = x509.Certificate.load(deployment.certificate("rsa-root").der)
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    rsa_sig = sigs[1]
    status = validate_pdf_signature(rsa_sig, context)
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.timestamp_validity is not None


def test_schema_violation_lists_fields_and_writes_nothing(deployment: Deployment) -> None:
    before = (_count(deployment, Licence), _count(deployment, AuditEntry))
    record = TYPES.get("DL").example(1)
    record.pop("name")
    record["valid_until"] = "not a date"
    with pytest.raises(RecordValidationError) as info, deployment.registry.session() as s:
        issue_one(deployment, s, type_code="DL", record=record, department=DEMO_DEPARTMENT,
                  actor="t")
    assert "name" in info.value.message
    assert "valid_until" in info.value.message
    with pytest.raises(UnknownLicenceTypeError), deployment.registry.session() as s:
        issue_one(deployment, s, type_code="NOPE", record={}, department=DEMO_DEPARTMENT,
                  actor="t")
    with pytest.raises(ConflictError), deployment.registry.session() as s:
        issue_one(deployment, s, type_code="DL", record=TYPES.get("DL").example(1),
                  department=DEMO_DEPARTMENT, key_uri="file:keys/sm2-root.p8", actor="t")
    assert (_count(deployment, Licence), _count(deployment, AuditEntry)) == before


def test_idempotency_key_returns_the_same_licence(deployment: Deployment) -> None:
    record = TYPES.get("SSC").example(5)
    with deployment.registry.session() as s:
        first = issue_one(deployment, s, type_code="SSC", record=record,
                          department=DEMO_DEPARTMENT, idempotency_key="req-1", actor="t")
    with deployment.registry.session() as s:
        again = issue_one(deployment, s, type_code="SSC", record=record,
                          department=DEMO_DEPARTMENT, idempotency_key="req-1", actor="t")
    assert (again.licence_id, again.reused, again.pdf) == (first.licence_id, True, first.pdf)
    with pytest.raises(IdempotencyConflictError), deployment.registry.session() as s:
        issue_one(deployment, s, type_code="SSC", record=TYPES.get("SSC").example(6),
                  department=DEMO_DEPARTMENT, idempotency_key="req-1", actor="t")


def test_revoked_expired_and_foreign_seals_are_refused(deployment: Deployment) -> None:
    from signing.departments import add_department, department_certificates

    now = datetime.now(UTC)
    record = TYPES.get("RIC").example(2)
    with deployment.registry.session() as s:
        add_department(s, deployment.stores, deployment.home.pin(), code="foreign",
                       name="外地公安局", uscc=OTHER_USCC, region="330100",
                       roots=deployment.roots(), algorithms=("sm2",), at=now, actor="t")
        foreign = make_department_seal(
            s, department_code="foreign", maker_key=deployment.key("sm2-seal-maker"),
            maker_cert=deployment.certificate("sm2-seal-maker"),
            signer_certs=department_certificates(s, "foreign"), valid_start=now,
            valid_end=now + timedelta(days=30), at=now, actor="t")
        expired = make_department_seal(
            s, department_code=DEMO_DEPARTMENT, maker_key=deployment.key("sm2-seal-maker"),
            maker_cert=deployment.certificate("sm2-seal-maker"),
            signer_certs=department_certificates(s, DEMO_DEPARTMENT),
            valid_start=now - timedelta(days=10), valid_end=now - timedelta(days=1), at=now,
            actor="t")
        foreign_id, expired_id = foreign.es_id, expired.es_id
    for es_id, words in ((foreign_id, "belongs to department foreign"),
                         (expired_id, "is valid")):
        with pytest.raises(SealUnusableError, match=words), deployment.registry.session() as s:
            issue_one(deployment, s, type_code="RIC", record=record, department=DEMO_DEPARTMENT,
                      seal=es_id, actor="t")
    with deployment.registry.session() as s:
        demo_seals = s.execute(select(SealRecord.es_id).where(
            SealRecord.department_code == DEMO_DEPARTMENT,
            SealRecord.status == "active")).scalars().all()
        for es_id in demo_seals:
            revoke_seal(s, es_id, reason="test", at=now, actor="t")
    try:
        with pytest.raises(SealUnusableError, match="no usable seal"), \
                deployment.registry.session() as s:
            issue_one(deployment, s, type_code="RIC", record=record,
                      department=DEMO_DEPARTMENT, actor="t")
    finally:
        with deployment.registry.session() as s:
            make_department_seal(
                s, department_code=DEMO_DEPARTMENT, maker_key=deployment.key("sm2-seal-maker"),
                maker_cert=deployment.certificate("sm2-seal-maker"),
                signer_certs=department_certificates(s, DEMO_DEPARTMENT), valid_start=now,
                valid_end=now + timedelta(days=365), at=now, actor="t")


def test_failed_signature_never_produces_a_licence(deployment: Deployment,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    key = deployment.key("sm2-issuer")
    before = _count(deployment, Licence)

    def broken(message: bytes) -> bytes:
        raise DeviceError("device fell over", uri=key.uri)

    monkeypatch.setattr(key, "sign", broken)
    with pytest.raises(DeviceError), deployment.registry.session() as s:
        issue_one(deployment, s, type_code="VL", record=TYPES.get("VL").example(4),
                  department=DEMO_DEPARTMENT, actor="t")
    assert _count(deployment, Licence) == before


def test_cli_issue_batch_is_resumable_and_reports_bad_lines(deployment: Deployment,
                                                            tmp_path: Path) -> None:
    home = str(deployment.home.root)
    records = tmp_path / "records.jsonl"
    lines = [json.dumps(TYPES.get("VL").example(200 + i), ensure_ascii=False) for i in range(6)]
    lines.insert(2, '{"plate": 1}')
    lines.insert(4, "{oops")
    lines.append(json.dumps({"_type": "DL", **TYPES.get("DL").example(77)}, ensure_ascii=False))
    records.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    first = cli("issue-batch", records.as_posix(), "--out-dir", out.as_posix(), "--type", "VL",
                "--workers", "2", "--home", home, "--json", check=False)
    assert first.returncode == 1
    report = json.loads(first.stdout)
    assert (report["total"], report["issued"], report["failed"]) == (9, 7, 2)
    assert sorted(e["line"] for e in report["errors"]) == [3, 5]
    assert len(list(out.glob("*.pdf"))) == 7
    second = json.loads(cli("issue-batch", records.as_posix(), "--out-dir", out.as_posix(),
                            "--type", "VL", "--home", home, "--json", check=False).stdout)
    assert (second["skipped"], second["issued"], second["failed"]) == (7, 0, 2)
    (out / "issued.jsonl").unlink()
    third = json.loads(cli("issue-batch", records.as_posix(), "--out-dir", out.as_posix(),
                           "--type", "VL", "--home", home, "--json", check=False).stdout)
    assert (third["issued"], third["reused"]) == (7, 7)
    assert len(list(out.glob("*.pdf"))) == 7


def test_cli_issue_and_lifecycle(deployment: Deployment, tmp_path: Path) -> None:
    home = str(deployment.home.root)
    data = tmp_path / "r.json"
    data.write_text(json.dumps(TYPES.get("APR").example(1), ensure_ascii=False))
    out = tmp_path / "apr.pdf"
    result = json.loads(cli("issue", "--type", "APR", "--data", str(data), "--out", str(out),
                            "--home", home).stdout)
    assert set(result) >= {"licence_id", "file"}
    assert out.read_bytes().startswith(b"%PDF-")
    lid = result["licence_id"]
    shown = json.loads(cli("licence", "show", lid, "--home", home, "--json").stdout)
    assert shown["status"] == "valid"
    revoked = json.loads(cli("licence", "revoke", lid, "--reason", "fraud", "--home", home,
                             "--json").stdout)
    assert revoked["status"] == "revoked"
    assert [h["to"] for h in revoked["history"]] == ["valid", "revoked"]
    again = cli("licence", "cancel", lid, "--reason", "x", "--home", home, check=False)
    assert again.returncode == 1
    assert "revoked" in again.stderr
    bad = cli("issue", "--type", "APR", "--data", str(tmp_path / "missing.json"), "--out",
              str(tmp_path / "x.pdf"), "--home", home, check=False)
    assert bad.returncode == 2
    assert not (tmp_path / "x.pdf").exists()


def test_external_tsa_url_is_used_when_configured(deployment: Deployment,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import io
    import threading

    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from signing.tsa import BuiltinTSA

    tsa_key = deployment.key("rsa-tsa")
    tsa = BuiltinTSA(tsa_key, tsa_key.certificate_chain(), "1.2.3.4.5", lambda: datetime.now(UTC))
    served: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            reply = tsa.respond(self.rfile.read(int(self.headers["Content-Length"])))
            served.append(len(reply))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("SEALTRUST_TSA_URL", f"http://127.0.0.1:{server.server_address[1]}/")
        monkeypatch.setenv("SEALTRUST_TSA_ALLOW_HTTP", "1")
        fresh = Deployment(deployment.home, load_config(deployment.home))
        try:
            with fresh.registry.session() as s:
                issued = issue_one(fresh, s, type_code="SSC", record=TYPES.get("SSC").example(71),
                                   department=DEMO_DEPARTMENT, alg="rsa", actor="t")
        finally:
            fresh.close()
    finally:
        server.shutdown()
        server.server_close()
    assert served  # pyHanko may ask once more to size the token
    sig = PdfFileReader(io.BytesIO(issued.pdf)).embedded_signatures[0]
    root = x509.Certificate.load(deployment.certificate("rsa-root").der)
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[root],
                                                           allow_fetching=False))
    assert status.bottom_line
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.trusted


def test_plain_http_tsa_is_refused_unless_allowed(deployment: Deployment,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from signing.tsa import TimestampConfigError

    monkeypatch.setenv("SEALTRUST_TSA_URL", "http://127.0.0.1:9/tsa")
    monkeypatch.delenv("SEALTRUST_TSA_ALLOW_HTTP", raising=False)
    fresh = Deployment(deployment.home, load_config(deployment.home))
    try:
        with pytest.raises(TimestampConfigError):
            fresh.issuer_context()
    finally:
        fresh.close()


def test_batch_chunk_stores_each_line_alone_and_signs_one_head(deployment: Deployment,
                                                               tmp_path: Path) -> None:
    """A chunk: a duplicate line is reused, a failing line rolls back alone, ids never repeat."""
    from api import issuance
    from signing.batch import run_batch
    from trust import audit
    from trust.registry.models import TreeHead

    records = tmp_path / "chunk.jsonl"
    good = [json.dumps(TYPES.get("SSC").example(900 + i), ensure_ascii=False) for i in range(5)]
    lines = [good[0], good[1], good[1], '{"name": 5}', good[2], good[3], good[0], good[4]]
    records.write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = {"out_dir": str(tmp_path / "out"), "type": "SSC", "department": DEMO_DEPARTMENT,
               "alg": "sm2", "key_uri": None, "actor": "t"}
    licences, heads = _count(deployment, Licence), _count(deployment, TreeHead)
    summary = run_batch(records, tmp_path / "out", initializer=issuance.batch_worker_init,
                        initargs=(str(deployment.home.root), options),
                        work=issuance.batch_worker_issue, workers=1, chunk=len(lines))
    assert (summary.total, summary.issued, summary.failed) == (8, 7, 1)
    assert summary.reused == 2  # lines 3 and 7 repeat lines 2 and 1
    assert [e.line for e in summary.errors] == [4]
    assert _count(deployment, Licence) == licences + 5
    assert _count(deployment, TreeHead) == heads + 1  # one signed head for the whole chunk
    manifest = [json.loads(x) for x in (tmp_path / "out" / "issued.jsonl").read_text().splitlines()]
    by_line = {m["line"]: m["licence_id"] for m in manifest}
    assert by_line[3] == by_line[2] and by_line[7] == by_line[1]
    assert len(set(by_line.values())) == 5
    with deployment.registry.session() as s:
        stored = s.execute(select(Licence.status_index).where(
            Licence.id.in_(set(by_line.values())))).scalars().all()
        assert len(set(stored)) == 5
        assert audit.verify_log(s, [deployment.key("audit").public_key_der()]).ok
    for licence_id in set(by_line.values()):
        assert (tmp_path / "out" / f"{licence_id}.pdf").read_bytes().startswith(b"%PDF-")


def test_counters_are_taken_without_holding_the_write_lock(
        deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a licence renders (and seals), another process can still write the registry.

    With the counters taken in the issuing transaction, SQLite's write lock
    would be held from allocation to commit, and this probe would find the
    database locked.
    """
    import sqlite3

    import signing.issue as issue_module

    database = deployment.registry.engine.url.database
    assert database, "the test deployment is SQLite"
    probes: list[str] = []
    real_render = issue_module.render_licence

    def render_and_probe(*args: object, **kwargs: object) -> bytes:
        probe = sqlite3.connect(database, timeout=0.2, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            probes.append("writable")
        except sqlite3.OperationalError as exc:
            probes.append(str(exc))
        finally:
            probe.close()
        return real_render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(issue_module, "render_licence", render_and_probe)
    with deployment.registry.session() as s:
        first = issue_one(deployment, s, type_code="VL", record=TYPES.get("VL").example(31),
                          department=DEMO_DEPARTMENT, actor="t")
    assert probes == ["writable"]

    def fail_after_allocation(*args: object, **kwargs: object) -> bytes:
        raise DeviceError("device fell over", uri="sw:test")

    monkeypatch.setattr(issue_module, "render_licence", fail_after_allocation)
    with pytest.raises(DeviceError), deployment.registry.session() as s:
        issue_one(deployment, s, type_code="VL", record=TYPES.get("VL").example(32),
                  department=DEMO_DEPARTMENT, actor="t")
    monkeypatch.setattr(issue_module, "render_licence", real_render)
    with deployment.registry.session() as s:
        second = issue_one(deployment, s, type_code="VL", record=TYPES.get("VL").example(33),
                           department=DEMO_DEPARTMENT, actor="t")
    # The failed issuance skipped its values: a gap, never a value used twice.
    assert second.licence_id.split("-")[-2] == f"{int(first.licence_id.split('-')[-2]) + 2:08d}"
    with deployment.registry.session() as s:
        indexes = s.execute(select(Licence.status_index).where(
            Licence.id.in_([first.licence_id, second.licence_id]))).scalars().all()
    assert sorted(indexes)[1] - sorted(indexes)[0] == 2


def test_a_session_that_already_wrote_takes_the_counters_itself(deployment: Deployment) -> None:
    """No self-deadlock: after a write, a second connection could not take the counters."""
    import time

    from trust.registry.db import holds_write_lock, next_value

    with deployment.registry.session() as s:
        assert not holds_write_lock(s)
        next_value(s, "test:earlier-write")
        assert holds_write_lock(s)
        started = time.monotonic()
        issued = issue_one(deployment, s, type_code="VL", record=TYPES.get("VL").example(34),
                           department=DEMO_DEPARTMENT, actor="t")
        assert time.monotonic() - started < 10  # far below the 30 s busy timeout
    assert issued.licence_id.startswith("L1-VL-")
