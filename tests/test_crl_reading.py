"""The verifier's CRL and OCSP readers on material made by ``cryptography`` (an independent
implementation): complete CRLs only, matched to their CA by name, key id and signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trust.pki.certificate import Certificate
from trust.pki.crl import Crl, CrlFormatError, CrlStore
from trust.pki.ocsp import OcspFormatError, OcspResponse

NOW = datetime.now(UTC).replace(microsecond=0)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(cn: str, key: ec.EllipticCurvePrivateKey, issuer: str,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
          usage: x509.KeyUsage | None = None, eku: list[x509.ObjectIdentifier] | None = None,
          ) -> Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=90))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    signed = builder.sign(issuer_key, hashes.SHA256())
    return Certificate.from_der(signed.public_bytes(serialization.Encoding.DER))


def _usage(*, crl_sign: bool, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(True, False, False, False, False, cert_sign, crl_sign, False, False)


def _crl(issuer: str, key: ec.EllipticCurvePrivateKey, *, delta: bool = False,
         revoked: tuple[int, ...] = ()) -> bytes:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(_name(issuer))
               .last_update(NOW - timedelta(hours=1)).next_update(NOW + timedelta(days=1))
               .add_extension(x509.CRLNumber(5), critical=False))
    if delta:
        builder = builder.add_extension(x509.DeltaCRLIndicator(4), critical=True)
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW).build())
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def keys() -> list[ec.EllipticCurvePrivateKey]:
    return [ec.generate_private_key(ec.SECP256R1()) for _ in range(4)]


def test_crl_is_matched_by_name_and_signature(keys: list[ec.EllipticCurvePrivateKey]) -> None:
    ca = _cert("CA", keys[0], "CA", keys[0], ca=True, usage=_usage(crl_sign=True, cert_sign=True))
    other = _cert("Other CA", keys[1], "Other CA", keys[1], ca=True)
    parsed = Crl.from_der(_crl("CA", keys[0], revoked=(42,)))
    assert parsed.number == 5
    assert parsed.entry(42) is not None
    assert parsed.entry(43) is None
    assert parsed.signed_by(ca)
    assert not parsed.signed_by(other)
    assert not Crl.from_der(_crl("CA", keys[1])).signed_by(ca)  # right name, wrong key
    assert parsed.fresh_at(NOW)
    assert not parsed.fresh_at(NOW + timedelta(days=2))
    assert not parsed.fresh_at(NOW - timedelta(hours=2))
    store = CrlStore.from_der([_crl("CA", keys[0]), _crl("Other CA", keys[1])])
    assert len(store.of_ca(ca)) == 1
    assert len(store.of_ca(other)) == 1


def test_a_ca_without_crl_sign_cannot_vouch(keys: list[ec.EllipticCurvePrivateKey]) -> None:
    ca = _cert("CA", keys[0], "CA", keys[0], ca=True, usage=_usage(crl_sign=False,
                                                                    cert_sign=True))
    assert not Crl.from_der(_crl("CA", keys[0])).signed_by(ca)


def test_a_dedicated_crl_signer_the_ca_issued_is_accepted(
        keys: list[ec.EllipticCurvePrivateKey]) -> None:
    """RFC 5280 6.3.3 (f): a CRL signed with a separate key certified by the CA under its name."""
    ca = _cert("CA", keys[0], "CA", keys[0], ca=True, usage=_usage(crl_sign=True, cert_sign=True))
    signer = _cert("CA", keys[2], "CA", keys[0], ca=False, usage=_usage(crl_sign=True))
    rogue = _cert("CA", keys[3], "CA", keys[3], ca=False, usage=_usage(crl_sign=True))
    parsed = Crl.from_der(_crl("CA", keys[2]))
    assert not parsed.signed_by(ca)
    assert parsed.signed_by(ca, [signer])
    assert not Crl.from_der(_crl("CA", keys[3])).signed_by(ca, [rogue])  # not issued by the CA


def test_delta_and_malformed_crls_are_refused(keys: list[ec.EllipticCurvePrivateKey]) -> None:
    with pytest.raises(CrlFormatError, match="critical extension"):
        Crl.from_der(_crl("CA", keys[0], delta=True))
    for junk in (b"", b"\x30\x03\x02\x01\x01", _crl("CA", keys[0])[:-3]):
        with pytest.raises(CrlFormatError):
            Crl.from_der(junk)


def test_ocsp_from_the_issuer_or_a_designated_responder_only(
        keys: list[ec.EllipticCurvePrivateKey]) -> None:
    ca = _cert("CA", keys[0], "CA", keys[0], ca=True, usage=_usage(crl_sign=True, cert_sign=True))
    leaf = _cert("Leaf", keys[1], "CA", keys[0], ca=False)
    responder = _cert("Responder", keys[2], "CA", keys[0], ca=False,
                      eku=[ExtendedKeyUsageOID.OCSP_SIGNING])
    outsider = _cert("Responder", keys[3], "Responder", keys[3], ca=False,
                     eku=[ExtendedKeyUsageOID.OCSP_SIGNING])

    def response(signer: Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
        built = ocsp.OCSPResponseBuilder().add_response(
            cert=x509.load_der_x509_certificate(leaf.der),
            issuer=x509.load_der_x509_certificate(ca.der), algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.GOOD, this_update=NOW - timedelta(hours=1),
            next_update=NOW + timedelta(hours=12), revocation_time=None, revocation_reason=None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, x509.load_der_x509_certificate(
            signer.der)).certificates([x509.load_der_x509_certificate(signer.der)])
        return built.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    answer = OcspResponse.from_der(response(responder, keys[2])).answer_for(leaf, ca)
    assert answer is not None
    assert answer.status == "good"
    assert OcspResponse.from_der(response(ca, keys[0])).answer_for(leaf, ca) is not None
    assert OcspResponse.from_der(response(outsider, keys[3])).answer_for(leaf, ca) is None
    assert OcspResponse.from_der(response(ca, keys[0])).answer_for(responder, ca) is None
    unsuccessful = ocsp.OCSPResponseBuilder.build_unsuccessful(
        ocsp.OCSPResponseStatus.TRY_LATER).public_bytes(serialization.Encoding.DER)
    with pytest.raises(OcspFormatError):
        OcspResponse.from_der(unsuccessful)
