"""verification package of SealTrust.

Verification of signed PDF licences: facts once, then checks under a policy at a time.

    >>> from verification import VerificationPolicy, verify_pdf
    >>> report = verify_pdf(b"not a pdf", VerificationPolicy())
    >>> report.indication.value, report.sub_indication.value
    ('TOTAL_FAILED', 'FORMAT_FAILURE')

Licences are judged with a deployment's policy
(``api.routes.verification.deployment_policy``): seal, time-stamp, licence
status (``RegistryStatus`` online, ``ListStatus`` offline) and the trust
list's recognition rules (``SEALTRUST_LICENCE``, ``FOREIGN_PADES``).

The fast path scans the bytes of a licence whose only signature is its last
update; anything unusual goes through pyHanko's full analysis, and both feed
the same checks, so the verdict does not depend on the path taken.
"""

# First: importing it decides, before any compiled module loads (verification/_native.py).
from verification._native import state as native_state
from verification.chain import PkiChainValidator
from verification.engine import judge, verify_files, verify_pdf, verify_pdfs
from verification.extract import extract_facts
from verification.facts import FileFacts, SignatureFacts
from verification.policy import (
    FOREIGN_PADES,
    PLAIN_PADES,
    SEALTRUST_LICENCE,
    ChainResult,
    ChainValidator,
    Recognition,
    RevocationChecker,
    UnsafeNoRevocationCheck,
    VerificationPolicy,
)
from verification.report import FileReport, SignatureReport
from verification.status import LicenceStatusSource, ListStatus, PendingStatus, RegistryStatus

__all__ = [
    "FOREIGN_PADES",
    "PLAIN_PADES",
    "SEALTRUST_LICENCE",
    "ChainResult",
    "ChainValidator",
    "FileFacts",
    "FileReport",
    "LicenceStatusSource",
    "ListStatus",
    "PendingStatus",
    "PkiChainValidator",
    "Recognition",
    "RegistryStatus",
    "RevocationChecker",
    "SignatureFacts",
    "SignatureReport",
    "UnsafeNoRevocationCheck",
    "VerificationPolicy",
    "extract_facts",
    "judge",
    "native_state",
    "verify_files",
    "verify_pdf",
    "verify_pdfs",
]
