"""一证通办: a holder grants one counter the fields one service's form needs, across licences.

The scope is computed by the caller from the service definition (type code ->
the fields its form reads) and is exactly what the holder saw in the consent
view: the consent digest binds the grant to that view, so a licence issued,
revoked or a counter renamed between showing and consenting makes the holder
look again instead of granting something unseen. Redemption is one conditional
UPDATE, by the counter the grant names, for the service it names, before it
expires; creation and redemption are audit entries whose subject is the
holder's keyed reference, which is how the wallet finds "who fetched what".
Audit details carry licence ids, type codes and field names, never values.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from trust import audit
from trust.errors import InputError, NotFoundError
from trust.registry.grants import MAX_GRANT_LIFETIME, GrantError, GrantVerifierError
from trust.registry.models import AuditEntry, GrantLicence, Licence
from trust.registry.models import Grant as GrantRow
from trust.registry.sealed import licence_record

__all__ = [
    "FETCH_KINDS",
    "ConsentItem",
    "RedeemedLicence",
    "ServiceRedemption",
    "consent_digest",
    "consent_items",
    "create_service_grant",
    "fetch_history",
    "redeem_service_grant",
    "valid_holder_licences",
]

GRANT_ID_BYTES: Final = 12
FETCH_KINDS: Final = ("grant.redeemed", "grant.refused")
MAX_HISTORY: Final = 200


@dataclass(frozen=True, slots=True)
class ConsentItem:
    """One licence the grant would open, and which of its fields."""

    licence_id: str
    type_code: str
    fields: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"licence_id": self.licence_id, "type": self.type_code,
                "fields": list(self.fields)}


@dataclass(frozen=True, slots=True)
class RedeemedLicence:
    """A granted licence as the counter receives it: the record restricted to the grant."""

    licence_id: str
    type_code: str
    usable: bool  # valid in the registry and within its validity at redemption
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServiceRedemption:
    grant_id: str
    service_code: str
    service_version: int
    holder_ref: str
    licences: tuple[RedeemedLicence, ...]
    redeemed_at: datetime


def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"{what} must be a timezone-aware datetime", code="input.naive_datetime")
    return moment


def _usable(licence: Licence, at: datetime) -> bool:
    """Valid in the registry and within its validity period at ``at``."""
    if licence.status != "valid":
        return False
    end = licence.valid_to  # the registry hands back aware UTC datetimes (UTCDateTime)
    return licence.valid_from <= at and (end is None or at < end)


def valid_holder_licences(session: Session, holder_ref: str, at: datetime) -> list[Licence]:
    """The holder's licences that are valid at ``at``, newest first, across departments."""
    at = _aware(at, "at")
    rows = session.execute(
        select(Licence).where(Licence.holder_ref == holder_ref, Licence.status == "valid")
        .order_by(Licence.issued_at.desc(), Licence.id)).scalars()
    return [r for r in rows if _usable(r, at)]


def consent_items(
    session: Session, *, holder_ref: str, scope: Mapping[str, frozenset[str]], at: datetime,
) -> tuple[list[ConsentItem], list[str]]:
    """The licences (newest valid one per needed type) and fields a grant would open.

    A type whose fields set is empty is still granted: the service only needs
    to see that a valid licence of it exists. Returns the items and the needed
    types the holder has no valid licence of.
    """
    newest: dict[str, Licence] = {}
    for licence in valid_holder_licences(session, holder_ref, at):
        if licence.type_code in scope:
            newest.setdefault(licence.type_code, licence)
    items = [ConsentItem(newest[t].id, t, tuple(sorted(scope[t])))
             for t in sorted(scope) if t in newest]
    return items, sorted(t for t in scope if t not in newest)


def consent_digest(*, service_code: str, service_version: int, verifier_id: str, ttl_s: int,
                   items: Sequence[ConsentItem]) -> str:
    """SHA-256 of what the holder is shown; consenting repeats it, so nothing unseen is granted."""
    doc = {"service": service_code, "version": service_version, "verifier": verifier_id,
           "ttl_s": ttl_s, "items": [i.to_dict() for i in items]}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def create_service_grant(
    session: Session,
    *,
    holder_ref: str,
    service_code: str,
    service_version: int,
    items: Sequence[ConsentItem],
    verifier_id: str,
    expires_at: datetime,
    at: datetime,
    actor: str,
) -> str:
    """Record a grant of ``items`` to ``verifier_id`` for one service; returns the grant id."""
    at, expires_at = _aware(at, "at"), _aware(expires_at, "expires_at")
    if not at < expires_at <= at + MAX_GRANT_LIFETIME:
        raise InputError(f"a grant must expire within {MAX_GRANT_LIFETIME} of its creation",
                         code="grant.lifetime")
    if not items:
        raise GrantError("the holder has no valid licence this service needs",
                         code="grant.nothing_to_grant")
    if not verifier_id or len(verifier_id) > 64:
        raise InputError("a grant names one counter (client id, 1..64 characters)",
                         code="grant.verifier")
    for item in items:
        licence = session.get(Licence, item.licence_id)
        # Threat: granting another holder's licence, or one no longer valid.
        if licence is None or licence.holder_ref != holder_ref:
            raise NotFoundError(f"no licence {item.licence_id!r}", code="licence.not_found")
        if not _usable(licence, at):
            raise GrantError(f"licence {licence.id} is not valid", code="grant.licence_not_valid")
    grant_id = secrets.token_bytes(GRANT_ID_BYTES).hex()
    session.add(GrantRow(id=grant_id, licence_id=None, verifier_id=verifier_id, scope="",
                         expires_at=expires_at, created_at=at, service_code=service_code,
                         service_version=service_version, holder_ref=holder_ref))
    session.flush()
    for item in items:
        session.add(GrantLicence(grant_id=grant_id, licence_id=item.licence_id,
                                 type_code=item.type_code, scope=",".join(item.fields)))
    audit.append(session, kind="grant.created", actor=actor, subject=holder_ref, at=at,
                 details={"grant_id": grant_id, "verifier_id": verifier_id,
                          "service": service_code, "service_version": service_version,
                          "licences": [i.to_dict() for i in items],
                          "expires_at": expires_at.isoformat()})
    session.flush()
    return grant_id


