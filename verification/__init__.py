"""verification package of SealTrust.

Verification of signed PDF licences: facts once, then checks under a policy at a time.

    >>> from verification import VerificationPolicy, verify_pdf
    >>> report = verify_pdf(b"not a pdf", VerificationPolicy())
    >>> report.indication.value, report.sub_indication.value
    ('TOTAL_FAILED', 'FORMAT_FAILURE')

The fast path scans the bytes of a licence whose only signature is its last
update; anything unusual goes through pyHanko's full analysis, and both feed
the same checks, so the verdict does not depend on the path taken.
"""

from verification.chain import PkiChainValidator
from verification.engine import judge, verify_files, verify_pdf
from verification.extract import extract_facts
from verification.facts import FileFacts, SignatureFacts
from verification.policy import (
    ChainResult,
    ChainValidator,
    RevocationChecker,
    UnsafeNoRevocationCheck,
    VerificationPolicy,
)
from verification.report import FileReport, SignatureReport

__all__ = [
    "ChainResult",
    "ChainValidator",
    "FileFacts",
    "FileReport",
    "PkiChainValidator",
    "RevocationChecker",
    "SignatureFacts",
    "SignatureReport",
    "UnsafeNoRevocationCheck",
    "VerificationPolicy",
    "extract_facts",
    "judge",
    "verify_files",
    "verify_pdf",
]
