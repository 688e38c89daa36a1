"""Typed errors of PDF sealing, each with a stable code."""

from __future__ import annotations

from trust.errors import ConflictError, CryptoError, InputError

__all__ = ["CertificateChainError", "FieldInUseError", "MalformedPdfError", "SealingError"]


class MalformedPdfError(InputError):
    """The input is not a PDF pyHanko can append a signature to."""

    code = "pdf_seal.malformed_pdf"


class CertificateChainError(InputError):
    """The certificate chain is malformed or does not belong to the key."""

    code = "pdf_seal.bad_chain"


class SealingError(CryptoError):
    """Signing failed after the input was accepted (key, TSA, reserved space)."""

    code = "pdf_seal.failed"


class FieldInUseError(ConflictError):
    """The named signature field is already signed (pick another name for a second signature)."""

    code = "pdf_seal.field_in_use"
