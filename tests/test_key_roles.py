"""Key roles: roots stay offline, issuing CAs certify departments, list signers sign lists.

Each test is an attack or a misuse that worked before key roles existed: the
service signing with a root, a department certificate straight from a root,
a list signed by a root or a department key, a seal administrator making a
department (and so certificates), CLI actions audited as an anonymous "cli".
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509 as cx509
from sqlalchemy import delete, select

from api.auth import Role, create_client, validate_roles
from api.deployment import (
    DEMO_DEPARTMENT,
    Deployment,
    Home,
    init_deployment,
    load_config,
)
from signing.types import builtin_types
from tests.server_support import running_servers
from trust.errors import CryptoError, InputError
from trust.pki import Certificate, validate_chain
from trust.pki.oids import EKU_DOCUMENT_SIGNING
from trust.registry.models import AuditEntry, CertificateRecord, KeyRecord
from trust.token.cose import kid_of, sign1
from trust.token.errors import TokenTrustError
from trust.trustlist import CONTENT_TYPE, TrustList

PUBLIC = "https://sealtrust.example.test"
NEW_USCC = "11330100002482077H"


def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEALTRUST_PUBLIC_URL", PUBLIC)
    home = tmp_path / "home"
    init_deployment(home)
    return home


def _clients(home: Path) -> dict[str, str]:
    dep = Deployment(Home(home), load_config(Home(home)))
    tokens = {}
    try:
        with dep.registry.session() as s:
            for who, role, dept in (("ca_operator", Role.CA_OPERATOR, None),
                                    ("seal_admin", Role.SEAL_ADMIN, DEMO_DEPARTMENT),
                                    ("issuer", Role.ISSUER, DEMO_DEPARTMENT),
                                    ("verifier", Role.VERIFIER, None),
                                    ("auditor", Role.AUDITOR, None)):
                _, tokens[who] = create_client(s, who, frozenset({role}), dept)
    finally:
        dep.close()
    return tokens


def test_service_runs_and_issues_with_the_root_keys_absent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path, monkeypatch)
    tokens = _clients(home)
    vault = tmp_path / "offline-vault"  # the root keys go to offline storage
    vault.mkdir()
    for alg in ("sm2", "rsa"):
        shutil.move(home / "keys" / f"{alg}-root.p8", vault / f"{alg}-root.p8")
    root = Certificate.from_pem((home / "pki" / "sm2-root.pem").read_text())

    def h(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}"}

    with running_servers(home) as (node,):
        url = node.url
        assert httpx.get(url + "/health/ready").status_code == 200
        body = {"code": "hz-health", "name": "杭州市卫生健康委员会", "uscc": NEW_USCC,
                "region": "330100"}
        refused = httpx.post(url + "/v1/departments", json=body, headers=h("seal_admin"))
        assert refused.status_code == 403  # a seal administrator obtains no certificates
        made = httpx.post(url + "/v1/departments", json=body, headers=h("ca_operator"),
                          timeout=60)
        assert made.status_code == 201, made.text
        record = builtin_types().get("DL").example(7)
        issued = httpx.post(url + "/v1/licences", json={"type": "DL", "record": record},
                            headers=h("issuer"), timeout=60)
        assert issued.status_code == 201, issued.text
        pdf = httpx.get(url + issued.json()["download"], headers=h("issuer")).content
        report = httpx.post(url + "/v1/verify", headers=h("verifier"), timeout=60,
                            files=[("files", ("a.pdf", pdf, "application/pdf"))])
        assert json.loads(report.text.splitlines()[0])["indication"] == "TOTAL_PASSED"
        listed = httpx.get(url + "/v1/trust/trust-list").content
        trust_list = TrustList.verify(listed, [root.der])  # pinned: the root, kept offline
        assert trust_list.audit_head is not None
        assert json.loads(trust_list.audit_head)["size"] >= 1  # holders hold a checkpoint
        assert httpx.get(url + "/v1/trust/anchor.pem").text == root.to_pem()
        for ca in ("sm2-root", "rsa-root", "sm2-issuing-ca", "rsa-issuing-ca"):
            assert httpx.get(url + f"/v1/trust/crl/{ca}").status_code == 200, ca
        rsa_crl = cx509.load_der_x509_crl(httpx.get(url + "/v1/trust/crl/rsa-root").content)
        signer = cx509.load_pem_x509_certificate(
            (home / "pki" / "rsa-list-signer.pem").read_bytes())
        rsa_root = cx509.load_pem_x509_certificate((home / "pki" / "rsa-root.pem").read_bytes())
        assert rsa_crl.issuer == rsa_root.subject  # the root's CRL ...
        assert rsa_crl.is_signature_valid(signer.public_key())  # ... by its list signer
    assert "Traceback" not in node.log_tail()
    dep = Deployment(Home(home), load_config(Home(home)))
    dep.online = True
    try:  # and the service would refuse to open one even if it were there
        shutil.copy(vault / "sm2-root.p8", home / "keys" / "sm2-root.p8")
        with pytest.raises(CryptoError) as refused_key:
            dep.key("sm2-root")
        assert refused_key.value.code == "key.root_offline"
        with dep.registry.session() as s:
            der = s.execute(select(CertificateRecord.der).where(
                CertificateRecord.role == "dept-hz-health-sm2")).scalar_one()
    finally:
        dep.close()
    cert = Certificate.from_der(der)
    issuing = Certificate.from_pem((home / "pki" / "sm2-issuing-ca.pem").read_text())
    at = datetime.now(UTC)
    assert cert.issuer_der == issuing.subject_der != root.subject_der
    assert validate_chain(cert, [issuing], [root], at, required_eku=EKU_DOCUMENT_SIGNING).ok
    assert not validate_chain(cert, [], [root], at).ok  # only through the issuing CA
    assert cert.crl_urls == (f"{PUBLIC}/v1/trust/crl/sm2-issuing-ca",)
    assert issuing.crl_urls == (f"{PUBLIC}/v1/trust/crl/sm2-root",)


def _list_signed_by(key: object, cert: bytes, trust_list: TrustList) -> bytes:
    """What an attacker holding ``key`` makes: the payload carries ``cert`` as its signer."""
    return sign1(trust_list.to_cbor(cert), key, kid=kid_of(cert),  # type: ignore[arg-type]
                 content_type=CONTENT_TYPE)


def test_lists_signed_by_a_root_or_a_department_key_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.routes.trust import export_lists

    home = _home(tmp_path, monkeypatch)
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        root = dep.certificate("sm2-root").der
        genuine = export_lists(dep, datetime.now(UTC)).trust_list
        listed = TrustList.verify(genuine, [root])
        dept_cert = dep.certificate("sm2-issuer").der
        by_root = _list_signed_by(dep.key("sm2-root"), root, listed)
        by_dept = _list_signed_by(dep.key("sm2-issuer"), dept_cert, listed)
        by_tokens = _list_signed_by(dep.key("sm2-token-signer"),
                                    dep.certificate("sm2-token-signer").der, listed)
    finally:
        dep.close()
    for forged in (by_root, by_dept, by_tokens):
        with pytest.raises(TokenTrustError) as refused:
            TrustList.verify(forged, [root])
        assert refused.value.code in ("trustlist.signer", "trustlist.signature")
    with pytest.raises(TokenTrustError) as by_root_refused:
        TrustList.verify(by_root, [root])
    assert by_root_refused.value.code == "trustlist.signer"
    # A department key even pinned directly is no list signer.
    with pytest.raises(TokenTrustError):
        TrustList.verify(by_dept, [dept_cert])


def test_status_signer_entries_need_the_list_signing_purpose(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trust.trustlist import Role as EntryRole
    from trust.trustlist import TrustEntry

    home = _home(tmp_path, monkeypatch)
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        root, token_signer = dep.certificate("sm2-root").der, dep.certificate("sm2-token-signer")
        list_signer = dep.certificate("sm2-list-signer").der
    finally:
        dep.close()
    now = datetime.now(UTC)
    entries = [TrustEntry("X", "CN", EntryRole.ISSUER_CA, ("*",), root)]
    ok = TrustList(1, now, now + timedelta(days=1), (
        *entries, TrustEntry("X", "CN", EntryRole.STATUS_SIGNER, ("*",), list_signer)))
    assert ok.candidates(kid_of(list_signer), EntryRole.STATUS_SIGNER)
    with pytest.raises(TokenTrustError, match="list-signing purpose"):
        TrustList(1, now, now + timedelta(days=1), (
            *entries, TrustEntry("X", "CN", EntryRole.STATUS_SIGNER, ("*",), token_signer.der)))


def test_ca_operator_is_separate_from_seal_admin_and_issuer() -> None:
    validate_roles(frozenset({Role.CA_OPERATOR}), None)
    for other in (Role.SEAL_ADMIN, Role.ISSUER):
        with pytest.raises(InputError, match="separation of duties"):
            validate_roles(frozenset({Role.CA_OPERATOR, other}), "demo-amr")


def _cli(home: Path, *args: str, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "SEALTRUST_OPERATOR"}
    return subprocess.run([sys.executable, "-m", "api.cli", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=120, env={**full, **(env or {})})


def test_cli_audit_entries_name_the_operator(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path, monkeypatch)
    assert _cli(home, "clients", "add", "--name", "counter", "--role", "verifier",
                "--operator", "张三 (ops)").returncode == 0
    assert _cli(home, "clients", "add", "--name", "counter2", "--role", "verifier",
                env={"SEALTRUST_OPERATOR": "li.si"}).returncode == 0
    assert _cli(home, "clients", "add", "--name", "counter3", "--role", "verifier"
                ).returncode == 0
    bad = _cli(home, "clients", "add", "--name", "x", "--role", "verifier",
               "--operator", "a\nb")
    assert bad.returncode == 2
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        with dep.registry.session() as s:
            actors = s.execute(select(AuditEntry.actor).where(
                AuditEntry.kind == "client.added").order_by(AuditEntry.seq)).scalars().all()
    finally:
        dep.close()
    assert actors == ["cli:张三 (ops)", "cli:li.si", f"cli:{getpass.getuser()}"]
    helped = subprocess.run([sys.executable, "-m", "api.cli", "--help"], capture_output=True,
                            text=True, timeout=60, check=True).stdout
    assert "bypasses" in " ".join(helped.split())


def test_init_upgrades_a_deployment_made_before_key_roles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path, monkeypatch)
    new_roles = ("sm2-issuing-ca", "rsa-issuing-ca", "sm2-list-signer", "rsa-list-signer")
    config = load_config(Home(home))  # make it look like a deployment from before
    for role in new_roles:
        (home / "keys" / f"{role}.p8").unlink()
        (home / "pki" / f"{role}.pem").unlink()
        del config["keys"][role]
    del config["public_url"]
    (home / "deployment.json").write_text(json.dumps(config))
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        with dep.registry.session() as s:
            s.execute(delete(KeyRecord).where(KeyRecord.role.in_(new_roles)))
            s.execute(delete(CertificateRecord).where(CertificateRecord.role.in_(new_roles)))
        with pytest.raises(Exception, match="sealtrust init"):
            dep.roots()
    finally:
        dep.close()
    upgraded = _cli(home, "init", "--json", "--operator", "ceremony")
    assert upgraded.returncode == 0, upgraded.stderr
    actions = json.loads(upgraded.stdout)["actions"]
    assert sum("upgrade: created" in a for a in actions) == 4, actions
    again = _cli(home, "init", "--json")
    assert json.loads(again.stdout)["actions"] == ["deployment already initialised; "
                                                   "nothing changed"]
    dep = Deployment(Home(home), load_config(Home(home)))
    dep.online = True
    try:
        assert set(new_roles) <= set(dep.config["keys"]) and dep.public_url == PUBLIC
        roots = dep.roots()
        assert roots["sm2"].certificate.subject_der == dep.certificate(
            "sm2-issuing-ca").subject_der
        signer = dep.certificate("sm2-list-signer")
        assert signer.subject_der == dep.certificate("sm2-root").subject_der
        from api.routes.trust import export_lists

        signed = export_lists(dep, datetime.now(UTC))
        assert TrustList.verify(signed.trust_list, [dep.certificate("sm2-root").der])
        with dep.registry.session() as s:
            assert dep.sign_crl(s, "sm2-root", datetime.now(UTC))
            kinds = s.execute(select(AuditEntry.actor).where(
                AuditEntry.kind == "deployment.upgraded")).scalars().all()
    finally:
        dep.close()
    assert kinds == ["cli:ceremony"]