def redeem_service_grant(
    session: Session, grant_id: str, *, service_code: str, service_version: int,
    verifier_id: str, at: datetime, actor: str,
) -> ServiceRedemption:
    """Spend a service grant once, for its service and counter, before it expires."""
    at = _aware(at, "at")
    row = session.get(GrantRow, grant_id.lower()) if 0 < len(grant_id) <= 64 else None
    if row is None:
        raise NotFoundError(f"no grant {grant_id[:64]!r}", code="grant.not_found")
    if row.service_code is None or row.holder_ref is None:
        raise GrantError(f"grant {row.id} is a one-licence grant, not a service grant",
                         code="grant.not_a_service_grant")
    # Threat: a grant consented for one service used to fill another service's form.
    if row.service_code != service_code:
        raise GrantError(f"grant {row.id} is for service {row.service_code}",
                         code="grant.wrong_service")
    if row.verifier_id != verifier_id:
        raise GrantVerifierError(f"grant {row.id} is for another counter")
    if at > row.expires_at:
        raise GrantError(f"grant {row.id} expired at {row.expires_at.isoformat()}",
                         code="grant.expired")
    # The holder consented to one version of the form; a changed service asks again.
    if row.service_version != service_version:
        raise GrantError(f"service {service_code} changed since the grant; ask the holder again",
                         code="grant.service_changed")
    spent = session.execute(
        update(GrantRow).where(GrantRow.id == row.id, GrantRow.redeemed_at.is_(None))
        .values(redeemed_at=at).execution_options(synchronize_session=False))
    if getattr(spent, "rowcount", 0) != 1:
        raise GrantError(f"grant {row.id} was already redeemed", code="grant.redeemed")
    parts = session.execute(select(GrantLicence).where(GrantLicence.grant_id == row.id)
                            .order_by(GrantLicence.type_code)).scalars().all()
    out: list[RedeemedLicence] = []
    for part in parts:
        licence = session.get(Licence, part.licence_id)
        if licence is None:  # FK makes this impossible; fail closed all the same
            raise GrantError(f"licence {part.licence_id} is gone", code="grant.licence_not_valid")
        fields = [f for f in part.scope.split(",") if f]
        # A licence revoked or expired since the grant is still named (the counter must
        # know) but hands over nothing.
        record: dict[str, Any] = {}
        if _usable(licence, at):
            holder = licence_record(session, licence).holder
            record = {f: holder[f] for f in fields if f in holder}
        out.append(RedeemedLicence(licence.id, part.type_code, _usable(licence, at), record))
    audit.append(session, kind="grant.redeemed", actor=actor, subject=row.holder_ref, at=at,
                 details={"grant_id": row.id, "verifier_id": verifier_id,
                          "service": service_code,
                          "licences": [{"licence_id": p.licence_id, "type": p.type_code,
                                        "fields": [f for f in p.scope.split(",") if f]}
                                       for p in parts]})
    session.flush()
    return ServiceRedemption(row.id, service_code, service_version, row.holder_ref, tuple(out),
                             at)


def fetch_history(session: Session, holder_ref: str, *,
                  limit: int = MAX_HISTORY) -> list[dict[str, Any]]:
    """Who fetched (or tried to fetch) this holder's licences through grants, newest first.

    Read from the signed audit documents, not the editable columns. Service
    grants are logged under the holder's reference, one-licence grants under
    the licence id; both are matched against this holder only, so no other
    holder's entry can appear.
    """
    own = select(Licence.id).where(Licence.holder_ref == holder_ref)
    rows = session.execute(
        select(AuditEntry.canonical).where(
            AuditEntry.kind.in_(FETCH_KINDS),
            or_(AuditEntry.subject == holder_ref, AuditEntry.subject.in_(own)))
        .order_by(AuditEntry.seq.desc()).limit(limit)).scalars()
    out: list[dict[str, Any]] = []
    for body in rows:
        entry = audit.entry_fields(body)
        details = entry["details"]
        if "licences" in details:
            licences = details["licences"]
        else:  # a one-licence grant
            licences = [{"licence_id": entry["subject"], "type": None,
                         "fields": details.get("scope", [])}]
        out.append({"seq": entry["seq"], "at": entry["at"].isoformat(),
                    "kind": entry["kind"], "counter": details.get("verifier_id"),
                    "service": details.get("service"), "grant_id": details.get("grant_id"),
                    "reason": details.get("reason"), "licences": licences})
    return out
