"""Issue X.509 v3 certificates with any :class:`trust.keys.SigningKey`.

asn1crypto builds the TBSCertificate because ``cryptography`` cannot sign with
SM2; the issuer key (software or HSM) signs its DER, and the result is
verified once more before it is returned, so a faulty device never yields a
certificate that does not verify.

Encodings: SM2-with-SM3 (1.2.156.10197.1.501) without parameters (GmSSL and
OpenSSL practice), sha256WithRSAEncryption with NULL parameters (RFC 4055),
ecdsa-with-SHA256 without parameters (RFC 5758). Times are UTCTime before
2050 and GeneralizedTime after, without fractions (RFC 5280 §4.1.2.5).
Key identifiers are RFC 7093 method 1 (leftmost 160 bits of SHA-256 of the
subjectPublicKey bits), avoiding SHA-1.

    >>> root_key = SoftwareKey.generate("sm2")                       # doctest: +SKIP
    >>> root = issue_certificate(issuer_key=root_key, subject=SubjectName("Root"),
    ...     subject_spki=root_key.public_key_der(), profile=ROOT_CA,
    ...     not_before=t0, not_after=t1)                              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from asn1crypto import keys as asn1_keys
from asn1crypto import x509

from trust.keys import SigningKey, UnsupportedKeyError, algorithm_of_spki, signature_algorithm_oid
from trust.keys import verify_signature as _verify
from trust.pki.certificate import Certificate
from trust.pki.errors import CertificateBuildError, require_aware
from trust.pki.names import SubjectName
from trust.pki.profiles import Profile

__all__ = ["issue_certificate", "key_identifier"]

_MAX_SERIAL: Final = 1 << 159  # 20 octets, positive (RFC 5280 §4.1.2.2)


def key_identifier(spki_der: bytes) -> bytes:
    """RFC 7093 method 1 key identifier of a SubjectPublicKeyInfo."""
    try:
        info = asn1_keys.PublicKeyInfo.load(spki_der, strict=True)
        bits = info["public_key"].contents[1:]  # drop the unused-bits octet
    except (ValueError, TypeError, KeyError) as exc:
        raise CertificateBuildError(f"malformed SubjectPublicKeyInfo: {exc}") from None
    return hashlib.sha256(bits).digest()[:20]


def x509_time(value: datetime) -> x509.Time:
    """UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5)."""
    utc = value.astimezone(UTC).replace(microsecond=0)
    return x509.Time(name="utc_time" if utc.year < 2050 else "general_time", value=utc)


def issue_certificate(
    *,
    issuer_key: SigningKey,
    subject: SubjectName,
    subject_spki: bytes,
    profile: Profile,
    not_before: datetime,
    not_after: datetime,
    issuer: Certificate | None = None,
    serial: int | None = None,
    crl_urls: Sequence[str] = (),
    enforce_issuer_constraints: bool = True,
) -> Certificate:
    """Issue one certificate; ``issuer=None`` makes it self-signed (a root).

    With ``enforce_issuer_constraints`` (the default and the only production
    setting), the issuer must be a CA allowed to sign certificates, the new
    validity must lie inside the issuer's, and a CA under a pathLen-0 issuer is
    refused. Tests switch it off to fabricate invalid chains.
    """
    require_aware(not_before, "not_before")
    require_aware(not_after, "not_after")
    if not_before >= not_after:
        raise CertificateBuildError("not_before must precede not_after")
    if serial is None:
        serial = secrets.randbelow(_MAX_SERIAL - 1) + 1
    if not 0 < serial < _MAX_SERIAL:
        raise CertificateBuildError("serial must be a positive integer of at most 20 octets")
    try:
        algorithm_of_spki(subject_spki)
        issuer_alg = issuer_key.algorithm
        sig_oid = signature_algorithm_oid(issuer_alg)
    except UnsupportedKeyError as exc:
        raise CertificateBuildError(str(exc)) from None
    issuer_spki = issuer_key.public_key_der()
    subject_name = subject.to_asn1()
    if issuer is None:
        if issuer_spki != subject_spki:
            raise CertificateBuildError("a self-signed certificate needs the subject's own key")
        if not profile.is_ca and enforce_issuer_constraints:
            raise CertificateBuildError("only CA profiles may be self-signed")
        issuer_name = subject_name
        authority_ki = key_identifier(subject_spki)
    else:
        if issuer_spki != issuer.spki_der:
            raise CertificateBuildError("issuer key does not match the issuer certificate")
        if enforce_issuer_constraints:
            _check_issuer(issuer, profile, not_before, not_after)
        issuer_name = x509.Name.load(issuer.subject_der)
        authority_ki = issuer.ski or key_identifier(issuer.spki_der)

    algorithm = {"algorithm": sig_oid}
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": algorithm,
            "issuer": issuer_name,
            "validity": {"not_before": x509_time(not_before), "not_after": x509_time(not_after)},
            "subject": subject_name,
            "subject_public_key_info": asn1_keys.PublicKeyInfo.load(subject_spki),
            "extensions": _extensions(profile, subject_spki, authority_ki, crl_urls),
        }
    )
    tbs_der = tbs.dump()
    signature = issuer_key.sign(tbs_der)
    if not _verify(issuer_spki, sig_oid, tbs_der, signature):
        raise CertificateBuildError("the issuer key produced a signature that does not verify")
    cert = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return Certificate.from_der(cert.dump())


def _check_issuer(issuer: Certificate, profile: Profile, nb: datetime, na: datetime) -> None:
    if not issuer.is_ca or (
        issuer.key_usage is not None and "key_cert_sign" not in issuer.key_usage
    ):
        raise CertificateBuildError(f"{issuer.subject_text} may not issue certificates")
    if nb < issuer.not_before or na > issuer.not_after:
        raise CertificateBuildError("validity must lie within the issuer's validity")
    if profile.is_ca and issuer.path_len == 0:
        raise CertificateBuildError("the issuer's pathLen 0 forbids issuing a CA")


def _extensions(
    profile: Profile, subject_spki: bytes, authority_ki: bytes, crl_urls: Sequence[str]
) -> list[dict[str, Any]]:
    basic: dict[str, Any] = {"ca": profile.is_ca}
    if profile.is_ca and profile.path_len is not None:
        basic["path_len_constraint"] = profile.path_len
    exts: list[dict[str, Any]] = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": basic},
        {"extn_id": "key_usage", "critical": True, "extn_value": set(profile.key_usage)},
    ]
    if profile.ext_key_usage:
        exts.append(
            {
                "extn_id": "extended_key_usage",
                "critical": profile.eku_critical,
                "extn_value": list(profile.ext_key_usage),
            }
        )
    exts.append(
        {"extn_id": "key_identifier", "critical": False, "extn_value": key_identifier(subject_spki)}
    )
    exts.append(
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": authority_ki},
        }
    )
    if profile.policies:
        exts.append(
            {
                "extn_id": "certificate_policies",
                "critical": False,
                "extn_value": [{"policy_identifier": oid} for oid in profile.policies],
            }
        )
    if crl_urls:
        points = [
            {
                "distribution_point": {
                    "full_name": [x509.GeneralName(name="uniform_resource_identifier", value=url)]
                }
            }
            for url in crl_urls
        ]
        exts.append({"extn_id": "crl_distribution_points", "critical": False, "extn_value": points})
    return exts
