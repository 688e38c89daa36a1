"""Seal administration: make a department's GB/T 38540 seal, revoke it, check it for use.

A seal belongs to one department, lists that department's signing
certificates (certList type 1) and is signed by the seal maker. Issuance asks
:func:`usable_seal` first: a revoked, expired, not-yet-valid or foreign seal,
or a signer not in the seal's certList, is refused before anything is signed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from trust import audit
from trust.errors import ConflictError, InputError, NotFoundError
from trust.keys import SigningKey
from trust.pki import Certificate
from trust.registry.db import next_value
from trust.registry.models import Department, SealRecord
from trust.seal import Seal, SealPicture, make_seal, parse_seal, render_seal_png

DEFAULT_CAPTION = "电子证照专用章"


@lru_cache(maxsize=512)
def parsed_seal(der: bytes) -> Seal:
    """Parse a stored seal once per process (seals are immutable; ~160 per province)."""
    return parse_seal(der)


class SealUnusableError(ConflictError):
    """The seal cannot be used for this issuance (revoked, expired, foreign, signer not listed)."""

    code = "seal.unusable"


def make_department_seal(
    session: Session,
    *,
    department_code: str,
    maker_key: SigningKey,
    maker_cert: Certificate,
    signer_certs: Sequence[Certificate],
    valid_start: datetime,
    valid_end: datetime,
    at: datetime,
    actor: str,
    caption: str = DEFAULT_CAPTION,
) -> SealRecord:
    """Make, store and audit a new seal; its esID is the USCC plus a 4-digit sequence."""
    dept = session.get(Department, department_code)
    if dept is None:
        raise NotFoundError(f"no department {department_code!r}")
    if not signer_certs:
        raise InputError(f"department {department_code} has no signing certificate to list")
    foreign = [c.subject_text for c in signer_certs if c.uscc != dept.uscc]
    if foreign:
        raise InputError(f"certificates of another organisation cannot use this seal: {foreign}")
    number = next_value(session, f"seal:{dept.uscc}")
    if number > 9999:
        raise ConflictError(f"department {department_code} has used all 9999 seal numbers")
    es_id = f"{dept.uscc}{number:04d}"
    png = render_seal_png(dept.name, esid=es_id, caption=caption)
    der = make_seal(es_id=es_id, seal_type=1, name=f"{dept.name}{caption}",
                    certificates=[c.der for c in signer_certs], created=at,
                    valid_start=valid_start, valid_end=valid_end,
                    picture=SealPicture("png", png, 42, 42),
                    maker_key=maker_key, maker_cert=maker_cert.der)
    record = SealRecord(es_id=es_id, department_code=department_code, name=dept.name,
                        seal_type=1, der=der, valid_start=valid_start, valid_end=valid_end,
                        created_at=at)
    session.add(record)
    audit.append(session, kind="seal.made", actor=actor, subject=es_id, at=at,
                 details={"department": department_code, "valid_start": valid_start,
                          "valid_end": valid_end,
                          "cert_list": [c.sha256.hex() for c in signer_certs]})
    session.flush()
    return record


def revoke_seal(session: Session, es_id: str, *, reason: str, at: datetime,
                actor: str) -> SealRecord:
    """Revoke a seal for good (no reinstatement)."""
    seal = session.get(SealRecord, es_id, with_for_update=True)
    if seal is None:
        raise NotFoundError(f"no seal {es_id!r}")
    if seal.status == "revoked":
        raise ConflictError(f"seal {es_id} is already revoked")
    if not reason.strip():
        raise InputError("revoking a seal needs a reason")
    seal.status, seal.revoked_at, seal.revoke_reason = "revoked", at, reason
    audit.append(session, kind="seal.revoked", actor=actor, subject=es_id, at=at,
                 details={"reason": reason})
    return seal


def usable_seal(session: Session, es_id: str, *, department_code: str,
                signer_cert: Certificate, at: datetime) -> SealRecord:
    """The seal, if this department may use it now with this signer certificate."""
    seal = session.get(SealRecord, es_id)
    if seal is None:
        raise NotFoundError(f"no seal {es_id!r}")
    if seal.department_code != department_code:
        raise SealUnusableError(f"seal {es_id} belongs to department {seal.department_code}, "
                                f"not {department_code}")
    if seal.status != "active":
        raise SealUnusableError(f"seal {es_id} is {seal.status} ({seal.revoke_reason or ''})")
    if not seal.valid_start <= at <= seal.valid_end:
        raise SealUnusableError(f"seal {es_id} is valid {seal.valid_start:%Y-%m-%d} to "
                                f"{seal.valid_end:%Y-%m-%d}, not at {at:%Y-%m-%d}")
    if not parsed_seal(bytes(seal.der)).lists(signer_cert.der):
        raise SealUnusableError(f"the signing certificate {signer_cert.subject_text} is not in "
                                f"seal {es_id}'s certificate list")
    return seal
