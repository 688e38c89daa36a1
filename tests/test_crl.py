"""Certificate revocation and the CAs' CRLs: built, signed, served, and checked independently.

RSA CRLs are verified by the ``openssl`` CLI and by ``cryptography``; SM2 CRLs
by PyPI gmssl over the exact TBSCertList bytes (OpenSSL's ``crl -verify`` has
no way to pass the SM2 distinguishing id).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from cryptography import x509 as cx509
from sqlalchemy import select

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from tests.sign_certs import gmssl_verify
from trust.keys import SigningKey
from trust.pki import Certificate
from trust.pki.crl import RevokedCertificate, build_crl
from trust.pki.errors import CertificateBuildError
from trust.registry.models import AuditEntry, CertificateRecord, KeyRecord

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("crl") / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    yield dep
    dep.close()


def cli(dep: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args, "--home",
                           str(dep.home.root)], capture_output=True, text=True, timeout=120)


def _entries(der: bytes) -> dict[int, str]:
    parsed = asn1_crl.CertificateList.load(der)
    return {int(e["user_certificate"].native): e.crl_reason_value.native
            for e in parsed["tbs_cert_list"]["revoked_certificates"]}


def test_rsa_crl_verifies_in_openssl_and_cryptography(deployment: Deployment,
                                                      tmp_path: Path) -> None:
    ca = deployment.certificate("rsa-root")
    der = build_crl(ca, deployment.key("rsa-root"),
                    [RevokedCertificate(4242, NOW - timedelta(hours=1), "key_compromise")],
                    this_update=NOW, next_update=NOW + timedelta(days=1), number=7)
    (tmp_path / "rsa.crl").write_bytes(der)
    (tmp_path / "ca.pem").write_text(ca.to_pem())
    checked = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(tmp_path / "rsa.crl"),
                              "-CAfile", str(tmp_path / "ca.pem"), "-noout", "-verify"],
                             capture_output=True, text=True, timeout=30)
    assert "verify OK" in checked.stdout + checked.stderr, checked.stderr
    parsed = cx509.load_der_x509_crl(der)
    public = cx509.load_der_x509_certificate(ca.der).public_key()
    assert parsed.is_signature_valid(public)  # type: ignore[arg-type]
    entry = parsed.get_revoked_certificate_by_serial_number(4242)
    assert entry is not None and entry.revocation_date_utc == NOW - timedelta(hours=1)
    assert parsed.extensions.get_extension_for_class(cx509.CRLNumber).value.crl_number == 7
    # a flipped bit in the signed part no longer verifies
    tampered = bytearray(der)
    tampered[der.index(ca.subject_der) + 20] ^= 1
    (tmp_path / "bad.crl").write_bytes(bytes(tampered))
    bad = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(tmp_path / "bad.crl"),
                          "-CAfile", str(tmp_path / "ca.pem"), "-noout", "-verify"],
                         capture_output=True, text=True, timeout=30)
    assert "verify OK" not in bad.stdout + bad.stderr


def test_sm2_crl_verifies_with_gmssl(deployment: Deployment) -> None:
    ca = deployment.certificate("sm2-root")
    der = build_crl(ca, deployment.key("sm2-root"), [RevokedCertificate(99, NOW, "superseded")],
                    this_update=NOW, next_update=NOW + timedelta(days=1), number=1)
    parsed = asn1_crl.CertificateList.load(der)
    assert parsed["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    tbs = parsed["tbs_cert_list"].dump()
    signature = parsed["signature"].native
    assert gmssl_verify(ca.spki_der, tbs, signature)
    assert not gmssl_verify(ca.spki_der, tbs + b"x", signature)
    assert _entries(der) == {99: "superseded"}
    assert cx509.load_der_x509_crl(der).next_update_utc == NOW + timedelta(days=1)


def test_crl_refuses_a_leaf_a_foreign_key_and_an_unknown_reason(deployment: Deployment) -> None:
    ca, key = deployment.certificate("sm2-root"), deployment.key("sm2-root")
    leaf = deployment.certificate("sm2-token-signer")
    def day_crl(issuer: Certificate, signer: SigningKey, revoked: list[RevokedCertificate]) -> bytes:
        return build_crl(issuer, signer, revoked, this_update=NOW,
                         next_update=NOW + timedelta(days=1), number=1)

    with pytest.raises(CertificateBuildError, match="not a CA"):
        day_crl(leaf, deployment.key("sm2-token-signer"), [])
    with pytest.raises(CertificateBuildError, match="does not match"):
        day_crl(ca, deployment.key("rsa-root"), [])
    with pytest.raises(CertificateBuildError, match="unknown revocation reason"):
        day_crl(ca, key, [RevokedCertificate(1, NOW, "lost it")])


def test_cli_revokes_a_department_certificate_once_and_the_crl_lists_it(
    deployment: Deployment, tmp_path: Path
) -> None:
    with deployment.registry.session() as s:
        key = s.execute(select(KeyRecord).where(KeyRecord.department_code == DEMO_DEPARTMENT,
                                                KeyRecord.algorithm == "sm2")).scalars().first()
        assert key is not None and key.certificate_fingerprint is not None
        record = s.get(CertificateRecord, key.certificate_fingerprint)
        assert record is not None
        fingerprint, serial = record.fingerprint, Certificate.from_der(record.der).serial
        root_fp = s.execute(select(CertificateRecord.fingerprint).where(
            CertificateRecord.role == "sm2-root")).scalar_one()
    done = cli(deployment, "pki", "revoke", fingerprint, "--reason", "key_compromise", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sha256"] == fingerprint
    again = cli(deployment, "pki", "revoke", fingerprint, "--reason", "superseded")
    assert again.returncode == 1 and "already revoked" in again.stderr
    root = cli(deployment, "pki", "revoke", root_fp, "--reason", "ca_compromise")
    assert root.returncode == 1 and "root" in root.stderr
    unknown = cli(deployment, "pki", "revoke", "00" * 32, "--reason", "superseded")
    assert unknown.returncode == 2 and "no certificate" in unknown.stderr  # not found: usage
    out = tmp_path / "sm2.crl"  # department certificates come from the issuing CA
    made = cli(deployment, "pki", "crl", "--ca", "sm2-issuing-ca", "--out", str(out), "--json")
    assert made.returncode == 0, made.stderr
    assert _entries(out.read_bytes()) == {serial: "key_compromise"}
    for other in ("rsa-issuing-ca", "sm2-root", "rsa-root"):  # other CAs' lists: unaffected
        path = tmp_path / f"{other}.crl"
        assert cli(deployment, "pki", "crl", "--ca", other, "--out", str(path)).returncode == 0
        assert _entries(path.read_bytes()) == {}
    with deployment.registry.session() as s:
        kinds = s.execute(select(AuditEntry.kind).where(
            AuditEntry.subject == fingerprint)).scalars().all()
    assert kinds == ["certificate.revoked"]


def test_crl_route_serves_der_and_refuses_unknown_cas(tmp_path: Path) -> None:
    from tests.api_support import build_api

    for api in build_api(tmp_path / "home"):
        response = api.client.get("/v1/trust/crl/sm2-root")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pkix-crl"
        parsed = cx509.load_der_x509_crl(response.content)
        assert "SM2" in parsed.issuer.rfc4514_string()
        assert api.client.get("/v1/trust/crl/rsa-root").status_code == 200
        missing = api.client.get("/v1/trust/crl/sm2-token-signer")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "crl.not_found"
