"""``sealtrust keys`` end to end on the file: and sdf: schemes (click's CliRunner)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.cli import cli
from tests.sdf import harness
from tests.support import require

SECRET = "cli-Pass-9f2"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ST_KEYS_PIN", SECRET)
    monkeypatch.delenv("SEALTRUST_KEYSTORE_PASSWORD", raising=False)
    return tmp_path / "home"


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["keys", *args, "--home", str(home), "--json"])
    return result.exit_code, result.stdout, result.stderr


def test_generate_list_show_import_export(home: Path, tmp_path: Path) -> None:
    code, out, _ = _run(home, "generate", "--uri", "file:keys/a.p8", "--algorithm", "ecdsa-p256",
                        "--pin-env", "ST_KEYS_PIN")
    assert code == 0, out
    generated = json.loads(out)
    assert generated["algorithm"] == "ecdsa-p256"
    assert generated["health"]["up"] is True

    private = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "imp.pem"
    key_file.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Imported Seal")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(7)
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=9))
            .sign(private, hashes.SHA256()))
    chain_file = tmp_path / "chain.pem"
    chain_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    code, out, _ = _run(home, "import", "--uri", "file:keys/imp.p8", "--key-file", str(key_file),
                        "--chain-file", str(chain_file), "--pin-env", "ST_KEYS_PIN")
    assert code == 0, out
    assert json.loads(out)["certificate_chain"][0]["subject"] == "Common Name: Imported Seal"

    code, out, _ = _run(home, "list", "--uri", "file:keys", "--pin-env", "ST_KEYS_PIN")
    assert code == 0
    assert {k["uri"] for k in json.loads(out)} == {"file:keys/a.p8", "file:keys/imp.p8"}

    code, out, _ = _run(home, "show", "--uri", "file:keys/a.p8", "--pin-env", "ST_KEYS_PIN")
    assert json.loads(out)["public_key_sha256"] == generated["public_key_sha256"]

    target = tmp_path / "out.pem"
    code, out, _ = _run(home, "export-cert", "--uri", "file:keys/imp.p8", "--out", str(target),
                        "--pin-env", "ST_KEYS_PIN")
    assert code == 0
    assert x509.load_pem_x509_certificate(target.read_bytes()) == cert
    code, out, _ = _run(home, "export-cert", "--uri", "file:keys/a.p8", "--pin-env",
                        "ST_KEYS_PIN")
    assert code == 2
    assert json.loads(out)["error"]["code"] == "keystore.no_certificate"


def test_errors_are_clean_and_never_show_the_pin(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(home, "generate", "--uri", "file:k.p8", "--pin-env", "ST_KEYS_PIN")
    monkeypatch.setenv("ST_WRONG", "wrong-" + SECRET)
    code, out, err = _run(home, "show", "--uri", "file:k.p8", "--pin-env", "ST_WRONG")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "keystore.pin"
    assert SECRET not in out + err
    code, out, _ = _run(home, "show", "--uri", f"pkcs11:token=x;object=y?pin-value={SECRET}")
    assert code == 2
    assert SECRET not in out
    code, out, _ = _run(home, "show", "--uri", "file:absent.p8", "--pin-env", "ST_KEYS_PIN")
    assert json.loads(out)["error"]["code"] == "keystore.key_not_found"


def test_development_password_file_is_the_default(home: Path) -> None:
    (home / "secrets").mkdir(parents=True)
    password = home / "secrets" / "keystore.pass"
    password.write_text(SECRET)
    password.chmod(0o600)
    code, out, _ = _run(home, "generate", "--uri", "file:keys/dev.p8")
    assert code == 0, out
    code, out, _ = _run(home, "show", "--uri", "file:keys/dev.p8", "--pin-env", "ST_KEYS_PIN")
    assert code == 0  # the same password through another source opens it


@pytest.mark.sdf
def test_sdf_list_and_show(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require(harness.have_gcc(), "gcc and libssl-dev to build the software SDF library")
    lib = harness.build_softsdf(tmp_path)
    harness.add_sdf_key(tmp_path / "dev", 1, SECRET.encode())
    monkeypatch.setenv("SOFTSDF_DIR", str(tmp_path / "dev"))
    code, out, _ = _run(home, "list", "--uri", f"sdf:?module-path={lib}")
    assert code == 0, out
    [info] = json.loads(out)
    code, out, _ = _run(home, "show", "--uri", info["uri"], "--pin-env", "ST_KEYS_PIN")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["algorithm"] == "sm2"
    assert shown["health"]["up"] is True
    code, out, _ = _run(home, "generate", "--uri", info["uri"], "--pin-env", "ST_KEYS_PIN")
    assert json.loads(out)["error"]["code"] == "keystore.unsupported"
