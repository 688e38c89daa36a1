"""Issuance through device keys end to end: SoftHSM2 (PKCS#11) and the software SDF library.

The CLI runs in subprocesses, as an operator runs it: each loads SoftHSM2
with this module's own token directory (SoftHSM2 reads its configuration
once per process), and PINs reach it only through environment variables
named on the command line. Signatures are judged independently of the
signing code: RSA by stock pyHanko, SM2 by pyHanko with gmssl, key
attributes and certificates on the token by OpenSC's pkcs11-tool.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from sqlalchemy import func, select

from api.deployment import (
    DEMO_DEPARTMENT,
    Deployment,
    Home,
    device_pin_env,
    init_deployment,
    load_config,
)
from api.issuance import issue_one
from hsm_adapters import LiteralPin, PinError
from signing.departments import certify_department_key, department_certificates
from signing.seals import make_department_seal
from signing.types import builtin_types
from tests.sdf import harness
from tests.sign_certs import gmssl_signature_validator
from tests.support import require
from trust.errors import ConflictError, InputError
from trust.registry.models import AuditEntry, CertificateRecord, KeyRecord, Licence, SealRecord
from trust.seal import parse_seal

TYPES = builtin_types()
HSM_PIN_VAR = "ST_TEST_HSM_PIN"
SDF_PIN_VAR = "ST_TEST_SDF_PIN"
SDF_PASSWORD = "sdf-Access-7"
P11_URI = f"pkcs11:token={harness.TOKEN_LABEL};object=dept-rsa"


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("devices") / "home"
    init_deployment(root)
    return root


@pytest.fixture(scope="module")
def softhsm_conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(harness.have_softhsm(), "SoftHSM2 (Debian package softhsm2)")
    # The harness sets SOFTHSM2_CONF for this process; restore it, since only the
    # subprocesses below load SoftHSM2 with this token directory.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", os.environ.get("SOFTHSM2_CONF", ""))
        return harness.init_softhsm(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="module")
def sdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(compiled library, device directory with SM2 keys at indices 1..3)."""
    require(harness.have_gcc(), "gcc and libssl-dev to build the software SDF library")
    base = tmp_path_factory.mktemp("softsdf")
    library = harness.build_softsdf(base, 64)
    device = base / "device"
    for index in (1, 2, 3):
        harness.add_sdf_key(device, index, SDF_PASSWORD.encode())
    return library, device


def _sdf_uri(library: Path, index: int) -> str:
    return f"sdf:key-index={index}?module-path={library}&ecc-max-len=64"


def _env(softhsm_conf: Path | None = None, device: Path | None = None,
         pins: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALTRUST_")}
    if softhsm_conf is not None:
        env["SOFTHSM2_CONF"] = str(softhsm_conf)
    if device is not None:
        env["SOFTSDF_DIR"] = str(device)
    env.update(pins or {})
    return env


def cli(home: Path, env: dict[str, str], *args: str,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "api.cli", *args, "--home", str(home)],
                            capture_output=True, text=True, timeout=300, env=env)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _counts(home: Path) -> tuple[int, ...]:
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        with dep.registry.session() as s:
            return tuple(int(s.execute(select(func.count()).select_from(m)).scalar_one())
                         for m in (KeyRecord, CertificateRecord, Licence, AuditEntry, SealRecord))
    finally:
        dep.close()


def _licence_rows(home: Path, key_uri: str) -> set[str]:
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        with dep.registry.session() as s:
            return set(s.execute(select(Licence.id).where(Licence.key_uri == key_uri)).scalars())
    finally:
        dep.close()


def _seal_lists(home: Path, es_id: str, cert_sha256: str) -> bool:
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        with dep.registry.session() as s:
            record = s.get(SealRecord, es_id)
            assert record is not None
            certs = parse_seal(bytes(record.der)).cert_list
    finally:
        dep.close()
    return cert_sha256 in {hashlib.sha256(c.certificate or b"").hexdigest() for c in certs}


