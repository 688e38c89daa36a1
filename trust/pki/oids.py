"""Object identifiers of SealTrust certificate profiles.

SealTrust owns no IANA Private Enterprise Number, so its private arc is a
UUID-derived OID under ``2.25`` (ITU-T X.667 / ISO/IEC 9834-8), which anyone
may allocate without registration and which cannot collide:

    2.25.215246703010908923614696158914708008713   SealTrust arc
        .1      extended key usages
        .1.1    seal making (制章): signs GB/T 38540 SESeal structures
        .1.2    QR token (亮证) signing
        .1.3    list signing: trust lists, status lists, delegated CRLs (the
                list-signer role; verifiers require it of a list's signer)
        .2      certificate policies
        .2.1    SealTrust seal-maker certificate policy
        .2.2    SealTrust document-signer certificate policy

Public OIDs used alongside: id-kp-timeStamping (RFC 3161/5280) and
id-kp-documentSigning (RFC 9336).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ATTR_LICENCE_ID",
    "ATTR_LICENCE_VALIDITY",
    "ATTR_SEAL",
    "ATTR_SES_SIGNATURE",
    "ATTR_STATUS_REF",
    "EKU_DOCUMENT_SIGNING",
    "EKU_LIST_SIGNING",
    "EKU_SEAL_MAKING",
    "EKU_STATUS_LIST_SIGNING",
    "EKU_TIME_STAMPING",
    "EKU_TOKEN_SIGNING",
    "POLICY_DOCUMENT_SIGNER",
    "POLICY_SEAL_MAKER",
    "SEALTRUST_ARC",
    "TSA_POLICY",
]

SEALTRUST_ARC: Final = "2.25.215246703010908923614696158914708008713"
EKU_SEAL_MAKING: Final = SEALTRUST_ARC + ".1.1"
EKU_TOKEN_SIGNING: Final = SEALTRUST_ARC + ".1.2"
EKU_STATUS_LIST_SIGNING: Final = SEALTRUST_ARC + ".1.3"
EKU_LIST_SIGNING: Final = EKU_STATUS_LIST_SIGNING  # the same purpose, its current name
POLICY_SEAL_MAKER: Final = SEALTRUST_ARC + ".2.1"
POLICY_DOCUMENT_SIGNER: Final = SEALTRUST_ARC + ".2.2"
# .3: CMS signed attributes binding a licence to its PDF signature (docs/seal-binding.md).
ATTR_SEAL: Final = SEALTRUST_ARC + ".3.1"  # DER SESeal (GB/T 38540)
ATTR_SES_SIGNATURE: Final = SEALTRUST_ARC + ".3.2"  # DER SES_Signature over the byte ranges
ATTR_LICENCE_ID: Final = SEALTRUST_ARC + ".3.3"  # UTF8String licence identifier
ATTR_STATUS_REF: Final = SEALTRUST_ARC + ".3.4"  # SEQUENCE { list UTF8String, index INTEGER }
# SEQUENCE { validFrom GeneralizedTime, validUntil GeneralizedTime OPTIONAL } (end exclusive)
ATTR_LICENCE_VALIDITY: Final = SEALTRUST_ARC + ".3.5"
# .4: policies of SealTrust services.
TSA_POLICY: Final = SEALTRUST_ARC + ".4.1"  # the built-in RFC 3161 time-stamping service
EKU_TIME_STAMPING: Final = "1.3.6.1.5.5.7.3.8"
EKU_DOCUMENT_SIGNING: Final = "1.3.6.1.5.5.7.3.36"
