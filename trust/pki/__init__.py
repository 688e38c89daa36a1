"""X.509 certificates for SealTrust: build (SM2/RSA/ECDSA), parse, validate chains, demo PKI.

    >>> from datetime import UTC, datetime
    >>> from trust.pki import EKU_SEAL_MAKING, build_demo_pki, validate_chain
    >>> now = datetime(2026, 6, 1, tzinfo=UTC)
    >>> pki = build_demo_pki(b"example seed", now)
    >>> leaf = pki.certificate("sm2-seal-maker")
    >>> result = validate_chain(leaf, [], pki.trust_anchors, now,
    ...                         required_eku=EKU_SEAL_MAKING)
    >>> result.ok, [c.common_name for c in result.path]
    (True, ['示例市电子印章制作中心', 'SealTrust 演示 SM2 根 CA'])

Modules: ``names`` (subject names, USCC), ``profiles`` (what each certificate
may do), ``oids`` (SealTrust's private OID arc), ``build`` (issuing),
``certificate`` (the parsed, immutable certificate), ``chain`` (path building
and validation at a time), ``demo`` (the seed-derived demo PKI), ``pem``.
"""

from trust.pki.build import issue_certificate
from trust.pki.certificate import Certificate, parse_cached
from trust.pki.chain import (
    ChainResult,
    ChainValidator,
    RevocationChecker,
    RevocationStatus,
    validate_chain,
)
from trust.pki.demo import DemoPKI, build_demo_pki
from trust.pki.errors import (
    CertificateBuildError,
    CertificateFormatError,
    InvalidNameError,
    InvalidUsccError,
    NaiveDatetimeError,
)
from trust.pki.names import SubjectName, is_valid_uscc
from trust.pki.oids import (
    EKU_DOCUMENT_SIGNING,
    EKU_LIST_SIGNING,
    EKU_SEAL_MAKING,
    EKU_STATUS_LIST_SIGNING,
    EKU_TIME_STAMPING,
    EKU_TOKEN_SIGNING,
)
from trust.pki.pem import pem_certificates
from trust.pki.profiles import (
    ISSUING_CA,
    LIST_SIGNER,
    ROOT_CA,
    SEAL_MAKER,
    SIGNER,
    TOKEN_SIGNER,
    TSA,
    Profile,
)

__all__ = [
    "EKU_DOCUMENT_SIGNING",
    "EKU_LIST_SIGNING",
    "EKU_SEAL_MAKING",
    "EKU_STATUS_LIST_SIGNING",
    "EKU_TIME_STAMPING",
    "EKU_TOKEN_SIGNING",
    "ISSUING_CA",
    "LIST_SIGNER",
    "ROOT_CA",
    "SEAL_MAKER",
    "SIGNER",
    "TOKEN_SIGNER",
    "TSA",
    "Certificate",
    "CertificateBuildError",
    "CertificateFormatError",
    "ChainResult",
    "ChainValidator",
    "DemoPKI",
    "InvalidNameError",
    "InvalidUsccError",
    "NaiveDatetimeError",
    "Profile",
    "RevocationChecker",
    "RevocationStatus",
    "SubjectName",
    "build_demo_pki",
    "is_valid_uscc",
    "issue_certificate",
    "parse_cached",
    "pem_certificates",
    "validate_chain",
]