def _pdf_status(pdf: bytes, root_pem: Path, *, sm2: bool) -> tuple[Any, Any, int]:
    """(pyHanko status, the signer certificate, gmssl SM2 checks) of the PDF's only signature."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from trust.pki import Certificate

    root = asn1_x509.Certificate.load(Certificate.from_pem(root_pem.read_text()).der)
    kw: dict[str, Any] = {"trust_roots": [root], "allow_fetching": False}
    validator = gmssl_signature_validator() if sm2 else None
    if validator is not None:
        kw["signature_validator"] = validator
    sigs = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert len(sigs) == 1
    status = validate_pdf_signature(sigs[0], ValidationContext(**kw),
                                    ts_validation_context=ValidationContext(**kw))
    return status, sigs[0].signer_cert, validator.sm2_checks if validator else 0


def _record(tmp: Path, code: str, n: int) -> Path:
    path = tmp / f"{code}-{n}.json"
    path.write_text(json.dumps(TYPES.get(code).example(n), ensure_ascii=False), encoding="utf-8")
    return path


def _token_objects(env: dict[str, str]) -> list[dict[str, str]]:
    """The token's objects as OpenSC's pkcs11-tool lists them: kind, label, access."""
    listing = subprocess.run(
        ["pkcs11-tool", "--module", harness.SOFTHSM_MODULE, "--token-label", harness.TOKEN_LABEL,
         "--login", "--pin", harness.USER_PIN, "--list-objects"],
        env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    objects: list[dict[str, str]] = []
    for line in listing.splitlines():
        if line and not line[0].isspace():
            objects.append({"kind": line.split(" Object", 1)[0], "label": "", "access": ""})
        elif objects and ":" in line:
            name, _, value = line.strip().partition(":")
            objects[-1][name.strip().lower()] = value.strip()
    return objects


def _database_text(home: Path) -> str:
    """Every byte of the SQLite registry (and its journal files), for searching for secrets."""
    return b"".join(p.read_bytes() for p in sorted(home.glob("sealtrust.db*"))).decode("latin-1")


def _no_secret(*outputs: str, secrets: tuple[str, ...]) -> None:
    for text in outputs:
        for secret in secrets:
            assert secret not in text


@dataclass(frozen=True)
class Added:
    """What ``dept add-key`` printed (with the process) and the seal made right after."""

    process: subprocess.CompletedProcess[str]
    result: dict[str, Any]
    seal_es_id: str


def _add_key_and_seal(home: Path, env: dict[str, str], uri: str, pin_var: str) -> Added:
    added = cli(home, env, "dept", "add-key", "--code", DEMO_DEPARTMENT, "--uri", uri,
                "--pin-env", pin_var, "--json")
    seal = json.loads(cli(home, env, "seal", "make", "--dept", DEMO_DEPARTMENT,
                          "--json").stdout)
    return Added(added, json.loads(added.stdout), seal["es_id"])


# --- PKCS#11 (SoftHSM2) --------------------------------------------------------------------


@pytest.fixture(scope="module")
def hsm_key(home: Path, softhsm_conf: Path) -> Added:
    """An RSA-2048 key generated on the token, ``dept add-key``, ``seal make``."""
    require(shutil.which("pkcs11-tool") is not None, "OpenSC's pkcs11-tool (package opensc)")
    env = _env(softhsm_conf, pins={HSM_PIN_VAR: harness.USER_PIN})
    cli(home, env, "keys", "generate", "--uri", P11_URI, "--algorithm", "rsa-2048",
        "--pin-env", HSM_PIN_VAR)
    return _add_key_and_seal(home, env, P11_URI, HSM_PIN_VAR)


@pytest.mark.pkcs11
def test_hsm_rsa_key_seals_a_licence_that_stock_pyhanko_trusts(
    home: Path, softhsm_conf: Path, hsm_key: Added, tmp_path: Path
) -> None:
    env = _env(softhsm_conf, pins={HSM_PIN_VAR: harness.USER_PIN})
    private = [o for o in _token_objects(env)
               if o["kind"] == "Private Key" and o["label"] == "dept-rsa"]
    assert len(private) == 1
    assert {"sensitive", "never extractable"} <= set(private[0]["access"].split(", "))

    added, result = hsm_key.process, hsm_key.result
    assert result["algorithm"] == "rsa-2048"
    fingerprint = result["certificate"]
    config = load_config(Home(home))
    assert config["pins"][P11_URI] == {"env": HSM_PIN_VAR}
    # The certificate went onto the token, read back by OpenSC rather than the adapter.
    on_token = subprocess.run(
        ["pkcs11-tool", "--module", harness.SOFTHSM_MODULE, "--token-label", harness.TOKEN_LABEL,
         "--login", "--pin", harness.USER_PIN, "--read-object", "--type", "cert", "--label",
         "dept-rsa"], env=env, capture_output=True, timeout=60, check=True).stdout
    assert hashlib.sha256(on_token).hexdigest() == fingerprint

    assert _seal_lists(home, hsm_key.seal_es_id, fingerprint)

    pdf_path = tmp_path / "bl.pdf"
    issued = cli(home, env, "issue", "--type", "BL", "--data", str(_record(tmp_path, "BL", 11)),
                 "--out", str(pdf_path), "--alg", "rsa", "--key", P11_URI)
    licence_id = json.loads(issued.stdout)["licence_id"]
    status, signer, _ = _pdf_status(pdf_path.read_bytes(), home / "pki" / "rsa-root.pem",
                                    sm2=False)
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.timestamp_validity is not None
    assert hashlib.sha256(signer.dump()).hexdigest() == fingerprint
    assert licence_id in _licence_rows(home, P11_URI)
    _no_secret(added.stdout, added.stderr, issued.stdout, issued.stderr,
               (home / "deployment.json").read_text(), _database_text(home),
               secrets=(harness.USER_PIN,))


@pytest.mark.pkcs11
def test_hsm_wrong_pin_is_a_clear_error_and_stores_nothing(
    home: Path, softhsm_conf: Path, hsm_key: Added, tmp_path: Path
) -> None:
    uri = f"pkcs11:token={harness.TOKEN_LABEL};object=dept-rsa-spare"
    good = _env(softhsm_conf, pins={HSM_PIN_VAR: harness.USER_PIN})
    cli(home, good, "keys", "generate", "--uri", uri, "--algorithm", "ecdsa-p256",
        "--pin-env", HSM_PIN_VAR)
    wrong_pin = "0000-wrong"
    bad = _env(softhsm_conf, pins={HSM_PIN_VAR: wrong_pin})
    config_before = (home / "deployment.json").read_text()
    before = _counts(home)
    added = cli(home, bad, "dept", "add-key", "--code", DEMO_DEPARTMENT, "--uri", uri,
                "--pin-env", HSM_PIN_VAR, check=False)
    assert added.returncode == 1
    assert "[keystore.pin]" in added.stderr and "CKR_PIN_INCORRECT" in added.stderr
    assert uri in added.stderr
    # A registered key with a wrong PIN at issuance: refused, no licence, no file.
    pdf_path = tmp_path / "never.pdf"
    issued = cli(home, bad, "issue", "--type", "BL", "--data", str(_record(tmp_path, "BL", 12)),
                 "--out", str(pdf_path), "--alg", "rsa", "--key", P11_URI, check=False)
    assert issued.returncode == 1
    assert "[keystore.pin]" in issued.stderr
    assert not pdf_path.exists()
    assert _counts(home) == before
    assert (home / "deployment.json").read_text() == config_before
    # No certificate reached the token for the refused key (OpenSC lists the objects).
    spare = {o["kind"] for o in _token_objects(good) if o["label"].startswith("dept-rsa-spare")}
    assert spare == {"Private Key", "Public Key"}
    _no_secret(added.stdout, added.stderr, issued.stdout, issued.stderr,
               secrets=(wrong_pin, harness.USER_PIN))


# --- GM/T 0018 SDF ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdf_key(home: Path, sdf: tuple[Path, Path]) -> Added:
    """``dept add-key`` of the SM2 key at index 1 of the SDF device, ``seal make``."""
    library, device = sdf
    return _add_key_and_seal(home, _env(device=device, pins={SDF_PIN_VAR: SDF_PASSWORD}),
                             _sdf_uri(library, 1), SDF_PIN_VAR)


@pytest.mark.sdf
def test_sdf_sm2_key_seals_a_licence_whose_cms_signature_verifies(
    home: Path, sdf: tuple[Path, Path], sdf_key: Added,
    tmp_path: Path
) -> None:
    library, device = sdf
    uri = _sdf_uri(library, 1)
    env = _env(device=device, pins={SDF_PIN_VAR: SDF_PASSWORD})
    added = sdf_key.process
    assert load_config(Home(home))["pins"][uri] == {"env": SDF_PIN_VAR}
    fingerprint = sdf_key.result["certificate"]
    assert sdf_key.result["algorithm"] == "sm2"
    assert list((home / "sdf").glob("*-1.chain.pem"))
    assert _seal_lists(home, sdf_key.seal_es_id, fingerprint)

    pdf_path = tmp_path / "dl.pdf"
    issued = cli(home, env, "issue", "--type", "DL", "--data", str(_record(tmp_path, "DL", 21)),
                 "--out", str(pdf_path), "--alg", "sm2", "--key", uri)
    status, signer, sm2_checks = _pdf_status(pdf_path.read_bytes(),
                                             home / "pki" / "sm2-root.pem", sm2=True)
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.pkcs7_signature_mechanism == "sm2_sm3"
    assert sm2_checks >= 2  # the CMS signature and its certificate, at least, via gmssl
    # The signing key is the device's: its public key as the openssl CLI reads the key file.
    device_spki = subprocess.run(
        ["openssl", "pkey", "-in", str(device / "sign_1.pem"), "-pubout", "-outform", "DER"],
        capture_output=True, check=True, timeout=30).stdout
    assert signer.public_key.dump() == device_spki
    assert json.loads(issued.stdout)["licence_id"] in _licence_rows(home, uri)
    _no_secret(added.stdout, added.stderr, issued.stdout, issued.stderr,
               (home / "deployment.json").read_text(), _database_text(home),
               secrets=(SDF_PASSWORD,))


@pytest.mark.sdf
def test_sdf_sm2_key_seals_an_ofd_licence(home: Path, sdf: tuple[Path, Path], sdf_key: Added,
                                          tmp_path: Path) -> None:
    """OFD licences go through the same key adapters: the device's key signs the seal."""
    library, device = sdf
    uri = _sdf_uri(library, 1)
    env = _env(device=device, pins={SDF_PIN_VAR: SDF_PASSWORD})
    ofd_path = tmp_path / "dl.ofd"
    cli(home, env, "issue", "--type", "DL", "--data", str(_record(tmp_path, "DL", 22)),
        "--out", str(ofd_path), "--alg", "sm2", "--key", uri)
    verified = cli(home, env, "verify", "--json", str(ofd_path))
    report = json.loads(verified.stdout)
    assert report["indication"] == "TOTAL_PASSED", verified.stdout
    assert report["file"]["parser"] == "ofd"
    device_spki = subprocess.run(
        ["openssl", "pkey", "-in", str(device / "sign_1.pem"), "-pubout", "-outform", "DER"],
        capture_output=True, check=True, timeout=30).stdout
    signer = asn1_x509.Certificate.load(base64.b64decode(
        report["signatures"][0]["facts"]["signer_cert"]))
    assert signer.public_key.dump() == device_spki


