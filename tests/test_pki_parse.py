"""The certificate parser: every malformed input is a CertificateFormatError, quickly."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trust.errors import InputError
from trust.keys import SoftwareKey
from trust.pki import (
    ROOT_CA,
    SIGNER,
    Certificate,
    CertificateFormatError,
    NaiveDatetimeError,
    SubjectName,
    issue_certificate,
    parse_cached,
    pem_certificates,
)
from trust.pki.certificate import MAX_CERTIFICATE_SIZE
from trust.pki.pem import to_pem_bundle

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def cert() -> Certificate:
    key = SoftwareKey.generate("sm2")
    return issue_certificate(
        issuer_key=key,
        subject=SubjectName("解析测试", organization="测试"),
        subject_spki=key.public_key_der(),
        profile=ROOT_CA,
        not_before=T0,
        not_after=T0 + timedelta(days=30),
    )


def _mutate(der: bytes, change: Callable[[Any], None]) -> bytes:
    """Re-encode a certificate after ``change`` edits its asn1crypto tree (signature unchanged)."""
    loaded = asn1_x509.Certificate.load(der)
    tree = copy.deepcopy(loaded)
    change(tree)
    tbs = tree["tbs_certificate"]
    tbs_der = _seq(b"".join(tbs[name].dump() for name in _TBS_FIELDS))
    alg = tree["signature_algorithm"].dump()
    return _seq(tbs_der + alg + loaded["signature_value"].dump())


_TBS_FIELDS = (
    "version",
    "serial_number",
    "signature",
    "issuer",
    "validity",
    "subject",
    "subject_public_key_info",
    "extensions",
)


def _seq(body: bytes) -> bytes:
    n = len(body)
    length = bytes([n]) if n < 128 else bytes([0x82, n >> 8, n & 0xFF])
    return b"\x30" + length + body


def _raw_extension(oid: str, critical: bool, value: bytes) -> asn1_x509.Extension:
    """An Extension from hand-made DER, so its value can be anything."""
    body = core.ObjectIdentifier(oid).dump() + core.Boolean(critical).dump()
    body += core.OctetString(value).dump()
    assert len(body) < 128
    return asn1_x509.Extension.load(bytes([0x30, len(body)]) + body)


def test_pem_and_der_round_trip(cert: Certificate) -> None:
    assert _mutate(cert.der, lambda tree: None) == cert.der  # the test helper is faithful
    assert Certificate.from_der(cert.der) == cert
    assert Certificate.from_pem(cert.to_pem()) == cert
    assert Certificate.from_pem(cert.to_pem().encode()) == cert
    assert pem_certificates(to_pem_bundle([cert.der, cert.der])) == [cert.der, cert.der]
    assert parse_cached(cert.der) is parse_cached(cert.der)
    assert parse_cached(bytearray(cert.der)) == cert  # unhashable input still parses
    with pytest.raises(CertificateFormatError):
        parse_cached(b"\x30\x00")
    assert hash(Certificate.from_der(cert.der)) == hash(cert)


def test_repr_is_short_and_names_the_certificate(cert: Certificate) -> None:
    text = repr(cert)
    assert "解析测试" in text and len(text) < 300


def test_valid_at(cert: Certificate) -> None:
    assert cert.valid_at(T0) and cert.valid_at(T0 + timedelta(days=30))
    assert not cert.valid_at(T0 - timedelta(seconds=1))
    with pytest.raises(NaiveDatetimeError):
        cert.valid_at(datetime(2026, 1, 2))


def test_certificate_is_immutable(cert: Certificate) -> None:
    with pytest.raises(AttributeError):
        cert.serial = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x30", b"\x30\x80", b"\x30\x03\x02\x01\x01", b"not a certificate"],
)
def test_garbage_is_rejected(data: bytes) -> None:
    with pytest.raises(CertificateFormatError):
        Certificate.from_der(data)


def test_truncated_and_trailing(cert: Certificate) -> None:
    for cut in (1, 10, len(cert.der) // 2, len(cert.der) - 1):
        with pytest.raises(CertificateFormatError):
            Certificate.from_der(cert.der[:cut])
    with pytest.raises(CertificateFormatError):
        Certificate.from_der(cert.der + b"\x00")


def test_oversize_rejected_before_parsing() -> None:
    with pytest.raises(CertificateFormatError, match="size"):
        Certificate.from_der(b"\x30" * (MAX_CERTIFICATE_SIZE + 1))


def test_non_bytes_rejected() -> None:
    with pytest.raises(CertificateFormatError):
        Certificate.from_der("30820101")  # type: ignore[arg-type]


def test_pem_problems(cert: Certificate) -> None:
    with pytest.raises(CertificateFormatError, match="no PEM"):
        Certificate.from_pem("hello")
    with pytest.raises(CertificateFormatError, match="one PEM"):
        Certificate.from_pem(to_pem_bundle([cert.der, cert.der]))
    key_block = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    with pytest.raises(CertificateFormatError, match="unexpected PEM block"):
        pem_certificates(cert.to_pem() + key_block)
    with pytest.raises(CertificateFormatError):
        Certificate.from_pem("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    with pytest.raises(CertificateFormatError):
        Certificate.from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_inner_outer_algorithm_mismatch(cert: Certificate) -> None:
    def change(tree: Any) -> None:
        tree["signature_algorithm"] = {"algorithm": "sha256_rsa"}

    with pytest.raises(CertificateFormatError, match="differs"):
        Certificate.from_der(_mutate(cert.der, change))


def test_duplicate_extension(cert: Certificate) -> None:
    def change(tree: Any) -> None:
        exts = list(tree["tbs_certificate"]["extensions"])
        tree["tbs_certificate"]["extensions"] = asn1_x509.Extensions([*exts, exts[0]])

    with pytest.raises(CertificateFormatError, match="twice"):
        Certificate.from_der(_mutate(cert.der, change))


def test_non_positive_serial(cert: Certificate) -> None:
    def change(tree: Any) -> None:
        tree["tbs_certificate"]["serial_number"] = -5

    with pytest.raises(CertificateFormatError, match="positive"):
        Certificate.from_der(_mutate(cert.der, change))


def test_unknown_critical_extension_is_recorded(cert: Certificate) -> None:
    def change(tree: Any) -> None:
        exts = list(tree["tbs_certificate"]["extensions"])
        odd = _raw_extension("1.2.3.4.5", True, b"\x05\x00")
        tree["tbs_certificate"]["extensions"] = asn1_x509.Extensions([*exts, odd])

    parsed = Certificate.from_der(_mutate(cert.der, change))
    assert parsed.unhandled_critical == {"1.2.3.4.5"}


def test_malformed_extension_value(cert: Certificate) -> None:
    def change(tree: Any) -> None:
        exts = list(tree["tbs_certificate"]["extensions"])
        broken = _raw_extension("2.5.29.15", True, b"\x30\x05")
        tree["tbs_certificate"]["extensions"] = asn1_x509.Extensions(
            [e for e in exts if e["extn_id"].native != "key_usage"] + [broken]
        )

    with pytest.raises(CertificateFormatError):
        Certificate.from_der(_mutate(cert.der, change))


def test_unsupported_key_parses_with_no_algorithm(cert: Certificate) -> None:
    # An Ed25519 SPKI: parseable, but SealTrust cannot verify with it.
    ed_spki = bytes.fromhex("302a300506032b6570032100") + bytes(32)

    def change(tree: Any) -> None:
        tree["tbs_certificate"]["subject_public_key_info"] = asn1_x509.Certificate.load(cert.der)[
            "tbs_certificate"
        ]["subject_public_key_info"].__class__.load(ed_spki)

    parsed = Certificate.from_der(_mutate(cert.der, change))
    assert parsed.key_algorithm is None


def test_format_error_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        Certificate.from_der(b"\x30\x00")
    assert info.value.code == "pki.certificate_format"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    try:
        Certificate.from_der(data)
    except CertificateFormatError:
        return
    pytest.fail("random bytes parsed as a certificate")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_certificate(data: st.DataObject) -> None:
    """Byte flips in a real certificate: parse cleanly or fail with the typed error."""
    key = _FUZZ_KEY
    der = bytearray(_FUZZ_CERT.der)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(der) - 1))
        der[pos] = data.draw(st.integers(0, 255))
    try:
        parsed = Certificate.from_der(bytes(der))
    except CertificateFormatError:
        return
    # Whatever parsed exposes consistent, fully-read fields.
    assert parsed.der == bytes(der)
    assert isinstance(parsed.subject_text, str) and parsed.not_before.tzinfo is not None
    assert key.algorithm == "sm2"


_FUZZ_KEY = SoftwareKey.generate("sm2")
_FUZZ_CERT = issue_certificate(
    issuer_key=_FUZZ_KEY,
    subject=SubjectName("fuzz", organization="模糊", uscc="91330100716105852F"),
    subject_spki=_FUZZ_KEY.public_key_der(),
    profile=SIGNER,
    not_before=T0,
    not_after=T0 + timedelta(days=1),
    crl_urls=["http://x.example/c.crl"],
    enforce_issuer_constraints=False,
)
