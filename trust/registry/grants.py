"""授权用证: a holder grants one named counter scoped, time-limited access, redeemed once.

The grant id rides in the presentation QR; the counter redeems it online and
receives exactly the granted fields for form filling. Creation and redemption
each append an audit entry in the caller's transaction, so a grant can never
exist (or be spent) without its record. Redemption is one conditional UPDATE
(``redeemed_at IS NULL``): two counters, or two nodes, can never both spend it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.orm import Session

from trust import audit
from trust.errors import ConflictError, InputError, NotFoundError
from trust.registry.models import Grant as GrantRow
from trust.registry.models import Licence
from trust.registry.sealed import licence_record
from trust.token import Grant

__all__ = [
    "MAX_GRANT_LIFETIME",
    "GrantError",
    "GrantVerifierError",
    "Redemption",
    "create_grant",
    "redeem_grant",
]

MAX_GRANT_LIFETIME: Final = timedelta(hours=24)


class GrantError(ConflictError):
    """The grant cannot be redeemed (expired, already redeemed, licence no longer valid)."""

    code = "grant.unusable"


class GrantVerifierError(GrantError):
    """The grant names another counter than the one redeeming it."""

    code = "grant.wrong_verifier"


@dataclass(frozen=True, slots=True)
class Redemption:
    """What the counter receives: the granted fields of one licence."""

    grant_id: str
    licence_id: str
    licence_type: str
    fields: dict[str, Any]
    redeemed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"grant_id": self.grant_id, "licence_id": self.licence_id,
                "licence_type": self.licence_type, "fields": self.fields,
                "redeemed_at": self.redeemed_at.isoformat()}


def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"{what} must be a timezone-aware datetime", code="input.naive_datetime")
    return moment


def _valid_licence(session: Session, licence_id: str) -> Licence:
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise NotFoundError(f"no licence {licence_id!r}", code="licence.not_found")
    if licence.status != "valid":
        raise GrantError(f"licence {licence_id} is {licence.status}",
                         code="grant.licence_not_valid")
    return licence


def create_grant(
    session: Session,
    *,
    licence_id: str,
    verifier_id: str,
    scope: Sequence[str],
    expires_at: datetime,
    at: datetime,
    actor: str,
) -> Grant:
    """Record a grant of ``scope`` fields of a valid licence to ``verifier_id``.

    Only fields the licence record has may be granted, so a counter is never
    promised data that does not exist; the lifetime is capped at a day.
    """
    at, expires_at = _aware(at, "at"), _aware(expires_at, "expires_at")
    if not at < expires_at <= at + MAX_GRANT_LIFETIME:
        raise InputError(f"a grant must expire within {MAX_GRANT_LIFETIME} of its creation",
                         code="grant.lifetime")
    licence = _valid_licence(session, licence_id)
    fields = tuple(dict.fromkeys(scope))
    holder = licence_record(session, licence).holder
    unknown = [f for f in fields if f not in holder]
    if unknown:
        raise InputError(f"licence {licence_id} has no field(s) {', '.join(unknown)}",
                         code="grant.scope")
    grant = Grant(verifier_id, fields, expires_at, secrets.token_bytes(12))  # checks shapes
    session.add(GrantRow(id=grant.grant_id.hex(), licence_id=licence_id, verifier_id=verifier_id,
                         scope=",".join(fields), expires_at=grant.expires_at, created_at=at))
    audit.append(session, kind="grant.created", actor=actor, subject=licence_id, at=at,
                 details={"grant_id": grant.grant_id.hex(), "verifier_id": verifier_id,
                          "scope": list(fields), "expires_at": grant.expires_at.isoformat()})
    session.flush()
    return grant


def redeem_grant(
    session: Session, grant_id: str, *, verifier_id: str, at: datetime, actor: str
) -> Redemption:
    """Spend a grant once, for the counter it names, before it expires."""
    at = _aware(at, "at")
    row = session.get(GrantRow, grant_id.lower()) if len(grant_id) <= 64 else None
    if row is None:
        raise NotFoundError(f"no grant {grant_id[:64]!r}", code="grant.not_found")
    if row.verifier_id != verifier_id:
        raise GrantVerifierError(f"grant {row.id} is for another counter")
    if at > row.expires_at:
        raise GrantError(f"grant {row.id} expired at {row.expires_at.isoformat()}",
                         code="grant.expired")
    if row.licence_id is None:
        # A service grant fills that service's form (POST /v1/services/{code}/fill); the
        # raw-field redemption would hand its fields over without the service's verification.
        raise GrantError(f"grant {row.id} is for service {row.service_code}; fill its form",
                         code="grant.service_grant")
    licence = _valid_licence(session, row.licence_id)
    spent = session.execute(
        update(GrantRow).where(GrantRow.id == row.id, GrantRow.redeemed_at.is_(None))
        .values(redeemed_at=at).execution_options(synchronize_session=False))
    if getattr(spent, "rowcount", 0) != 1:
        raise GrantError(f"grant {row.id} was already redeemed", code="grant.redeemed")
    scope = [f for f in row.scope.split(",") if f]
    holder = licence_record(session, licence).holder
    fields = {f: holder[f] for f in scope if f in holder}
    audit.append(session, kind="grant.redeemed", actor=actor, subject=licence.id, at=at,
                 details={"grant_id": row.id, "verifier_id": verifier_id, "scope": scope})
    session.flush()
    return Redemption(row.id, licence.id, licence.type_code, fields, at)


def record_refusal(
    session: Session, grant_id: str, *, verifier_id: str, at: datetime, actor: str,
    error: GrantError,
) -> bool:
    """Audit a refused redemption of an existing grant (in its own transaction).

    The refusal rolls the redeeming transaction back, so the caller records it
    in a fresh one: a counter probing grants meant for others, or spending one
    twice, leaves a trace. Unknown grant ids are not recorded (nothing to tie
    them to, and they would let anyone fill the log). Returns whether it wrote.
    """
    row = session.get(GrantRow, grant_id.lower()) if len(grant_id) <= 64 else None
    if row is None:
        return False
    audit.append(session, kind="grant.refused", actor=actor,
                 subject=row.licence_id or row.holder_ref or row.id,
                 at=_aware(at, "at"),
                 details={"grant_id": row.id, "verifier_id": verifier_id, "reason": error.code})
    session.flush()
    return True
