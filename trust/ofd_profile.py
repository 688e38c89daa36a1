"""SealTrust's OFD licence profile: the names a signer writes and a verifier reads.

Both sides import these (signing and verification never import each other).
Signature.xml is what the seal signs (its SM3 is the signature's dataHash),
so Parameters inside its SignedInfo are as authentic as the signature itself.
See docs/ofd.md.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CHECK_METHOD",
    "PARAM_LICENCE_ID",
    "PARAM_STATUS_INDEX",
    "PARAM_STATUS_LIST",
    "PARAM_VALID_FROM",
    "PARAM_VALID_UNTIL",
    "SEAL_FILE",
    "SIGNATURES_FILE",
    "SIGNATURE_FILE",
    "SIGNED_VALUE_FILE",
]

CHECK_METHOD: Final = "1.2.156.10197.1.401"  # SM3, as GM/T 0099 writes it
SIGNATURES_FILE: Final = "Doc_0/Signs/Signatures.xml"
SIGNATURE_FILE: Final = "Doc_0/Signs/Sign_0/Signature.xml"
SEAL_FILE: Final = "Doc_0/Signs/Sign_0/Seal.esl"
SIGNED_VALUE_FILE: Final = "Doc_0/Signs/Sign_0/SignedValue.dat"
PARAM_LICENCE_ID: Final = "sealtrust.licenceId"
PARAM_STATUS_LIST: Final = "sealtrust.statusList"
PARAM_STATUS_INDEX: Final = "sealtrust.statusIndex"
PARAM_VALID_FROM: Final = "sealtrust.validFrom"
PARAM_VALID_UNTIL: Final = "sealtrust.validUntil"
