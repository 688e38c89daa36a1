"""Licence binding: who may sign a licence, when it is valid, and which bytes were issued.

A signature that verifies and chains to a trusted root proves only that *some*
department signed. A licence promises more: that the department named in its
id issued it (the id's USCC, the signer certificate's organisation and the
seal's owner are one department), that it is valid at the validation time
(the period signed into the CMS), and, when the registry is consulted, that
the file is byte for byte the one registered at issuance. Each function
returns one Check; the threat each stops is written next to it.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Final

from trust.indications import Check, Indication, SubIndication
from trust.licence_id import LicenceIdError, is_valid_uscc
from verification.certinfo import cert_info
from verification.facts import SignatureFacts
from verification.policy import Recognition
from verification.status import parsed_licence_id

__all__ = ["licence_binding", "licence_validity", "seal_owner"]

_PASS: Final = Indication.TOTAL_PASSED
_FAIL: Final = Indication.TOTAL_FAILED
_UNSURE: Final = Indication.INDETERMINATE
_USCC_LENGTH: Final = 18


def seal_owner(es_id: str | None) -> str | None:
    """The USCC a seal belongs to: its esID is the owner's USCC plus a sequence
    (``signing.seals``); None when the esID does not start with a valid USCC."""
    if es_id is None or len(es_id) < _USCC_LENGTH:
        return None
    owner = es_id[:_USCC_LENGTH]
    return owner if is_valid_uscc(owner) else None


def licence_binding(f: SignatureFacts, licence_id: str) -> Check:
    """One department: the licence id's issuing authority, the signer's organisation and
    the seal's owner, for every signature of a licence file.

    Threat: department A's genuine key and seal sign a PDF that carries department B's
    genuine licence id (a cross-department forgery), or add a second genuine signature
    to B's licence. Each signature, chain and seal is valid on its own; only this check
    ties them to the licence. A party that cannot be named is not assumed to match.
    """
    parsed = parsed_licence_id(licence_id)
    if isinstance(parsed, LicenceIdError):
        return Check("licence_binding", _FAIL, SubIndication.SIG_CONSTRAINTS_FAILURE,
                     f"licence id {licence_id!r} is malformed: {parsed.message}")
    if f.licence_id is not None and f.licence_id.strip().upper() != parsed.text:
        # Threat: one file presenting two licences, so a reader sees the one it looks for.
        return Check("licence_binding", _FAIL, SubIndication.SIG_CONSTRAINTS_FAILURE,
                     f"this signature carries licence {f.licence_id}, the file is licence "
                     f"{parsed.text}")
    authority = parsed.authority
    info = None if f.signer_cert is None else cert_info(f.signer_cert)
    signer = None if info is None else info.uscc
    who = "?" if info is None else info.subject
    if info is not None and signer != authority:
        if signer is None:
            return Check("licence_binding", _UNSURE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                         f"licence {parsed.text} is issued by {authority}; the signer "
                         f"certificate ({who}) names no organisation USCC")
        return Check("licence_binding", _FAIL, SubIndication.SIG_CONSTRAINTS_FAILURE,
                     f"licence {parsed.text} is issued by {authority}, but signed by {who} "
                     f"of organisation {signer}")
    if f.seal is not None:
        owner = seal_owner(f.seal)
        if owner is None:
            return Check("licence_binding", _UNSURE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                         f"licence {parsed.text} is issued by {authority}; seal {f.seal} "
                         "does not name its owner's USCC")
        if owner != authority:
            return Check("licence_binding", _FAIL, SubIndication.SIG_CONSTRAINTS_FAILURE,
                         f"licence {parsed.text} is issued by {authority}, but sealed with "
                         f"seal {f.seal} of organisation {owner}")
    if info is None:
        return Check("licence_binding", _UNSURE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                     f"licence {parsed.text}: no signer certificate to compare")
    return _bound(authority, f.seal is not None)


@lru_cache(maxsize=256)
def _bound(authority: str, sealed: bool) -> Check:
    """The passed check, shared (immutable) by every licence of one department."""
    return Check("licence_binding", _PASS, None,
                 "licence issuer, signer organisation"
                 + (" and seal owner" if sealed else "") + f" are {authority}")


def licence_validity(f: SignatureFacts, rule: Recognition | None, at: datetime) -> Check | None:
    """The licence's validity period (signed into the CMS) at the validation time.

    Threat: an expired licence (or one not yet in force) shown at a counter, whose
    signature, seal and status are all still good: status lists and the registry
    record revocation, not the end of a validity period. NOT_YET_VALID is
    INDETERMINATE (a wrong clock is the likelier cause), EXPIRED is TOTAL_FAILED,
    as for QR codes (trust.token.verify).
    """
    if f.licence_id is None:
        return None
    if f.valid_from is None:
        if rule is not None and not rule.require_licence_status:
            return None  # a foreign signature that carries an id but no period
        # Threat: a licence stripped of its period (or issued before it was signed in)
        # would pass as valid forever.
        return Check("licence_validity", _UNSURE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                     f"{f.licence_id}: no validity period is signed into this licence")
    if at < f.valid_from:
        return Check("licence_validity", _UNSURE, SubIndication.NOT_YET_VALID,
                     f"{f.licence_id}: valid from {f.valid_from.isoformat()}, after the "
                     f"validation time {at.isoformat()}")
    if f.valid_until is not None and at >= f.valid_until:
        return Check("licence_validity", _FAIL, SubIndication.EXPIRED,
                     f"{f.licence_id}: validity ended at {f.valid_until.isoformat()}, before "
                     f"the validation time {at.isoformat()}")
    until = "no end" if f.valid_until is None else f"until {f.valid_until.isoformat()}"
    return Check("licence_validity", _PASS, None,
                 f"valid from {f.valid_from.isoformat()}, {until}")
