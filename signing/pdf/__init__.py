"""PAdES-style PDF sealing: SM2/SM3 or RSA/SHA-256, RFC 3161 time-stamp, bound seal.

    >>> from signing.pdf import SealBinding, seal_pdf
    >>> from signing.tsa import BuiltinTSA, InProcessTimeStamper
    >>> ts = InProcessTimeStamper(BuiltinTSA(tsa_key, tsa_chain, policy, clock))  # doctest: +SKIP
    >>> sealed = seal_pdf(pdf, key, [leaf, root], timestamper=ts,
    ...                   seal=SealBinding(seal_der))  # doctest: +SKIP

The seal (GB/T 38540 SESeal) rides in the CMS as a signed attribute; see
docs/seal-binding.md for the OIDs and why.
"""

from signing.pdf.cms_attrs import (
    LICENCE_ID_ATTR_OID,
    SEAL_ATTR_OID,
    SES_SIGNATURE_ATTR_OID,
    SealBinding,
    SealBindingError,
)
from signing.pdf.errors import (
    CertificateChainError,
    FieldInUseError,
    MalformedPdfError,
    SealingError,
)
from signing.pdf.placement import SealPlacement, SealPlacementError
from signing.pdf.signer import PdfSealer, seal_pdf

__all__ = [
    "LICENCE_ID_ATTR_OID",
    "SEAL_ATTR_OID",
    "SES_SIGNATURE_ATTR_OID",
    "CertificateChainError",
    "FieldInUseError",
    "MalformedPdfError",
    "PdfSealer",
    "SealBinding",
    "SealBindingError",
    "SealPlacement",
    "SealPlacementError",
    "SealingError",
    "seal_pdf",
]
