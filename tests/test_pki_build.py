"""Certificate building, checked against independent parsers and verifiers.

Oracles: the openssl 3.0 CLI (x509 -text, verify), pyca/cryptography's X.509
parser, and asn1crypto's own re-parse. OpenSSL 3.0 applies ``-vfyopt distid``
only to the certificate being verified (an SM2 intermediate under an SM2 root
would be checked with the empty ID), so multi-level SM2 chains are verified
link by link with ``-partial_chain``; RSA chains are verified in one call.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as cx509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import require
from trust.keys import SoftwareKey
from trust.pki import (
    EKU_SEAL_MAKING,
    EKU_TIME_STAMPING,
    ISSUING_CA,
    ROOT_CA,
    SEAL_MAKER,
    SIGNER,
    TOKEN_SIGNER,
    TSA,
    Certificate,
    CertificateBuildError,
    InvalidNameError,
    InvalidUsccError,
    NaiveDatetimeError,
    Profile,
    SubjectName,
    issue_certificate,
)
from trust.pki.names import is_valid_uscc, uscc_check_char, uscc_of_identifier
from trust.pki.pem import to_pem_bundle

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=3650)
DISTID = "distid:1234567812345678"
Hierarchy = tuple[Certificate, SoftwareKey, Certificate, SoftwareKey, Certificate, SoftwareKey]
USCC = "9144030071526726XG"  # a published code; its check character is G


def _openssl() -> str:
    path = shutil.which("openssl")
    require(path is not None, "openssl CLI not installed")
    assert path is not None
    return path


def _hierarchy(alg: str, leaf_profile: Profile = SIGNER) -> Hierarchy:
    root_key = SoftwareKey.generate(alg)
    root = issue_certificate(
        issuer_key=root_key,
        subject=SubjectName("测试根 CA", organization="SealTrust 测试"),
        subject_spki=root_key.public_key_der(),
        profile=ROOT_CA,
        not_before=T0,
        not_after=T1,
    )
    ca_key = SoftwareKey.generate(alg)
    ca = issue_certificate(
        issuer_key=root_key,
        issuer=root,
        subject=SubjectName("测试签发 CA", organization="SealTrust 测试"),
        subject_spki=ca_key.public_key_der(),
        profile=ISSUING_CA,
        not_before=T0,
        not_after=T1,
    )
    leaf_key = SoftwareKey.generate(alg)
    leaf = issue_certificate(
        issuer_key=ca_key,
        issuer=ca,
        subject=SubjectName("示例市市场监督管理局", organization="示例市人民政府", uscc=USCC),
        subject_spki=leaf_key.public_key_der(),
        profile=leaf_profile,
        not_before=T0,
        not_after=T1,
        crl_urls=["http://crl.example.cn/ca.crl"],
    )
    return root, root_key, ca, ca_key, leaf, leaf_key


@pytest.fixture(scope="module")
def sm2_chain() -> Hierarchy:
    return _hierarchy("sm2")


@pytest.fixture(scope="module")
def rsa_chain() -> Hierarchy:
    return _hierarchy("rsa-2048")


def _write(tmp_path: Path, name: str, *certs: Certificate) -> str:
    path = tmp_path / name
    path.write_text(to_pem_bundle([c.der for c in certs]))
    return str(path)


def _verify(
    tmp_path: Path,
    anchor: Certificate,
    leaf: Certificate,
    *untrusted: Certificate,
    sm2: bool,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    cmd = [_openssl(), "verify", "-attime", str(int((T0 + timedelta(days=10)).timestamp()))]
    if sm2:
        cmd += ["-vfyopt", DISTID]
    cmd += ["-CAfile", _write(tmp_path, "anchor.pem", anchor), *extra]
    if untrusted:
        cmd += ["-untrusted", _write(tmp_path, "untrusted.pem", *untrusted)]
    cmd.append(_write(tmp_path, "leaf.pem", leaf))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


# --- round trip and encodings ------------------------------------------------------------


@pytest.mark.parametrize("alg", ["sm2", "rsa-2048", "ecdsa-p256"])
def test_round_trip_fields(alg: str) -> None:
    root, root_key, ca, _, leaf, leaf_key = _hierarchy(alg)
    again = Certificate.from_pem(leaf.to_pem())
    assert again == leaf and again.der == leaf.der
    assert leaf.key_algorithm == alg
    assert leaf.spki_der == leaf_key.public_key_der()
    assert leaf.common_name == "示例市市场监督管理局"
    assert leaf.uscc == USCC
    assert leaf.subject_text.startswith("C=CN,O=示例市人民政府,organizationIdentifier=NTRCN-")
    assert leaf.issuer_der == ca.subject_der
    assert leaf.not_before == T0 and leaf.not_after == T1
    assert leaf.not_before.tzinfo is not None
    assert not leaf.is_ca and ca.is_ca and ca.path_len == 0 and root.path_len is None
    assert leaf.key_usage == frozenset({"digital_signature", "non_repudiation"})
    assert ca.key_usage == frozenset({"key_cert_sign", "crl_sign"})
    assert leaf.aki == ca.ski and ca.aki == root.ski and root.aki == root.ski
    assert len(leaf.ski or b"") == 20
    assert leaf.crl_urls == ("http://crl.example.cn/ca.crl",)
    assert root.self_issued and not leaf.self_issued
    assert leaf.unhandled_critical == frozenset()
    assert root.spki_der == root_key.public_key_der()


def test_signature_algorithm_encodings(sm2_chain: Hierarchy, rsa_chain: Hierarchy) -> None:
    sm2_leaf, rsa_leaf = sm2_chain[4], rsa_chain[4]
    sm2_alg = asn1_x509.Certificate.load(sm2_leaf.der)["signature_algorithm"]
    assert sm2_alg["algorithm"].dotted == "1.2.156.10197.1.501"
    assert sm2_alg.dump() == bytes.fromhex("300a06082a811ccf55018375")  # no parameters
    rsa_alg = asn1_x509.Certificate.load(rsa_leaf.der)["signature_algorithm"]
    assert rsa_alg.dump() == bytes.fromhex("300d06092a864886f70d01010b0500")  # NULL params


def test_names_are_utf8_and_country_printable(sm2_chain: Hierarchy) -> None:
    subject = asn1_x509.Certificate.load(sm2_chain[4].der)["tbs_certificate"]["subject"]
    kinds = {atv["type"].native: atv["value"].name for rdn in subject.chosen for atv in rdn}
    assert kinds == {
        "country_name": "printable_string",
        "organization_name": "utf8_string",
        "organization_identifier": "utf8_string",
        "common_name": "utf8_string",
    }


@pytest.mark.parametrize(
    ("profile", "usage", "ekus", "eku_critical"),
    [
        (SIGNER, {"digital_signature", "non_repudiation"}, {"1.3.6.1.5.5.7.3.36"}, False),
        (SEAL_MAKER, {"digital_signature", "non_repudiation"}, {EKU_SEAL_MAKING}, False),
        (TSA, {"digital_signature"}, {EKU_TIME_STAMPING}, True),
        (TOKEN_SIGNER, {"digital_signature"}, set(TOKEN_SIGNER.ext_key_usage), False),
    ],
)
def test_profiles_extensions(
    profile: Profile, usage: set[str], ekus: set[str], eku_critical: bool
) -> None:
    key = SoftwareKey.generate("sm2")
    cert = issue_certificate(
        issuer_key=key,
        subject=SubjectName("自签"),
        subject_spki=key.public_key_der(),
        profile=profile,
        not_before=T0,
        not_after=T1,
        enforce_issuer_constraints=False,
    )
    assert cert.key_usage == frozenset(usage)
    assert ekus <= (cert.ext_key_usage or set())
    exts = {
        e["extn_id"].dotted: e["critical"].native
        for e in asn1_x509.Certificate.load(cert.der)["tbs_certificate"]["extensions"]
    }
    assert exts["2.5.29.37"] is eku_critical
    assert exts["2.5.29.15"] is True and exts["2.5.29.19"] is True
    assert exts["2.5.29.14"] is False and exts["2.5.29.35"] is False


def test_seal_maker_and_signer_are_distinguishable() -> None:
    assert SEAL_MAKER.key_usage == SIGNER.key_usage
    assert set(SEAL_MAKER.ext_key_usage).isdisjoint(SIGNER.ext_key_usage)
    assert set(SEAL_MAKER.policies).isdisjoint(SIGNER.policies)


# --- independent parsers -----------------------------------------------------------------


def test_openssl_x509_text_parses(
    tmp_path: Path, sm2_chain: Hierarchy, rsa_chain: Hierarchy
) -> None:
    for chain in (sm2_chain, rsa_chain):
        leaf = chain[4]
        out = subprocess.run(
            [
                _openssl(),
                "x509",
                "-noout",
                "-text",
                "-nameopt",
                "utf8",
                "-in",
                _write(tmp_path, "c.pem", leaf),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert "示例市市场监督管理局" in out
        assert "Digital Signature, Non Repudiation" in out
        assert f"NTRCN-{USCC}" in out
        assert "URI:http://crl.example.cn/ca.crl" in out
        assert ("SM2-with-SM3" in out) == (chain is sm2_chain)
        assert f"{leaf.serial:x}"[-8:] in out.replace(":", "")


def test_cryptography_parses_rsa_fully(rsa_chain: Hierarchy) -> None:
    root, _, ca, _, leaf, _ = rsa_chain
    parsed = cx509.load_der_x509_certificate(leaf.der)
    assert parsed.serial_number == leaf.serial
    assert parsed.not_valid_before_utc == leaf.not_before
    cn = parsed.subject.get_attributes_for_oid(cx509.NameOID.COMMON_NAME)[0].value
    assert cn == "示例市市场监督管理局"
    pub = parsed.public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    # cryptography checks our signature with its own code path
    parsed.verify_directly_issued_by(cx509.load_der_x509_certificate(ca.der))
    cx509.load_der_x509_certificate(ca.der).verify_directly_issued_by(
        cx509.load_der_x509_certificate(root.der)
    )
    bc = parsed.extensions.get_extension_for_class(cx509.BasicConstraints)
    assert bc.critical and not bc.value.ca


def test_cryptography_parses_sm2_but_has_no_sm2_keys(sm2_chain: Hierarchy) -> None:
    parsed = cx509.load_der_x509_certificate(sm2_chain[4].der)
    assert parsed.serial_number == sm2_chain[4].serial
    assert parsed.signature_algorithm_oid.dotted_string == "1.2.156.10197.1.501"
    with pytest.raises(UnsupportedAlgorithm):
        parsed.public_key()


# --- openssl verify ----------------------------------------------------------------------


def test_openssl_verifies_rsa_chain(tmp_path: Path, rsa_chain: Hierarchy) -> None:
    root, _, ca, _, leaf, _ = rsa_chain
    ok = _verify(tmp_path, root, leaf, ca, sm2=False)
    assert ok.returncode == 0, ok.stderr + ok.stdout
    missing = _verify(tmp_path, root, leaf, sm2=False)
    assert missing.returncode != 0


def test_openssl_verifies_sm2_chain_link_by_link(tmp_path: Path, sm2_chain: Hierarchy) -> None:
    root, _, ca, _, leaf, _ = sm2_chain
    link1 = _verify(tmp_path, ca, leaf, sm2=True, extra=("-partial_chain",))
    assert link1.returncode == 0, link1.stderr + link1.stdout
    link2 = _verify(tmp_path, root, ca, sm2=True)
    assert link2.returncode == 0, link2.stderr + link2.stdout
    # The anchor's self-signature: openssl verify cannot set the ID on a CAfile
    # certificate, so check the raw signature over the TBS with openssl dgst.
    (tmp_path / "tbs.der").write_bytes(root.tbs_der)
    (tmp_path / "sig.der").write_bytes(root.signature)
    pub = subprocess.run(
        [_openssl(), "x509", "-noout", "-pubkey", "-in", _write(tmp_path, "r.pem", root)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    (tmp_path / "pub.pem").write_text(pub)
    dgst = [
        _openssl(),
        "dgst",
        "-sm3",
        "-verify",
        str(tmp_path / "pub.pem"),
        "-signature",
        str(tmp_path / "sig.der"),
        str(tmp_path / "tbs.der"),
    ]
    with_id = subprocess.run(
        [*dgst[:5], "-sigopt", DISTID, *dgst[5:]],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert with_id.returncode == 0, with_id.stdout + with_id.stderr
    empty_id = subprocess.run(dgst, capture_output=True, text=True, timeout=30, check=False)
    assert empty_id.returncode != 0  # the signature really binds the GM/T 0009 default ID


def test_openssl_rejects_tampered_sm2_signature(tmp_path: Path, sm2_chain: Hierarchy) -> None:
    """The oracle discriminates: the last byte of s flipped -> signature failure."""
    _, _, ca, _, leaf, _ = sm2_chain
    tampered = Certificate.from_der(leaf.der[:-1] + bytes([leaf.der[-1] ^ 0x01]))
    result = _verify(tmp_path, ca, tampered, sm2=True, extra=("-partial_chain",))
    assert result.returncode != 0
    assert "signature failure" in (result.stdout + result.stderr)


def test_openssl_accepts_tsa_purpose(tmp_path: Path) -> None:
    root, _, ca, _, leaf, _ = _hierarchy("rsa-2048", leaf_profile=TSA)
    ok = _verify(tmp_path, root, leaf, ca, sm2=False, extra=("-purpose", "timestampsign"))
    assert ok.returncode == 0, ok.stderr + ok.stdout
    root2, _, ca2, _, signer, _ = _hierarchy("rsa-2048", leaf_profile=SIGNER)
    bad = _verify(tmp_path, root2, signer, ca2, sm2=False, extra=("-purpose", "timestampsign"))
    assert bad.returncode != 0


# --- builder refusals --------------------------------------------------------------------


def test_builder_refuses_wrong_issuer_key(sm2_chain: Hierarchy) -> None:
    ca = sm2_chain[2]
    stranger = SoftwareKey.generate("sm2")
    with pytest.raises(CertificateBuildError, match="does not match"):
        issue_certificate(
            issuer_key=stranger,
            issuer=ca,
            subject=SubjectName("x"),
            subject_spki=stranger.public_key_der(),
            profile=SIGNER,
            not_before=T0,
            not_after=T1,
        )


def test_builder_refuses_non_ca_issuer_and_pathlen(sm2_chain: Hierarchy) -> None:
    _, _, ca, ca_key, leaf, leaf_key = sm2_chain
    with pytest.raises(CertificateBuildError, match="may not issue"):
        issue_certificate(
            issuer_key=leaf_key,
            issuer=leaf,
            subject=SubjectName("x"),
            subject_spki=leaf_key.public_key_der(),
            profile=SIGNER,
            not_before=T0,
            not_after=T1,
        )
    with pytest.raises(CertificateBuildError, match="pathLen"):
        issue_certificate(
            issuer_key=ca_key,
            issuer=ca,
            subject=SubjectName("sub CA"),
            subject_spki=leaf_key.public_key_der(),
            profile=ISSUING_CA,
            not_before=T0,
            not_after=T1,
        )
    with pytest.raises(CertificateBuildError, match="within the issuer"):
        issue_certificate(
            issuer_key=ca_key,
            issuer=ca,
            subject=SubjectName("x"),
            subject_spki=leaf_key.public_key_der(),
            profile=SIGNER,
            not_before=T0,
            not_after=T1 + timedelta(days=1),
        )


def test_builder_refuses_bad_inputs() -> None:
    key = SoftwareKey.generate("sm2")
    other = SoftwareKey.generate("sm2")
    base: dict[str, Any] = {"issuer_key": key, "subject": SubjectName("x"), "profile": ROOT_CA}
    with pytest.raises(NaiveDatetimeError):
        issue_certificate(
            **base, subject_spki=key.public_key_der(), not_before=datetime(2026, 1, 1), not_after=T1
        )
    with pytest.raises(CertificateBuildError, match="precede"):
        issue_certificate(**base, subject_spki=key.public_key_der(), not_before=T1, not_after=T0)
    with pytest.raises(CertificateBuildError, match="own key"):
        issue_certificate(**base, subject_spki=other.public_key_der(), not_before=T0, not_after=T1)
    with pytest.raises(CertificateBuildError, match="serial"):
        issue_certificate(
            **base, subject_spki=key.public_key_der(), not_before=T0, not_after=T1, serial=0
        )
    with pytest.raises(CertificateBuildError, match="CA profiles"):
        issue_certificate(
            issuer_key=key,
            subject=SubjectName("x"),
            profile=SIGNER,
            subject_spki=key.public_key_der(),
            not_before=T0,
            not_after=T1,
        )
    with pytest.raises(CertificateBuildError):
        issue_certificate(**base, subject_spki=b"\x30\x00", not_before=T0, not_after=T1)


def test_builder_refuses_a_key_whose_signatures_do_not_verify() -> None:
    key = SoftwareKey.generate("sm2")

    class Broken:
        algorithm = "sm2"

        def public_key_der(self) -> bytes:
            return key.public_key_der()

        def sign(self, message: bytes) -> bytes:
            return key.sign(message + b"!")

    with pytest.raises(CertificateBuildError, match="does not verify"):
        issue_certificate(
            issuer_key=Broken(),
            subject=SubjectName("x"),
            profile=ROOT_CA,
            subject_spki=key.public_key_der(),
            not_before=T0,
            not_after=T1,
        )


def test_generalized_time_after_2049() -> None:
    key = SoftwareKey.generate("sm2")
    end = datetime(2060, 1, 1, tzinfo=UTC)
    cert = issue_certificate(
        issuer_key=key,
        subject=SubjectName("long"),
        profile=ROOT_CA,
        subject_spki=key.public_key_der(),
        not_before=T0,
        not_after=end,
    )
    validity = asn1_x509.Certificate.load(cert.der)["tbs_certificate"]["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_after"].name == "general_time"
    assert cert.not_after == end


def test_path_len_variant_profile() -> None:
    key = SoftwareKey.generate("sm2")
    cert = issue_certificate(
        issuer_key=key,
        subject=SubjectName("r"),
        profile=replace(ROOT_CA, path_len=2),
        subject_spki=key.public_key_der(),
        not_before=T0,
        not_after=T1,
    )
    assert cert.path_len == 2


# --- names and USCC ----------------------------------------------------------------------


def test_uscc_check_character() -> None:
    # Published codes (Tencent Shenzhen, Alibaba Hangzhou) and their check characters.
    assert uscc_check_char("9144030071526726X") == "G"
    assert uscc_check_char("91330100716105852") == "F"
    assert is_valid_uscc("91330100716105852F")
    assert not is_valid_uscc("91330100716105852G")
    assert not is_valid_uscc("9133010071610585")
    assert not is_valid_uscc("I1330100716105852F")  # I is not in the alphabet
    assert uscc_of_identifier("NTRCN-91330100716105852F") == "91330100716105852F"
    assert uscc_of_identifier("91330100716105852F") == "91330100716105852F"
    assert uscc_of_identifier("NTRCN-91330100716105852X") is None


def test_subject_name_checks() -> None:
    with pytest.raises(InvalidUsccError):
        SubjectName("x", uscc="91330100716105852G")
    with pytest.raises(InvalidNameError):
        SubjectName("")
    with pytest.raises(InvalidNameError):
        SubjectName("x" * 65)
    with pytest.raises(InvalidNameError):
        SubjectName(" padded")
    with pytest.raises(InvalidNameError):
        SubjectName("x", country="china")