@pytest.mark.sdf
def test_sdf_fault_mid_batch_fails_those_lines_and_registers_only_written_licences(
    home: Path, sdf: tuple[Path, Path], sdf_key: Added,
    tmp_path: Path
) -> None:
    library, device = sdf
    uri = _sdf_uri(library, 1)
    env = _env(device=device, pins={SDF_PIN_VAR: SDF_PASSWORD})
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(json.dumps(TYPES.get("VL").example(300 + i),
                                            ensure_ascii=False) for i in range(6)) + "\n",
                       encoding="utf-8")
    out = tmp_path / "out"
    before = _licence_rows(home, uri)
    (device / "fault").write_text("2\n")
    try:
        run = cli(home, env, "issue-batch", str(records), "--out-dir", str(out), "--type", "VL",
                  "--alg", "sm2", "--key", uri, "--workers", "1", "--json", check=False)
    finally:
        (device / "fault").unlink()
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert (report["total"], report["issued"], report["failed"]) == (6, 2, 4), [(e["error_code"], e["error"]) for e in report["errors"]]
    for error in report["errors"]:
        assert error["error_code"] == "keystore.device", error
        assert "SDR_HARDFAIL" in error["error"] and uri in error["error"]
    files = {p.stem for p in out.glob("*.pdf")}
    assert len(files) == 2
    assert _licence_rows(home, uri) - before == files
    _no_secret(run.stdout, run.stderr, (out / "errors.jsonl").read_text(),
               secrets=(SDF_PASSWORD,))


