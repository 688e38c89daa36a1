"""OFD licences: issued through the same path as PDF, checked by an independent reader.

The independent check reads the package with zipfile and ElementTree, hashes
with hashlib's SM3, takes DER(TBS_Sign) apart with a generic DER walk (not
trust.seal) and verifies the SM2 signature with the openssl command line.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import core, x509

from api.deployment import DEMO_DEPARTMENT
from api.issuance import issue_one
from tests.api_support import Api
from tests.licence_corpus import TYPES, Licences, open_licences
from tests.support import TYPE_SAMPLE, require
from trust.errors import InputError
from trust.indications import Indication, SubIndication
from verification import verify_pdf

NS = {"ofd": "http://www.ofdspec.org/2016"}


@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    yield from open_licences(tmp_path_factory.mktemp("ofd") / "home")


def _issue(lic: Licences, type_code: str = "BL", number: int = 1, alg: str = "sm2") -> tuple[
        str, bytes]:
    with lic.deployment.registry.session() as s:
        issued = issue_one(lic.deployment, s, type_code=type_code,
                           record=TYPES.get(type_code).example(number),
                           department=DEMO_DEPARTMENT, alg=alg, actor="test", file_format="ofd")
    return issued.licence_id, issued.pdf


def test_ofd_licence_verifies_online_with_every_check(lic: Licences) -> None:
    licence_id, data = _issue(lic)
    report = verify_pdf(data, lic.online(), name="licence.ofd")
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    sig = report.signatures[0]
    names = [c.name for c in sig.checks]
    for needed in ("integrity.digest", "integrity.signature", "modifications", "timestamp",
                   "chain", "revocation", "seal", "licence_status"):
        assert needed in names
    assert sig.facts.licence_id == licence_id and sig.facts.status_index is not None
    assert sig.facts.timestamp_time is not None and report.facts.parser == "ofd"


def test_every_shipped_type_issues_as_ofd_and_verifies(lic: Licences) -> None:
    # tests/test_type_catalogue.py issues every type of the catalogue as OFD
    for number, code in enumerate(TYPE_SAMPLE, start=10):
        _, data = _issue(lic, code, number)
        assert verify_pdf(data, lic.online()).indication is Indication.TOTAL_PASSED, code


def _der_children(der: bytes) -> list[bytes]:
    """The encoded children of a DER SEQUENCE, by a plain TLV walk."""
    assert der[0] == 0x30
    seq = core.Sequence.load(der)
    return [bytes(child) for child in _raw_items(seq.contents)]


def _raw_items(data: bytes) -> Iterator[bytes]:
    i = 0
    while i < len(data):
        length = data[i + 1]
        start = i + 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[start:start + n], "big")
            start += n
        yield data[i:start + length]
        i = start + length


def test_independent_reader_checks_references_data_hash_and_signature(
        lic: Licences, tmp_path: Path) -> None:
    require(shutil.which("openssl") is not None, "openssl command line")
    _, data = _issue(lic, "DL", 3)
    z = zipfile.ZipFile(io.BytesIO(data))
    sig_xml = z.read("Doc_0/Signs/Sign_0/Signature.xml")
    root = ET.fromstring(sig_xml)
    refs = root.findall("ofd:SignedInfo/ofd:References/ofd:Reference", NS)
    protected = {r.get("FileRef", "").lstrip("/") for r in refs}
    # every file of the package but the signature's own two is protected
    assert protected == set(z.namelist()) - {"Doc_0/Signs/Sign_0/Signature.xml",
                                              "Doc_0/Signs/Sign_0/SignedValue.dat"}
    for ref in refs:
        value = ref.find("ofd:CheckValue", NS)
        assert value is not None and value.text is not None
        name = ref.get("FileRef", "").lstrip("/")
        assert hashlib.new("sm3", z.read(name)).digest() == base64.b64decode(value.text)
    params = {p.get("Name"): p.text for p in root.iter("{{{}}}Parameter".format(NS["ofd"]))}
    assert params["sealtrust.licenceId"].startswith("L1-DL-")
    # SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert, signatureAlgID, signature, [0] ts }
    value = z.read("Doc_0/Signs/Sign_0/SignedValue.dat")
    tbs, cert_octets, alg, signature = _der_children(value)[:4]
    tbs_fields = _der_children(tbs)
    assert core.Integer.load(tbs_fields[0]).native == 4
    assert tbs_fields[1] == z.read("Doc_0/Signs/Sign_0/Seal.esl")  # Seal.esl is the eseal
    assert core.OctetBitString.load(tbs_fields[3]).native == hashlib.new("sm3", sig_xml).digest()
    assert core.ObjectIdentifier.load(alg).dotted == "1.2.156.10197.1.501"
    cert = x509.Certificate.load(core.OctetString.load(cert_octets).native)
    (tmp_path / "tbs.der").write_bytes(tbs)
    (tmp_path / "sig.der").write_bytes(core.OctetBitString.load(signature).native)
    (tmp_path / "pub.der").write_bytes(cert.public_key.dump())
    subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", "pub.der",
                    "-out", "pub.pem"], cwd=tmp_path, check=True, capture_output=True)
    done = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
         "-in", "tbs.der", "-sigfile", "sig.der", "-digest", "sm3",
         "-pkeyopt", "distid:1234567812345678"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout, done.stderr
    # and a flipped byte of the TBS is refused by the same command
    (tmp_path / "tbs.der").write_bytes(tbs[:-1] + bytes([tbs[-1] ^ 1]))
    bad = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
         "-in", "tbs.der", "-sigfile", "sig.der", "-digest", "sm3",
         "-pkeyopt", "distid:1234567812345678"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert bad.returncode != 0


def test_rsa_is_refused_for_ofd_with_a_clear_message(lic: Licences) -> None:
    for alg in ("rsa", "sm2+rsa"):
        with pytest.raises(InputError, match="SM2 only"):
            _issue(lic, alg=alg)


def test_cli_takes_the_format_from_the_suffix_and_verifies_it(lic: Licences,
                                                               tmp_path: Path) -> None:
    home = str(lic.deployment.home.root)
    record = tmp_path / "rec.json"
    record.write_text(json.dumps(TYPES.get("BL").example(77), ensure_ascii=False))
    out = tmp_path / "licence.ofd"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api.cli", *args, "--home", home],
                              capture_output=True, text=True, timeout=300, check=False)

    issued = cli("issue", "--type", "BL", "--data", str(record), "--out", str(out))
    assert issued.returncode == 0, issued.stderr
    assert out.read_bytes()[:4] == b"PK\x03\x04"
    verified = cli("verify", "--json", str(out))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["file"]["parser"] == "ofd"
    refused = cli("issue", "--type", "BL", "--data", str(record), "--out", str(out),
                  "--alg", "rsa")
    assert refused.returncode == 2 and "SM2" in refused.stderr


def test_issue_batch_writes_ofd_files(lic: Licences, tmp_path: Path) -> None:
    lines = tmp_path / "dl.jsonl"
    lines.write_text("\n".join(json.dumps(TYPES.get("DL").example(n), ensure_ascii=False)
                               for n in range(200, 203)) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "issue-batch", str(lines), "--type", "DL",
         "--format", "ofd", "--out-dir", str(tmp_path / "out"), "--workers", "1",
         "--home", str(lic.deployment.home.root), "--json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    files = sorted((tmp_path / "out").glob("*.ofd"))
    assert len(files) == 3
    for f in files:
        assert verify_pdf(f.read_bytes(), lic.online()).indication is Indication.TOTAL_PASSED


def test_api_issues_ofd_and_downloads_it_with_its_media_type(api: Api) -> None:
    body = {"type": "DL", "record": TYPES.get("DL").example(901), "format": "ofd"}
    issued = api.client.post("/v1/licences", json=body, headers=api.headers("issuer"))
    assert issued.status_code == 201, issued.text
    got = api.client.get(issued.json()["download"], headers=api.headers("issuer"))
    assert got.headers["content-type"] == "application/ofd"
    assert got.content[:4] == b"PK\x03\x04"
    assert ".ofd" in got.headers["content-disposition"]
    refused = api.client.post("/v1/licences", json={**body, "alg": "rsa"},
                              headers=api.headers("issuer"))
    assert refused.status_code == 422 and "SM2" in refused.text


def test_bulk_engine_verifies_ofd_and_pdf_together(lic: Licences, tmp_path: Path) -> None:
    from verification import verify_files

    paths = []
    for n in range(4):
        _, data = _issue(lic, "DL", 400 + n)
        paths.append(tmp_path / f"l{n}.ofd")
        paths[-1].write_bytes(data)
    paths.append(tmp_path / "l.pdf")
    paths[-1].write_bytes(lic.issue("bulk-pdf", number=404))
    reports = list(verify_files(paths, lic.online(), workers=2))
    assert len(reports) == 5
    assert all(r.indication is Indication.TOTAL_PASSED for r in reports)
    assert sorted(r.facts.parser for r in reports) == ["fast", "ofd", "ofd", "ofd", "ofd"]


def test_ofd_licence_binding_rules_hold_like_pdf(lic: Licences) -> None:
    """Validity, registered file and department binding apply to OFD licences too."""
    from datetime import date, timedelta

    from tests.licence_corpus import dated

    today = date.today()
    with lic.deployment.registry.session() as s:
        expired = issue_one(lic.deployment, s, type_code="DL", department=DEMO_DEPARTMENT,
                            record=dated("DL", 501, today - timedelta(days=800),
                                         today - timedelta(days=2)),
                            actor="test", file_format="ofd", historical=True).pdf
    report = verify_pdf(expired, lic.online())
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED,
                                                          SubIndication.EXPIRED)
    _, genuine = _issue(lic, "DL", 502)
    report = verify_pdf(genuine, lic.online())
    names = {c.name: c for c in report.signatures[0].checks}
    assert names["registered_file"].passed and names["licence_binding"].passed
    assert names["licence_validity"].passed
    # a copy re-zipped (same signed entries, other bytes) is not the registered file
    z = zipfile.ZipFile(io.BytesIO(genuine))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in z.infolist():
            copy.writestr(info.filename, z.read(info))
    report = verify_pdf(out.getvalue(), lic.online())
    assert report.indication is Indication.TOTAL_FAILED
    assert not {c.name: c for c in report.signatures[0].checks}["registered_file"].passed


def test_qr_path_reads_back_as_the_licence_token(lic: Licences) -> None:
    """The QR path, rasterised here from its OFD path data (M/L/C subpaths filled by
    Pillow, scaled by the object's CTM as a viewer does) and read by zxing, is the
    document token of this licence."""
    import zxingcpp
    from PIL import Image, ImageDraw

    from trust.token import decode_token

    licence_id, data = _issue(lic, "DL", 7)
    page = ET.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("Doc_0/Pages/Page_0/Content.xml"))
    symbols = page.findall(".//ofd:PathObject[@CTM]", NS)
    assert len(symbols) == 1
    qr = TYPES.get("DL").layout.qr
    x, y, w, h = map(float, symbols[0].get("Boundary", "").split())
    assert (x, y, w, h) == pytest.approx((qr.x_mm, qr.y_mm, qr.size_mm, qr.size_mm), abs=1e-3)
    a, b, c, d, e, f = map(float, symbols[0].get("CTM", "").split())
    assert (b, c, e, f) == (0, 0, 0, 0) and a == pytest.approx(d)
    scale = 8  # pixels per path unit (one module)
    side = round(w / a)  # modules across the Boundary
    image = Image.new("L", ((side + 8) * scale, (side + 8) * scale), 255)
    draw = ImageDraw.Draw(image)
    tokens = (symbols[0].findtext("ofd:AbbreviatedData", namespaces=NS) or "").split()
    polygon: list[tuple[float, float]] = []
    i = 0
    while i < len(tokens):
        op = tokens[i]
        if op in ("M", "L"):
            if op == "M":
                polygon = []
            px, py = float(tokens[i + 1]), float(tokens[i + 2])
            polygon.append(((px + 4) * scale, (py + 4) * scale))
            i += 3
        else:
            assert op == "C", op  # the symbol uses only moves, lines and closes
            draw.polygon(polygon, fill=0)
            i += 1
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(codes) == 1
    assert decode_token(codes[0].text).claims.licence_id == licence_id


def test_package_is_a_clean_zip_for_unzip_and_zipfile(lic: Licences, tmp_path: Path) -> None:
    """Entries whose leading bytes are deflated once per type (the page's decoration) and
    the rest per licence inflate to one stream with a correct CRC in independent readers."""
    require(shutil.which("unzip") is not None, "unzip command line")
    _, data = _issue(lic, "BL", 8)
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None  # every CRC-32 checked by the standard library
    assert z.namelist()[:2] == ["OFD.xml", "Doc_0/Document.xml"]
    content = z.read("Doc_0/Pages/Page_0/Content.xml")
    root = ET.fromstring(content)  # one well-formed page: the shared head and its tail
    assert len(root.findall(".//ofd:PathObject", NS)) > 3
    assert len(root.findall(".//ofd:TextObject", NS)) > 10
    (tmp_path / "l.ofd").write_bytes(data)
    done = subprocess.run(["unzip", "-t", str(tmp_path / "l.ofd")], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and "No errors detected" in done.stdout, done.stdout


@pytest.mark.parametrize("file_format", ["ofd", "pdf"])
def test_one_issuance_takes_both_counters_in_one_short_transaction(
        lic: Licences, monkeypatch: pytest.MonkeyPatch, file_format: str) -> None:
    """The licence sequence and the status index are reserved together: one extra commit
    per issuance, not two (each is a write-lock round on SQLite)."""
    registry = lic.deployment.registry
    real = registry.session
    opened: list[int] = []

    def counting(*args: object, **kwargs: object) -> object:
        opened.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with real() as s:
        monkeypatch.setattr(registry, "session", counting)
        issued = issue_one(lic.deployment, s, type_code="DL", record=TYPES.get("DL").example(60),
                           department=DEMO_DEPARTMENT, actor="test", file_format=file_format)
    monkeypatch.undo()
    assert opened == [1]
    report = verify_pdf(issued.pdf, lic.online())
    assert report.indication is Indication.TOTAL_PASSED
    assert report.signatures[0].facts.status_index is not None
