"""Test certificates and seal fixtures for the seal tests, issued through trust.pki.

Every certificate is signed through trust.keys.SigningKey, so SM2, RSA and
ECDSA certificates come out of the same few lines; issuer constraints are
off so tests can fabricate odd validity periods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import x509

from trust import keys
from trust.indications import Indication, SubIndication
from trust.pki import ISSUING_CA, ROOT_CA, SIGNER, Certificate, SubjectName, issue_certificate
from trust.seal import CertListType, Outcome, SealPicture, asn1, make_seal, sign_with_seal
from trust.sm3 import sm3

YEAR_2025 = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_2035 = datetime(2035, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Issued:
    key: keys.SoftwareKey
    cert: bytes


def issue(
    cn: str,
    *,
    algorithm: str = "sm2",
    issuer: Issued | None = None,
    not_before: datetime = YEAR_2025,
    not_after: datetime = YEAR_2035,
    ca: bool = False,
) -> Issued:
    """A certificate for a fresh key, signed by ``issuer`` (self-signed when None)."""
    key = keys.SoftwareKey.generate(algorithm)
    profile = SIGNER if not ca else ROOT_CA if issuer is None else ISSUING_CA
    cert = issue_certificate(
        issuer_key=key if issuer is None else issuer.key,
        issuer=None if issuer is None else Certificate.from_der(issuer.cert),
        subject=SubjectName(cn, organization="SealTrust Test"),
        subject_spki=key.public_key_der(),
        profile=profile,
        not_before=not_before,
        not_after=not_after,
        enforce_issuer_constraints=False,
    )
    return Issued(key, cert.der)


class CaChain:
    """A fake chain validator: issued by ``ca`` (signature checked) and valid at ``at``."""

    def __init__(self, ca: Issued) -> None:
        self.ca = ca
        self.calls: list[tuple[bytes, datetime]] = []

    def __call__(self, cert_der: bytes, at: datetime) -> Outcome:
        self.calls.append((cert_der, at))
        cert = x509.Certificate.load(cert_der)
        ok = keys.verify_signature(
            self.ca.key.public_key_der(),
            cert["signature_algorithm"]["algorithm"].dotted,
            cert["tbs_certificate"].dump(),
            cert["signature_value"].native,
        )
        if not ok:
            return Outcome(
                Indication.INDETERMINATE,
                SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                "not issued by the test CA",
            )
        validity = cert["tbs_certificate"]["validity"].native
        if not validity["not_before"] <= at <= validity["not_after"]:
            return Outcome(
                Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE, "outside validity"
            )
        return Outcome(Indication.TOTAL_PASSED)


T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SEAL_START = datetime(2026, 1, 1, tzinfo=UTC)
SEAL_END = datetime(2027, 1, 1, tzinfo=UTC)
PICTURE = SealPicture("png", b"\x89PNG\r\n\x1a\n-test-picture-", 42, 42)
DOCUMENT = "电子营业执照 PDF 字节".encode() * 10


@dataclass(frozen=True)
class Kit:
    """A seal-making authority, two signers and one outsider, per key algorithm."""

    maker: Issued
    signer: Issued
    other_signer: Issued
    outsider: Issued

    def seal(self, kind: CertListType = CertListType.CERTIFICATES, **overrides: object) -> bytes:
        args: dict[str, object] = {
            "es_id": "11010500000001",
            "seal_type": 1,
            "name": "北京市朝阳区市场监督管理局",
            "certificates": [self.signer.cert, self.other_signer.cert],
            "created": SEAL_START,
            "valid_start": SEAL_START,
            "valid_end": SEAL_END,
            "picture": PICTURE,
            "maker_key": self.maker.key,
            "maker_cert": self.maker.cert,
            "cert_list_type": kind,
        }
        args.update(overrides)
        return make_seal(**args)  # type: ignore[arg-type]

    def signature(self, seal_der: bytes, data: bytes = DOCUMENT, at: datetime = T0) -> bytes:
        return sign_with_seal(
            seal_der, self.signer.key, self.signer.cert, sm3(data), "document.pdf", at
        )


def make_kit(algorithm: str = "sm2", signer_algorithm: str = "sm2") -> Kit:
    maker = issue("Seal Maker CA", algorithm=algorithm, ca=True)
    return Kit(
        maker=maker,
        signer=issue("Signer One", algorithm=signer_algorithm, issuer=maker),
        other_signer=issue("Signer Two", algorithm=signer_algorithm, issuer=maker),
        outsider=issue("Outsider", algorithm=signer_algorithm, issuer=maker),
    )


def resign_seal(
    seal_der: bytes, key: keys.SigningKey, mutate: Callable[[asn1.SESeal], None]
) -> bytes:
    """Change one field of a seal and sign it again, so only that field is wrong."""
    seal = asn1.SESeal.load(seal_der)
    mutate(seal)
    seal = asn1.SESeal.load(seal.dump(force=True))
    seal["signedValue"] = key.sign(seal["eSealInfo"].dump())
    return bytes(seal.dump(force=True))


def resign_signature(
    sig_der: bytes, key: keys.SigningKey, mutate: Callable[[asn1.SES_Signature], None]
) -> bytes:
    """Change one field of a seal signature and sign DER(TBS_Sign) again."""
    sig = asn1.SES_Signature.load(sig_der)
    mutate(sig)
    sig = asn1.SES_Signature.load(sig.dump(force=True))
    sig["signature"] = key.sign(sig["toSign"].dump())
    return bytes(sig.dump(force=True))
