"""A small test PKI for the PDF-sealing and time-stamp tests.

Stands in until ``trust/pki`` lands: certificates are built with asn1crypto and
signed through :class:`trust.keys.SoftwareKey`, so the same helper makes RSA
and SM2 chains (``cryptography`` cannot build SM2 certificates). Every
certificate here is checked by independent code in the tests (pyHanko's
certvalidator, ``openssl``, a gmssl-based validator), never by ours.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos, core, keys, x509

import trust  # noqa: F401  (registers the SM OIDs)
from trust.keys import SoftwareKey, signature_algorithm_oid

NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2035, 1, 1, tzinfo=UTC)
_serials = itertools.count(0x5EA1_0000)


@dataclass(frozen=True)
class Issued:
    """A key with its certificate chain (leaf first, root last)."""

    key: SoftwareKey
    chain: tuple[bytes, ...]

    @property
    def cert(self) -> bytes:
        return self.chain[0]

    @property
    def root(self) -> bytes:
        return self.chain[-1]


def _sig_alg(key: SoftwareKey) -> algos.SignedDigestAlgorithm:
    oid = signature_algorithm_oid(key.algorithm)
    if key.algorithm.startswith("rsa"):
        return algos.SignedDigestAlgorithm({"algorithm": oid, "parameters": core.Null()})
    return algos.SignedDigestAlgorithm({"algorithm": oid})


def _name(cn: str) -> x509.Name:
    return x509.Name.build({"country_name": "CN", "organization_name": "SealTrust Test", "common_name": cn})


def _ski(spki: bytes) -> bytes:
    info = keys.PublicKeyInfo.load(spki)
    return hashlib.sha1(info["public_key"].contents).digest()  # RFC 5280 method 1


def make_cert(
    cn: str,
    key: SoftwareKey,
    issuer: Issued | None,
    *,
    ca: bool,
    eku: list[str] | None = None,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
) -> bytes:
    """One X.509 v3 certificate for ``key``, signed by ``issuer`` (self-signed if None)."""
    spki = key.public_key_der()
    signer = issuer.key if issuer else key
    issuer_name = x509.Certificate.load(issuer.cert).subject if issuer else _name(cn)
    issuer_spki = issuer.key.public_key_der() if issuer else spki
    if ca:
        usage = {"key_cert_sign", "crl_sign"}
    elif eku == ["time_stamping"]:
        usage = {"digital_signature"}
    else:
        usage = {"digital_signature", "non_repudiation"}
    extensions = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": _ski(spki)},
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": _ski(issuer_spki)},
        },
    ]
    if eku:
        # RFC 3161 2.3: a TSA certificate carries exactly timeStamping, critical.
        extensions.append({"extn_id": "extended_key_usage", "critical": True, "extn_value": eku})
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": next(_serials),
            "signature": _sig_alg(signer),
            "issuer": issuer_name,
            "validity": {
                "not_before": x509.Time({"utc_time": not_before}),
                "not_after": x509.Time({"utc_time": not_after}),
            },
            "subject": _name(cn),
            "subject_public_key_info": keys.PublicKeyInfo.load(spki),
            "extensions": extensions,
        }
    )
    cert = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": _sig_alg(signer),
            "signature_value": signer.sign(tbs.dump()),
        }
    )
    return bytes(cert.dump())


@dataclass(frozen=True)
class SigningPki:
    """A root, a sealing (issuing department) key and a TSA key for one algorithm."""

    root: Issued
    signer: Issued
    tsa: Issued


def build_pki(algorithm: str) -> SigningPki:
    """Root -> (department signer, TSA) for ``algorithm`` ('sm2', 'rsa-2048', ...)."""
    root_key = SoftwareKey.generate(algorithm)
    root = Issued(root_key, (make_cert(f"Test Root {algorithm}", root_key, None, ca=True),))
    signer_key = SoftwareKey.generate(algorithm)
    signer = Issued(
        signer_key,
        (make_cert(f"Test Department {algorithm}", signer_key, root, ca=False), root.cert),
    )
    tsa_key = SoftwareKey.generate(algorithm)
    tsa = Issued(
        tsa_key,
        (make_cert(f"Test TSA {algorithm}", tsa_key, root, ca=False, eku=["time_stamping"]), root.cert),
    )
    return SigningPki(root=root, signer=signer, tsa=tsa)


@functools.cache
def pki(algorithm: str) -> SigningPki:
    """The session-wide test PKI for ``algorithm`` (keys are costly: build once)."""
    return build_pki(algorithm)


def to_pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


@functools.cache
def sample_pdf(pages: int = 1) -> bytes:
    """A small reportlab PDF standing in for a rendered licence."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for page in range(pages):
        c.drawString(72, 760, f"SealTrust test licence, page {page + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


_SM2_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)
SM2_SIGNATURE_OIDS = frozenset({"1.2.156.10197.1.501", "1.2.156.10197.1.301.1"})


def gmssl_verify(spki_der: bytes, message: bytes, signature_der: bytes) -> bool:
    """SM2-with-SM3 verification by PyPI gmssl: an oracle independent of trust.sm2.

    gmssl's constructor mangles keys starting with hex '04' (lstrip) and skips
    the r/s range check, so both are handled here (standards.md section 1).
    """
    from gmssl.sm2 import CryptSM2

    info = keys.PublicKeyInfo.load(spki_der)
    if info["algorithm"]["parameters"].chosen.dotted != "1.2.156.10197.1.301":
        return False
    point = info["public_key"].native
    rs = algos.DSASignature.load(signature_der).native
    r, s = rs["r"], rs["s"]
    if not (1 <= r < _SM2_N and 1 <= s < _SM2_N):
        return False
    crypt = CryptSM2(private_key="00", public_key="00")
    crypt.public_key = point[1:].hex()
    return bool(crypt.verify_with_sm3(f"{r:064x}{s:064x}", message))


def gmssl_signature_validator() -> Any:
    """A pyHanko signature validator that checks SM2 with gmssl and defers the rest."""
    from cryptography.exceptions import InvalidSignature
    from pyhanko_certvalidator.sig_validate import (
        DEFAULT_VALIDATION_CONTEXT,
        DefaultSignatureValidator,
    )

    class GmsslSignatureValidator(DefaultSignatureValidator):  # type: ignore[misc]
        def __init__(self) -> None:
            self.sm2_checks = 0

        def validate_signature(
            self,
            signature: bytes,
            signed_data: bytes,
            public_key_info: keys.PublicKeyInfo,
            signature_algorithm: algos.SignedDigestAlgorithm,
            context: Any = DEFAULT_VALIDATION_CONTEXT,
        ) -> None:
            if signature_algorithm["algorithm"].dotted in SM2_SIGNATURE_OIDS:
                self.sm2_checks += 1
                if not gmssl_verify(public_key_info.dump(), signed_data, signature):
                    raise InvalidSignature("SM2 signature rejected by gmssl")
                return
            super().validate_signature(
                signature, signed_data, public_key_info, signature_algorithm, context
            )

    return GmsslSignatureValidator()
