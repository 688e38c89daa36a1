"""The deterministic demo PKI: determinism, roles, and independent verification."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from gmssl import sm2 as gm

from tests.support import require
from trust import sm2
from trust.keys import SoftwareKey, verify_signature
from trust.pki import (
    EKU_LIST_SIGNING,
    EKU_SEAL_MAKING,
    EKU_TIME_STAMPING,
    EKU_TOKEN_SIGNING,
    CertificateBuildError,
    DemoPKI,
    InvalidUsccError,
    NaiveDatetimeError,
    _deterministic,
    build_demo_pki,
    validate_chain,
)
from trust.pki.demo import DEMO_ROLES
from trust.pki.names import uscc_check_char

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
SEED = b"sealtrust test seed"
PURPOSE = {
    "issuer": "1.3.6.1.5.5.7.3.36",
    "seal-maker": EKU_SEAL_MAKING,
    "tsa": EKU_TIME_STAMPING,
    "token-signer": EKU_TOKEN_SIGNING,
    "list-signer": EKU_LIST_SIGNING,
    "issuing-ca": None,
}


@pytest.fixture(scope="module")
def pki() -> DemoPKI:
    return build_demo_pki(SEED, NOW)


def test_roles(pki: DemoPKI) -> None:
    assert pki.roles == DEMO_ROLES
    assert set(DEMO_ROLES) == {
        f"{a}-{r}"
        for a in ("sm2", "rsa")
        for r in ("root", "issuing-ca", "issuer", "seal-maker", "tsa", "token-signer",
                  "list-signer")
    }
    for role in pki.roles:
        cert = pki.certificate(role)
        assert cert.spki_der == pki.key(role).public_key_der()
        expected = (
            "sm2" if role.startswith("sm2")
            else ("rsa-3072" if role in ("rsa-root", "rsa-issuing-ca") else "rsa-2048")
        )
        assert cert.key_algorithm == expected
    with pytest.raises(CertificateBuildError):
        pki.certificate("nope")


def test_same_seed_same_bytes(pki: DemoPKI) -> None:
    _deterministic.derive_rsa_key.cache_clear()  # really derive again, no memo
    again = build_demo_pki(SEED, NOW + timedelta(hours=1))  # later the same day
    for role in pki.roles:
        assert again.certificate(role).der == pki.certificate(role).der
        assert again.key(role).public_key_der() == pki.key(role).public_key_der()


def test_other_seed_other_keys_and_bytes(pki: DemoPKI) -> None:
    other = build_demo_pki(SEED + b"!", NOW)
    for role in pki.roles:
        assert other.certificate(role).der != pki.certificate(role).der
        assert other.key(role).public_key_der() != pki.key(role).public_key_der()


def test_validity_derives_from_now(pki: DemoPKI) -> None:
    start = datetime(2026, 11, 21, tzinfo=UTC)
    assert pki.certificate("sm2-root").not_before == start
    assert pki.certificate("sm2-root").not_after == start + timedelta(days=7305)
    assert pki.certificate("rsa-tsa").not_after == start + timedelta(days=1096)
    next_day = build_demo_pki(SEED, NOW + timedelta(days=1))
    assert next_day.certificate("sm2-tsa").der != pki.certificate("sm2-tsa").der
    assert next_day.key("sm2-tsa").public_key_der() == pki.key("sm2-tsa").public_key_der()


@pytest.mark.parametrize("role", [r for r in DEMO_ROLES if not r.endswith("root")])
def test_chain_and_purpose(pki: DemoPKI, role: str) -> None:
    suffix = role.split("-", 1)[1]
    between = list(pki.chain(role)[1:-1])  # the issuing CA of a department signer
    usage = frozenset({"key_cert_sign"} if suffix == "issuing-ca" else {"digital_signature"})
    result = validate_chain(
        pki.certificate(role), between, pki.trust_anchors, NOW, required_eku=PURPOSE[suffix],
        required_key_usage=usage,
    )
    assert result.ok, result.message
    assert result.path == pki.chain(role)
    assert len(result.path) == (3 if suffix == "issuer" else 2)
    expired = validate_chain(
        pki.certificate(role), between, pki.trust_anchors, NOW + timedelta(days=3700),
        required_key_usage=usage,
    )
    assert expired.failure == "chain.expired"


def test_seal_maker_is_not_a_signer_and_vice_versa(pki: DemoPKI) -> None:
    for alg in ("sm2", "rsa"):
        maker = validate_chain(
            pki.certificate(f"{alg}-seal-maker"),
            [],
            pki.trust_anchors,
            NOW,
            required_eku=PURPOSE["issuer"],
        )
        signer = validate_chain(
            pki.certificate(f"{alg}-issuer"),
            [pki.certificate(f"{alg}-issuing-ca")],
            pki.trust_anchors,
            NOW,
            required_eku=EKU_SEAL_MAKING,
        )
        assert maker.failure == signer.failure == "chain.ext_key_usage"
    # Key roles: lists are signed by the list signer only, tokens by the token signer only.
    assert EKU_LIST_SIGNING not in (pki.certificate("sm2-token-signer").ext_key_usage or ())
    assert set(pki.certificate("sm2-list-signer").ext_key_usage or ()) == {EKU_LIST_SIGNING}
    assert pki.certificate("sm2-list-signer").subject_der == pki.certificate("sm2-root").subject_der


def test_keys_sign_under_their_certificates(pki: DemoPKI) -> None:
    for role in pki.roles:
        cert, key = pki.certificate(role), pki.key(role)
        sig = key.sign(b"licence")
        oid = "1.2.156.10197.1.501" if key.algorithm == "sm2" else "1.2.840.113549.1.1.11"
        assert verify_signature(cert.spki_der, oid, b"licence", sig)
        assert not verify_signature(cert.spki_der, oid, b"licence!", sig)


def test_no_key_material_in_reprs(pki: DemoPKI) -> None:
    text = repr(pki) + "".join(repr(pki.key(r)) for r in pki.roles)
    sm2_private = pki.key("sm2-root").private
    assert isinstance(sm2_private, sm2.PrivateKey)
    scalar_hex = sm2_private.to_der().hex()[-64:]
    assert scalar_hex not in text.lower()
    rsa_private = pki.key("rsa-root").private
    assert isinstance(rsa_private, rsa.RSAPrivateKey)
    assert str(rsa_private.private_numbers().d)[:40] not in text
    assert "SEED" not in text and SEED.decode() not in text


def test_department_certificates(pki: DemoPKI) -> None:
    key = SoftwareKey.generate("sm2")
    uscc = "11330100MB0000003" + uscc_check_char("11330100MB0000003")
    cert = pki.issue_department_cert("sm2-root", "示例市卫生健康委员会", uscc, key)
    assert cert.uscc == uscc and cert.common_name == "示例市卫生健康委员会"
    assert validate_chain(cert, [], pki.trust_anchors, NOW, required_eku=PURPOSE["issuer"]).ok
    assert pki.issue_department_cert("sm2-root", "示例市卫生健康委员会", uscc, key).der == cert.der
    rsa_key = SoftwareKey.generate("rsa-2048")
    rsa_cert = pki.issue_department_cert("rsa-root", "示例市教育局", uscc, rsa_key)
    assert rsa_cert.issuer_der == pki.certificate("rsa-root").subject_der
    assert rsa_cert.serial != cert.serial
    with pytest.raises(CertificateBuildError):
        pki.issue_department_cert("sm2-issuer", "x", uscc, key)
    with pytest.raises(InvalidUsccError):
        pki.issue_department_cert("sm2-root", "x", "123", key)


def test_bad_arguments() -> None:
    with pytest.raises(CertificateBuildError):
        build_demo_pki(b"", NOW)
    with pytest.raises(NaiveDatetimeError):
        build_demo_pki(SEED, datetime(2026, 1, 1))


# --- independent checks ------------------------------------------------------------------


def _openssl() -> str:
    path = shutil.which("openssl")
    require(path is not None, "openssl CLI not installed")
    assert path is not None
    return path


@pytest.mark.parametrize("role", [r for r in DEMO_ROLES if not r.endswith("root")])
def test_openssl_verifies_demo_chains(pki: DemoPKI, role: str, tmp_path: Path) -> None:
    root = pki.certificate(role.split("-")[0] + "-root")
    (tmp_path / "root.pem").write_text(root.to_pem())
    (tmp_path / "leaf.pem").write_text(pki.certificate(role).to_pem())
    (tmp_path / "between.pem").write_text("".join(c.to_pem() for c in pki.chain(role)[1:-1]))
    cmd = [_openssl(), "verify", "-attime", str(int(NOW.timestamp()))]
    if len(pki.chain(role)) > 2 and role.startswith("sm2"):
        # openssl applies -vfyopt's SM2 ID to the leaf only: check the leaf against its
        # issuing CA here; the issuing CA's own case checks that CA against the root.
        (tmp_path / "root.pem").write_text(pki.chain(role)[1].to_pem())
        cmd += ["-partial_chain"]
    elif len(pki.chain(role)) > 2:
        cmd += ["-untrusted", str(tmp_path / "between.pem")]
    if role.startswith("sm2"):
        cmd += ["-vfyopt", "distid:1234567812345678"]
    if role.endswith("tsa"):
        cmd += ["-purpose", "timestampsign"]
    cmd += ["-CAfile", str(tmp_path / "root.pem"), str(tmp_path / "leaf.pem")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_gmssl_verifies_deterministic_sm2_signatures(pki: DemoPKI) -> None:
    """PyPI gmssl (independent SM2 code, default ID) checks the seed-derived signatures."""
    root = pki.certificate("sm2-root")
    point = sm2.PublicKey.from_der(root.spki_der).point
    crypt = gm.CryptSM2(private_key="", public_key="")
    crypt.public_key = point[1:].hex()  # set after construction: gmssl's lstrip("04") trap
    for role in ("sm2-root", "sm2-issuing-ca", "sm2-seal-maker", "sm2-list-signer"):
        cert = pki.certificate(role)
        raw = sm2.der_to_raw(cert.signature).hex()
        assert crypt.verify_with_sm3(raw, cert.tbs_der)
        assert not crypt.verify_with_sm3(raw, cert.tbs_der + b"x")
    point = sm2.PublicKey.from_der(pki.certificate("sm2-issuing-ca").spki_der).point
    crypt.public_key = point[1:].hex()  # the department signer is the issuing CA's
    cert = pki.certificate("sm2-issuer")
    assert crypt.verify_with_sm3(sm2.der_to_raw(cert.signature).hex(), cert.tbs_der)


def test_rsa_primes_are_prime_per_openssl(pki: DemoPKI) -> None:
    private = pki.key("rsa-issuer").private
    assert isinstance(private, rsa.RSAPrivateKey)
    numbers = private.private_numbers()
    assert numbers.p * numbers.q == numbers.public_numbers.n
    for prime in (numbers.p, numbers.q):
        out = subprocess.run(
            [_openssl(), "prime", str(prime)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert "is prime" in out and "not prime" not in out
    composite = subprocess.run(
        [_openssl(), "prime", str(numbers.p * numbers.q)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "not prime" in composite


def test_pure_python_primality_gives_the_same_key(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _deterministic.derive_rsa_key(SEED, "equivalence", 2048).private_numbers()
    _deterministic.derive_rsa_key.cache_clear()
    monkeypatch.setattr(_deterministic, "_openssl_prime", lambda n: None)
    slow = _deterministic.derive_rsa_key(SEED, "equivalence", 2048).private_numbers()
    assert fast == slow


def test_sm2_scalars_in_range() -> None:
    for label in ("a", "b", "c"):
        d = _deterministic.derive_sm2_scalar(SEED, label)
        assert 1 <= d <= sm2.N - 2
    assert _deterministic.derive_sm2_scalar(SEED, "a") != _deterministic.derive_sm2_scalar(
        SEED, "b"
    )


def test_crl_distribution_points_keep_the_pki_deterministic(pki: DemoPKI) -> None:
    base = "https://st.example.test"
    first = build_demo_pki(SEED, NOW, crl_base=base + "/")
    again = build_demo_pki(SEED, NOW, crl_base=base)
    for role in first.roles:
        assert first.certificate(role).der == again.certificate(role).der
        assert first.key(role).public_key_der() == pki.key(role).public_key_der()
        issuer = first.issuer_role(role)
        expected = () if issuer == role else (f"{base}/v1/trust/crl/{issuer}",)
        assert first.certificate(role).crl_urls == expected, role
        assert pki.certificate(role).crl_urls == ()
    assert first.issuer_role("sm2-issuer") == "sm2-issuing-ca"
    with pytest.raises(CertificateBuildError):
        build_demo_pki(SEED, NOW, crl_base="ftp://x")
