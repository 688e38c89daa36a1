"""``sealtrust verify``: exit codes, NDJSON, --at, --trust, --offline, bad files in a batch."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfWriter

from tests import pdf_corpus as corpus
from tests.licence_corpus import Licences, open_licences


@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    root = tmp_path_factory.mktemp("cli") / "home"
    for licences in open_licences(root):
        licences.issue("sm2", "sm2", number=1)
        licences.issue("rsa", "rsa", number=2)
        yield licences


@pytest.fixture(scope="module")
def files(lic: Licences, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("files")
    out = {}
    good = lic.pdfs["sm2"]
    encrypted = PdfWriter()
    encrypted.add_blank_page(100, 100)
    encrypted.encrypt("secret")
    buf = BytesIO()
    encrypted.write(buf)
    cyclic = (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
              b"xref\n0 2\n0000000000 65535 f \n0000000009 00000 n \n"
              b"trailer\n<< /Size 2 /Root 1 0 R /Prev 47 >>\nstartxref\n47\n%%EOF\n")
    for name, data in {
        "sm2.pdf": good,
        "rsa.pdf": lic.pdfs["rsa"],
        "text.pdf": b"hello, not a PDF",
        "truncated.pdf": good[: len(good) // 2],
        "encrypted.pdf": buf.getvalue(),
        "cyclic.pdf": cyclic,
        "tampered.pdf": corpus.flip_inside(good),
    }.items():
        (d / name).write_bytes(data)
        out[name] = d / name
    huge = d / "huge.pdf"
    with huge.open("wb") as fh:  # sparse: the size check refuses it before reading
        fh.write(b"%PDF-1.7\n")
        fh.truncate(65 * 1024 * 1024)
    out["huge.pdf"] = huge
    return out


def run(lic: Licences, *args: str | Path) -> subprocess.CompletedProcess[str]:
    home = str(lic.deployment.home.root)
    return subprocess.run([sys.executable, "-m", "api.cli", "verify", "--home", home,
                           *map(str, args)], capture_output=True, text=True, timeout=300)


def test_genuine_licences_exit_0_with_a_bilingual_summary(
    lic: Licences, files: dict[str, Path]
) -> None:
    result = run(lic, files["sm2.pdf"], files["rsa.pdf"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "验证通过" in result.stdout and "valid" in result.stdout
    assert "verified 2/2" in result.stderr  # progress on stderr only


def test_bad_files_are_reported_per_file_and_the_batch_goes_on(
    lic: Licences, files: dict[str, Path]
) -> None:
    names = ["text.pdf", "truncated.pdf", "encrypted.pdf", "cyclic.pdf", "huge.pdf",
             "tampered.pdf", "sm2.pdf"]
    result = run(lic, "--json", "--workers", "2", *(files[n] for n in names),
                 files["sm2.pdf"].parent / "missing.pdf")
    assert result.returncode == 1, result.stderr
    reports = {Path(r["file"]["name"]).name: r
               for r in map(json.loads, result.stdout.splitlines())}
    assert set(reports) == {*names, "missing.pdf"}
    assert reports["sm2.pdf"]["indication"] == "TOTAL_PASSED"
    for name in ("text.pdf", "truncated.pdf", "encrypted.pdf", "cyclic.pdf", "huge.pdf",
                 "missing.pdf"):
        assert reports[name]["indication"] == "TOTAL_FAILED", name
        assert reports[name]["sub_indication"] == "FORMAT_FAILURE", name
    assert reports["tampered.pdf"]["sub_indication"] == "HASH_FAILURE"
    assert reports["sm2.pdf"]["summary"]["zh"].startswith(str(files["sm2.pdf"]))


def test_at_validates_at_another_time(lic: Licences, files: dict[str, Path]) -> None:
    before = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    result = run(lic, "--json", "--at", before, files["sm2.pdf"])
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["validation_time"] == before
    assert report["indication"] != "TOTAL_PASSED"  # signed after that moment
    checks = {c["name"]: c for c in report["signatures"][0]["checks"]}
    assert checks["timestamp"]["sub_indication"] == "TIMESTAMP_ORDER_FAILURE"
    assert checks["seal"]["sub_indication"] == "NOT_YET_VALID"


def test_offline_uses_signed_lists(lic: Licences, files: dict[str, Path]) -> None:
    result = run(lic, "--json", "--offline", files["sm2.pdf"])
    assert result.returncode == 0, result.stdout + result.stderr
    checks = json.loads(result.stdout)["signatures"][0]["checks"]
    status = next(c for c in checks if c["name"] == "licence_status")
    assert "status list" in status["detail"]


def test_trust_adds_an_anchor_for_this_run(lic: Licences, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from tests import revocation_corpus as rc

    pki = corpus.make_rsa_pki("Elsewhere")
    pdf = tmp_path / "foreign.pdf"
    signed = corpus.sign_rsa(corpus.plain_pdf("Foreign"), pki)
    now = datetime.now(UTC)
    pdf.write_bytes(rc.with_dss(signed, crls=[rc.crl(
        pki, this_update=now - timedelta(hours=1), next_update=now + timedelta(days=1))]))
    assert run(lic, pdf).returncode == 1
    pem = tmp_path / "root.pem"
    from trust.pki.pem import to_pem_bundle

    pem.write_text(to_pem_bundle([pki.root_der]))
    result = run(lic, "--trust", pem, pdf)
    assert result.returncode == 0, result.stdout + result.stderr
    bare = tmp_path / "bare.pdf"  # no revocation material in the file: never passed
    bare.write_bytes(signed)
    assert run(lic, "--trust", pem, bare).returncode == 1


def test_usage_errors_exit_2(lic: Licences, files: dict[str, Path], tmp_path: Path) -> None:
    assert run(lic, "--at", "yesterday", files["sm2.pdf"]).returncode == 2
    assert run(lic, "--at", "2026-01-01T00:00:00", files["sm2.pdf"]).returncode == 2
    assert run(lic, "--trust", tmp_path / "nope.pem", files["sm2.pdf"]).returncode == 2
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    assert run(lic, "--trust", garbage, files["sm2.pdf"]).returncode == 2
    assert run(lic, "--lists", tmp_path, files["sm2.pdf"]).returncode == 2
    assert run(lic, "--offline", "--lists", tmp_path, files["sm2.pdf"]).returncode == 2
    assert run(lic).returncode == 2
