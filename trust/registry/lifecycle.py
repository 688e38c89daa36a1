"""Licence status changes: valid -> superseded | cancelled | revoked | suspended | expired.

Superseded, cancelled and revoked are final; suspended is the one reversible
state (reinstate: suspended -> valid, and only from suspended; or it may
still be cancelled or revoked). Expired (past valid_until, set by the daily
job in :mod:`trust.registry.expiry`) never becomes valid or suspended again,
but may still be revoked, cancelled or superseded (a renewal after expiry).
Each change is one status event and one audit entry in the caller's
transaction, so the status list, the API and the audit log cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from trust import audit
from trust.errors import ConflictError, InputError, NotFoundError
from trust.registry.models import Licence, LicenceEvent


class LicenceStatus(StrEnum):
    VALID = "valid"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"


# Superseded, cancelled and revoked are final. Reinstatement (-> valid) exists only from
# suspended: a "reinstate" can never resurrect a revoked or cancelled licence.
_ALLOWED: Final = {
    LicenceStatus.VALID: {LicenceStatus.SUPERSEDED, LicenceStatus.CANCELLED,
                          LicenceStatus.REVOKED, LicenceStatus.SUSPENDED,
                          LicenceStatus.EXPIRED},
    LicenceStatus.SUSPENDED: {LicenceStatus.VALID, LicenceStatus.CANCELLED,
                              LicenceStatus.REVOKED, LicenceStatus.EXPIRED},
    # an expired licence can still be withdrawn, or replaced by its renewal
    LicenceStatus.EXPIRED: {LicenceStatus.SUPERSEDED, LicenceStatus.CANCELLED,
                            LicenceStatus.REVOKED},
}


def allowed_from(target: LicenceStatus) -> frozenset[str]:
    """The registry states from which ``target`` may be reached."""
    return frozenset(s.value for s, targets in _ALLOWED.items() if target in targets)
# Audit entry kinds; "licence.valid" would not say what happened.
_KIND: Final = {LicenceStatus.VALID: "licence.reinstated"}


class SupersedeMismatchError(ConflictError):
    """The replacement is not a licence of the same holder, type and department."""

    code = "licence.supersede_mismatch"


def _check_replacement(licence: Licence, replacement: Licence) -> None:
    """Threat: an issuer pointing a citizen's licence at someone else's (or another
    department's, or another type's) licence, so that verifiers and the holder app send
    people to a replacement that is not theirs. Holders compare by keyed hash; a licence
    without one (a type naming no holder id) cannot be superseded by reference at all.
    """
    if replacement.status != LicenceStatus.VALID.value:
        raise ConflictError(f"replacement {replacement.id} is {replacement.status}, not valid",
                            code="licence.supersede_mismatch")
    if replacement.type_code != licence.type_code:
        raise SupersedeMismatchError(
            f"replacement {replacement.id} is of type {replacement.type_code}, "
            f"not {licence.type_code}")
    if replacement.department_code != licence.department_code:
        raise SupersedeMismatchError(
            f"replacement {replacement.id} is of department {replacement.department_code}, "
            f"not {licence.department_code}")
    if licence.holder_ref is None or replacement.holder_ref != licence.holder_ref:
        raise SupersedeMismatchError(
            f"replacement {replacement.id} is not a licence of the same holder")


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
    if new_status is LicenceStatus.VALID and current is not LicenceStatus.SUSPENDED:
        raise ConflictError(f"licence {licence_id} is {current}; only a suspended licence can "
                            "be reinstated", code="licence.not_suspended")
    if new_status not in _ALLOWED.get(current, set()):
        raise ConflictError(f"licence {licence_id} is {current}; cannot become {new_status}")
    if superseded_by is not None:
        if superseded_by == licence_id:
            raise InputError("a licence cannot supersede itself")
        _check_replacement(licence, get_licence(session, superseded_by))
        licence.superseded_by = superseded_by
    licence.status = new_status.value
    session.add(LicenceEvent(licence_id=licence_id, at=at, from_status=current.value,
                             to_status=new_status.value, reason=reason))
    kind = _KIND.get(new_status, f"licence.{new_status.value}")
    audit.append(session, kind=kind, actor=actor, subject=licence_id,
                 at=at, details={"from": current.value, "reason": reason,
                                 "superseded_by": superseded_by})
    session.flush()
    return licence


_LICENCES = cast(Table, Licence.__table__)
_STATUS_OF: Final = select(_LICENCES.c.status).where(_LICENCES.c.id == bindparam("id"))
_SET_STATUS_IF: Final = (update(_LICENCES)
                         .where(_LICENCES.c.id == bindparam("b_id"),
                                _LICENCES.c.status == bindparam("b_old"))
                         .values(status=bindparam("b_new")))
_INSERT_EVENT: Final = insert(cast(Table, LicenceEvent.__table__))


def transition_if(
    session: Session,
    licence_id: str,
    new_status: LicenceStatus,
    *,
    from_states: frozenset[str],
    reason: str,
    at: datetime,
    actor: str,
    details: dict[str, object] | None = None,
) -> str | None:
    """Compare-and-set for jobs: move ``licence_id`` to ``new_status`` only if it is in one
    of ``from_states`` *now*, with its event and audit entry; the state it left, or None
    when it was not in one (already changed, by an earlier run or a concurrent one).

    Threat: two job runs (two nodes, a rerun after a crash) both changing one licence and
    writing two events. The UPDATE is conditional on the state just read, so of two
    racing transactions exactly one sees a row changed (PostgreSQL re-checks the WHERE
    after the first commits; SQLite writers are serialised by the caller's write lock).
    """
    if at.tzinfo is None:
        raise InputError("status change time must be timezone-aware")
    if not from_states <= allowed_from(new_status):
        raise InputError(f"cannot move {sorted(from_states)} to {new_status}")
    connection = session.connection()  # Core, prebuilt: jobs run this per licence
    current = connection.execute(_STATUS_OF, {"id": licence_id}).scalar()
    if current is None:
        raise NotFoundError(f"no licence {licence_id!r}")
    if current not in from_states:
        return None
    changed = connection.execute(_SET_STATUS_IF, {"b_id": licence_id, "b_old": current,
                                                  "b_new": new_status.value})
    if getattr(changed, "rowcount", 0) != 1:
        return None  # another transaction changed it between the read and the update
    connection.execute(_INSERT_EVENT, {"licence_id": licence_id, "at": at,
                                       "from_status": current,
                                       "to_status": new_status.value, "reason": reason})
    audit.append(session, kind=f"licence.{new_status.value}", actor=actor, subject=licence_id,
                 at=at, details={"from": current, "reason": reason, **(details or {})})
    return str(current)


def history(session: Session, licence_id: str) -> list[LicenceEvent]:
    get_licence(session, licence_id)
    return list(session.execute(
        select(LicenceEvent).where(LicenceEvent.licence_id == licence_id).order_by(
            LicenceEvent.id)).scalars())
