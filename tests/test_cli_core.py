"""`sealtrust init`, `pki export` and `doctor` from the command line, as a user runs them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trust.indications import Indication
from trust.pki import EKU_SEAL_MAKING, Certificate, ChainValidator
from trust.seal.results import Outcome
from trust.seal.verify import verify_seal

SEALTRUST = [sys.executable, "-m", "api.cli"]


def run(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run([*SEALTRUST, *args], capture_output=True, text=True, env=full_env,
                            timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deploy") / "home"
    out = run("init", "--home", str(root), "--json")
    report = json.loads(out.stdout)
    assert report["created"] is True
    return root


def test_init_is_idempotent_and_says_so(home: Path) -> None:
    before = snapshot(home)
    out = run("init", "--home", str(home), "--json")
    report = json.loads(out.stdout)
    assert report["created"] is False
    assert "nothing changed" in report["actions"][0]
    assert snapshot(home) == before


def test_json_is_one_document_on_stdout_and_human_text_on_stderr(home: Path) -> None:
    out = run("init", "--home", str(home))
    assert out.stdout == ""
    assert "unchanged" in out.stderr
    out = run("init", "--home", str(home), "--json")
    json.loads(out.stdout)


def test_home_from_environment(tmp_path: Path) -> None:
    root = tmp_path / "envhome"
    run("init", "--json", env={"SEALTRUST_HOME": str(root)})
    assert (root / "deployment.json").exists()


def test_no_private_material_in_output_or_plain_files(home: Path) -> None:
    password = (home / "secrets" / "keystore.pass").read_bytes().decode()
    assert oct((home / "secrets" / "keystore.pass").stat().st_mode & 0o777) == "0o600"
    out = run("init", "--home", str(home), "--json")
    for text in (out.stdout, out.stderr, (home / "deployment.json").read_text()):
        assert password not in text
        assert "PRIVATE KEY" not in text
    for key in (home / "keys").glob("*.p8"):
        assert oct(key.stat().st_mode & 0o777) == "0o600"
        assert b"PRIVATE KEY" not in key.read_bytes()


def test_pki_export_writes_chains_openssl_accepts(home: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "anchors"
    report = json.loads(run("pki", "export", "--home", str(home), "--out", str(out_dir),
                            "--json").stdout)
    roles = {c["role"] for c in report["certificates"]}
    assert {"sm2-root", "rsa-root", "sm2-issuer", "rsa-issuer", "sm2-seal-maker",
            "sm2-tsa", "sm2-token-signer"} <= roles
    for alg, opts in (("sm2", ["-vfyopt", "distid:1234567812345678"]), ("rsa", [])):
        for leaf in ("issuing-ca", "seal-maker", "tsa", "token-signer", "list-signer"):
            res = subprocess.run(["openssl", "verify", *opts, "-CAfile",
                                  str(out_dir / f"{alg}-root.pem"),
                                  str(out_dir / f"{alg}-{leaf}.pem")],
                                 capture_output=True, text=True, check=False)
            assert res.returncode == 0, res.stderr + res.stdout
        # The department signer chains through the issuing CA (openssl applies the SM2 ID
        # to the leaf only, so the link to the root is the issuing-ca case above).
        res = subprocess.run(["openssl", "verify", *opts, "-partial_chain", "-CAfile",
                              str(out_dir / f"{alg}-issuing-ca.pem"),
                              str(out_dir / f"{alg}-issuer.pem")],
                             capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stderr + res.stdout
        direct = subprocess.run(["openssl", "verify", *opts, "-CAfile",
                                 str(out_dir / f"{alg}-root.pem"),
                                 str(out_dir / f"{alg}-issuer.pem")],
                                capture_output=True, text=True, check=False)
        assert direct.returncode != 0  # not issued by the root itself


def test_pki_export_without_init_is_a_clear_usage_error(tmp_path: Path) -> None:
    out = run("pki", "export", "--home", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"),
              check=False)
    assert out.returncode == 2
    assert "sealtrust init" in out.stderr


def test_doctor_reports_openssl_backend_and_passing_self_test(home: Path) -> None:
    report = json.loads(run("doctor", "--json", "--seconds", "0.1").stdout)
    assert report["sm2_backend"] == "openssl"
    assert report["self_test"]["passed"] is True
    assert report["sm2_rate"]["sign_per_s"] > 100
    assert report["libraries"]["cryptography"]


def test_doctor_reports_verification_backends_cpu_and_rates(home: Path) -> None:
    report = json.loads(run("doctor", "--json", "--seconds", "0.05").stdout)
    single, batch = report["sm2_fast_paths"]["ipp"], report["sm2_fast_paths"]["crypto_mb"]
    assert report["sm2_verify_backend"] == ("ipp" if single["active"] else "openssl")
    assert report["sm2_batch_backend"] == ("crypto_mb" if batch["active"] else None)
    assert single["detail"] and batch["detail"]
    assert set(report["cpu"]["flags"]) >= {"avx2", "bmi2", "adx", "avx512ifma"}
    rate = report["sm2_rate"]
    assert rate["verify_backend"] == report["sm2_verify_backend"]
    assert rate["verify_many_per_s"] > 0
    if single["active"]:  # the OpenSSL reference is measured in the same run
        assert rate["verify_openssl_per_s"] > 0 and rate["verify_ratio_vs_openssl"] > 0
    out = run("doctor", "--seconds", "0.05")
    human = out.stdout + out.stderr
    assert f"SM2 verification: {report['sm2_verify_backend']}" in human
    assert "CPU: " in human


def test_demo_seal_verifies_against_the_exported_root(home: Path, tmp_path: Path) -> None:
    from trust.registry import Registry
    from trust.registry.models import SealRecord

    out_dir = tmp_path / "anchors"
    run("pki", "export", "--home", str(home), "--out", str(out_dir))
    root = Certificate.from_pem((out_dir / "sm2-root.pem").read_text())
    validator = ChainValidator([root])

    def chain(cert_der: bytes, at: datetime) -> Outcome:
        result = validator.validate(Certificate.from_der(cert_der), at=at,
                                    required_eku=EKU_SEAL_MAKING)
        return Outcome(result.indication, result.sub_indication, result.message)

    registry = Registry(f"sqlite:///{home / 'sealtrust.db'}")
    try:
        with registry.session() as s:
            seal = s.query(SealRecord).one()
        result = verify_seal(seal.der, datetime.now(UTC), chain_validator=chain)
        assert result.indication is Indication.TOTAL_PASSED, result.to_dict()
        other = ChainValidator([Certificate.from_pem((out_dir / "rsa-root.pem").read_text())])

        def wrong(cert_der: bytes, at: datetime) -> Outcome:
            r = other.validate(Certificate.from_der(cert_der), at=at, required_eku=EKU_SEAL_MAKING)
            return Outcome(r.indication, r.sub_indication, r.message)

        assert verify_seal(seal.der, datetime.now(UTC), chain_validator=wrong).indication \
            is not Indication.TOTAL_PASSED
    finally:
        registry.close()
