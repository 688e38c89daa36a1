"""Typed verification errors: every malformed input ends in one of these.

Each carries the ETSI sub-indication a report shows for it, so the pipeline
turns an exception into a FORMAT_FAILURE (or another outcome) in one place.
"""

from __future__ import annotations

from trust.errors import InputError
from trust.indications import SubIndication

__all__ = ["CmsFormatError", "OfdFormatError", "PdfFormatError", "VerificationInputError"]


class VerificationInputError(InputError):
    """A file or signature that cannot be read as what it claims to be."""

    code = "verification.input"
    sub_indication = SubIndication.FORMAT_FAILURE


class PdfFormatError(VerificationInputError):
    """Not a PDF, truncated, encrypted, too large, or a malformed signature dictionary."""

    code = "verification.pdf_format"


class CmsFormatError(VerificationInputError):
    """The /Contents value is not a well-formed detached CMS SignedData."""

    code = "verification.cms_format"


class OfdFormatError(VerificationInputError):
    """Not an OFD package, a zip over the limits, or malformed OFD signature XML."""

    code = "verification.ofd_format"
