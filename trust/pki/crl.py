"""X.509 v2 certificate revocation lists (RFC 5280 section 5), signed by the issuing CA.

Relying parties outside SealTrust (Adobe, pyHanko, EU DSS, other provinces'
verifiers) check certificate revocation with CRLs, not with our registry or
signed status lists, so each CA of the deployment publishes one. SM2 CAs sign
with SM2/SM3 (the same ``sm2sm3`` algorithm as their certificates), RSA CAs
with SHA-256; the signature is checked right after signing, as certificates
are, so a faulty key store never publishes a CRL that does not verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from asn1crypto import crl, x509

from trust.keys import SigningKey, signature_algorithm_oid
from trust.keys import verify_signature as _verify
from trust.pki.build import key_identifier, x509_time
from trust.pki.certificate import Certificate
from trust.pki.errors import CertificateBuildError, require_aware

__all__ = ["REASONS", "RevokedCertificate", "build_crl"]

# RFC 5280 CRLReason names as asn1crypto spells them (removeFromCRL has no place here).
REASONS: Final = frozenset({
    "unspecified", "key_compromise", "ca_compromise", "affiliation_changed", "superseded",
    "cessation_of_operation", "certificate_hold", "privilege_withdrawn", "aa_compromise",
})


@dataclass(frozen=True, slots=True)
class RevokedCertificate:
    """One CRL entry: the certificate's serial, when it was revoked, and why."""

    serial: int
    revoked_at: datetime
    reason: str = "unspecified"


def build_crl(
    issuer: Certificate,
    issuer_key: SigningKey,
    revoked: Sequence[RevokedCertificate],
    *,
    this_update: datetime,
    next_update: datetime,
    number: int,
    signer: Certificate | None = None,
) -> bytes:
    """The DER CRL of ``issuer`` listing ``revoked``, numbered ``number`` (monotonic).

    With ``signer`` (a delegated CRL signer, RFC 5280 6.3.3 (f)) ``issuer_key``
    is the signer's: a certificate ``issuer`` gave its own name and cRLSign, so
    the CA's key (a root kept offline) need not be online to publish CRLs.
    """
    require_aware(this_update, "this_update")
    require_aware(next_update, "next_update")
    if not this_update < next_update:
        raise CertificateBuildError("this_update must precede next_update")
    if not issuer.is_ca:
        raise CertificateBuildError(f"{issuer.subject_text} is not a CA: it cannot sign CRLs")
    key_holder = issuer if signer is None else signer
    if signer is not None and (
        signer.subject_der != issuer.subject_der or signer.issuer_der != issuer.subject_der
        or signer.key_usage is None or "crl_sign" not in signer.key_usage
    ):
        raise CertificateBuildError(f"{signer.subject_text} is not a CRL signer of the CA")
    if issuer_key.public_key_der() != key_holder.spki_der:
        raise CertificateBuildError("the CRL signing key does not match the issuer certificate")
    if number < 0:
        raise CertificateBuildError("the CRL number must not be negative")
    entries = []
    for entry in sorted(revoked, key=lambda e: e.serial):
        require_aware(entry.revoked_at, "revoked_at")
        if entry.reason not in REASONS:
            raise CertificateBuildError(f"unknown revocation reason {entry.reason!r}; "
                                        f"one of {', '.join(sorted(REASONS))}")
        entries.append({
            "user_certificate": entry.serial,
            "revocation_date": x509_time(entry.revoked_at),
            "crl_entry_extensions": [
                {"extn_id": "crl_reason", "critical": False, "extn_value": entry.reason}],
        })
    algorithm = {"algorithm": signature_algorithm_oid(issuer_key.algorithm)}
    tbs = crl.TbsCertList({
        "version": "v2",
        "signature": algorithm,
        "issuer": x509.Name.load(issuer.subject_der),
        "this_update": x509_time(this_update),
        "next_update": x509_time(next_update),
        "revoked_certificates": entries or None,
        "crl_extensions": [
            {"extn_id": "authority_key_identifier", "critical": False,
             "extn_value": {"key_identifier": key_holder.ski
                            or key_identifier(key_holder.spki_der)}},
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
        ],
    })
    tbs_der = tbs.dump()
    signature = issuer_key.sign(tbs_der)
    if not _verify(key_holder.spki_der, algorithm["algorithm"], tbs_der, signature):
        raise CertificateBuildError("the CA key produced a CRL signature that does not verify")
    return bytes(crl.CertificateList({
        "tbs_cert_list": tbs, "signature_algorithm": algorithm, "signature": signature,
    }).dump())
