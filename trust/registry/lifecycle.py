"""Licence status changes: valid -> superseded | cancelled | revoked, never back.

Each change is one status event and one audit entry in the caller's
transaction, so the status list, the API and the audit log cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from trust import audit
from trust.errors import ConflictError, InputError, NotFoundError
from trust.registry.models import Licence, LicenceEvent


class LicenceStatus(StrEnum):
    VALID = "valid"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    REVOKED = "revoked"


# Only a valid licence changes status; every other status is final.
_ALLOWED: Final = {
    LicenceStatus.VALID: {LicenceStatus.SUPERSEDED, LicenceStatus.CANCELLED,
                          LicenceStatus.REVOKED},
}


def get_licence(session: Session, licence_id: str, *, for_update: bool = False) -> Licence:
    stmt = select(Licence).where(Licence.id == licence_id)
    if for_update:
        stmt = stmt.with_for_update()
    licence = session.execute(stmt).scalar()
    if licence is None:
        raise NotFoundError(f"no licence {licence_id!r}")
    return licence


def change_status(
    session: Session,
    licence_id: str,
    new_status: LicenceStatus,
    *,
    reason: str,
    at: datetime,
    actor: str,
    superseded_by: str | None = None,
) -> Licence:
    """Apply one status transition, recording an event and an audit entry."""
    if at.tzinfo is None:
        raise InputError("status change time must be timezone-aware")
    if not reason.strip():
        raise InputError("a status change needs a reason")
    if (new_status is LicenceStatus.SUPERSEDED) != (superseded_by is not None):
        raise InputError("superseded_by is required for, and only for, supersede")
    licence = get_licence(session, licence_id, for_update=True)
    current = LicenceStatus(licence.status)
    if new_status not in _ALLOWED.get(current, set()):
        raise ConflictError(f"licence {licence_id} is {current}; cannot become {new_status}")
    if superseded_by is not None:
        if superseded_by == licence_id:
            raise InputError("a licence cannot supersede itself")
        get_licence(session, superseded_by)
        licence.superseded_by = superseded_by
    licence.status = new_status.value
    session.add(LicenceEvent(licence_id=licence_id, at=at, from_status=current.value,
                             to_status=new_status.value, reason=reason))
    audit.append(session, kind=f"licence.{new_status.value}", actor=actor, subject=licence_id,
                 at=at, details={"from": current.value, "reason": reason,
                                 "superseded_by": superseded_by})
    session.flush()
    return licence


def history(session: Session, licence_id: str) -> list[LicenceEvent]:
    get_licence(session, licence_id)
    return list(session.execute(
        select(LicenceEvent).where(LicenceEvent.licence_id == licence_id).order_by(
            LicenceEvent.id)).scalars())