@pytest.mark.sdf
def test_sdf_wrong_pin_is_a_clear_error_and_stores_nothing(
    home: Path, sdf: tuple[Path, Path]
) -> None:
    library, device = sdf
    uri = _sdf_uri(library, 2)
    wrong = "not-the-Password"
    before, config_before = _counts(home), (home / "deployment.json").read_text()
    run = cli(home, _env(device=device, pins={SDF_PIN_VAR: wrong}), "dept", "add-key", "--code",
              DEMO_DEPARTMENT, "--uri", uri, "--pin-env", SDF_PIN_VAR, check=False)
    assert run.returncode == 1
    assert "[keystore.pin]" in run.stderr and "SDR_PARDENY" in run.stderr and uri in run.stderr
    _no_secret(run.stdout, run.stderr, secrets=(wrong, SDF_PASSWORD))
    assert _counts(home) == before
    assert (home / "deployment.json").read_text() == config_before
    assert not list((home / "sdf").glob("*-2.chain.pem"))


@pytest.fixture
def deployment(home: Path) -> Iterator[Deployment]:
    dep = Deployment(Home(home), load_config(Home(home)))
    yield dep
    dep.close()


@pytest.mark.sdf
def test_sdf_key_from_python_with_the_conventional_pin_variable(
    deployment: Deployment, sdf: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    library, device = sdf
    monkeypatch.setenv("SOFTSDF_DIR", str(device))
    uri = _sdf_uri(library, 3)
    now = datetime.now(UTC)
    with deployment.registry.session() as s:
        certified = certify_department_key(
            s, deployment.stores, LiteralPin(SDF_PASSWORD), department_code=DEMO_DEPARTMENT,
            key_uri=uri, roots=deployment.roots(), at=now, actor="test")
        make_department_seal(
            s, department_code=DEMO_DEPARTMENT, maker_key=deployment.key("sm2-seal-maker"),
            maker_cert=deployment.certificate("sm2-seal-maker"),
            signer_certs=department_certificates(s, DEMO_DEPARTMENT), valid_start=now,
            valid_end=datetime(now.year + 2, 1, 1, tzinfo=UTC), at=now, actor="test")
    # No pins entry for this URI: Deployment reads the PIN from SEALTRUST_PIN_<hash>.
    with pytest.raises(PinError, match=device_pin_env(uri)), deployment.registry.session() as s:
        issue_one(deployment, s, type_code="VL", record=TYPES.get("VL").example(41),
                  department=DEMO_DEPARTMENT, alg="sm2", key_uri=uri, actor="test")
    monkeypatch.setenv(device_pin_env(uri), SDF_PASSWORD)
    with deployment.registry.session() as s:
        issued = issue_one(deployment, s, type_code="VL", record=TYPES.get("VL").example(41),
                           department=DEMO_DEPARTMENT, alg="sm2", key_uri=uri, actor="test")
    status, signer, _ = _pdf_status(issued.pdf, deployment.home.pki / "sm2-root.pem", sm2=True)
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert signer.dump() == certified.certificate.der
    with pytest.raises(ConflictError, match="already registered"), \
            deployment.registry.session() as s:
        certify_department_key(s, deployment.stores, LiteralPin(SDF_PASSWORD),
                               department_code=DEMO_DEPARTMENT, key_uri=uri,
                               roots=deployment.roots(), at=now, actor="test")


# --- no device needed: certification rules and the PIN mapping ------------------------------


def test_ecdsa_key_is_certified_under_the_rsa_issuing_ca(deployment: Deployment) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    uri = "file:keys/dept-extra-ecdsa.p8"
    deployment.stores.generate(uri, "ecdsa-p256", deployment.home.pin()).close()
    with deployment.registry.session() as s:
        certified = certify_department_key(
            s, deployment.stores, deployment.pin_for(uri), department_code=DEMO_DEPARTMENT,
            key_uri=uri, roots=deployment.roots(), at=datetime.now(UTC), actor="test")
    leaf = x509.load_der_x509_certificate(certified.certificate.der)
    issuing = x509.load_der_x509_certificate(deployment.certificate("rsa-issuing-ca").der)
    root = x509.load_der_x509_certificate(deployment.certificate("rsa-root").der)
    leaf.verify_directly_issued_by(issuing)  # raises if the RSA signature does not verify
    issuing.verify_directly_issued_by(root)
    assert certified.algorithm == "ecdsa-p256"
    with deployment.stores.open_key(uri, deployment.home.pin()) as key:
        assert key.certificate_chain() == [certified.certificate.der, issuing.public_bytes(
            serialization.Encoding.DER), root.public_bytes(serialization.Encoding.DER)]
    with pytest.raises(InputError, match="timezone-aware"), deployment.registry.session() as s:
        certify_department_key(s, deployment.stores, deployment.home.pin(),
                               department_code=DEMO_DEPARTMENT, key_uri="file:keys/x.p8",
                               roots=deployment.roots(), at=datetime(2026, 1, 1), actor="t")


def test_pin_sources_record_names_only_and_bad_entries_are_refused(
    deployment: Deployment, tmp_path: Path
) -> None:
    copy = Home(tmp_path / "copy")
    copy.root.mkdir()
    shutil.copy(deployment.home.config, copy.config)
    dep = Deployment(copy, load_config(copy))
    try:
        uri = "pkcs11:token=Other;object=k"
        assert repr(dep.pin_for(uri)) == f"EnvPin({device_pin_env(uri)!r})"
        assert repr(dep.pin_for("file:keys/audit.p8")) == repr(copy.pin())
        dep.set_pin_source(uri, env="OTHER_HSM_PIN")
        pin_file = tmp_path / "pin"
        dep.set_pin_source("sdf:key-index=9?module-path=/x.so", file=pin_file)
        for env, file in (("A B", None), ("X", Path("/y")), (None, None)):
            with pytest.raises(InputError):
                dep.set_pin_source("sdf:key-index=8?module-path=/x.so", env=env, file=file)
    finally:
        dep.close()
    config = load_config(copy)
    assert config["pins"][uri] == {"env": "OTHER_HSM_PIN"}
    assert config["pins"]["sdf:key-index=9?module-path=/x.so"] == {"file": str(pin_file)}
    assert "sdf:key-index=8?module-path=/x.so" not in config["pins"]
    assert repr(Deployment(copy, config).pin_for(uri)) == "EnvPin('OTHER_HSM_PIN')"
    for bad in ({"pin": "1234"}, {"file": "relative/pin"}, {"env": "X", "file": "/y"}):
        broken = json.loads(copy.config.read_text())
        broken["pins"]["sdf:key-index=7?module-path=/x.so"] = bad
        copy.config.write_text(json.dumps(broken))
        with pytest.raises(InputError, match=r"PIN source|pins entry"):
            load_config(copy)
