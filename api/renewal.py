"""Renewal (换证): a new licence of the same type and holder that supersedes the old one.

One transaction: the new licence is issued (under the type's current version),
the old one becomes ``superseded`` pointing at it, a ``licence.renewed`` audit
entry links the two and the holder is notified; if any step fails nothing is
stored. The old licence may be valid, suspended or already expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from api.deployment import Deployment
from api.issuance import issue_one
from trust import audit
from trust.errors import ConflictError
from trust.registry.db import begin_write
from trust.registry.holder_notices import notify_change
from trust.registry.lifecycle import LicenceStatus, allowed_from, change_status, get_licence
from trust.registry.sealed import licence_file

__all__ = ["RENEWABLE", "RenewalHolderMismatchError", "Renewed", "renew_licence"]

RENEWABLE: Final = allowed_from(LicenceStatus.SUPERSEDED)  # valid, suspended, expired


class RenewalHolderMismatchError(ConflictError):
    """The new record names another holder than the licence it would renew."""

    code = "licence.renewal_holder_mismatch"


class NotRenewableError(ConflictError):
    """The licence has ended in a way renewal cannot follow (revoked, cancelled, superseded)."""

    code = "licence.not_renewable"


@dataclass(frozen=True, slots=True)
class Renewed:
    old_id: str
    licence_id: str
    type_code: str
    file_sm3: str

    def to_json(self) -> dict[str, Any]:
        return {"renewed": self.old_id, "licence_id": self.licence_id, "type": self.type_code,
                "file_sm3": self.file_sm3, "download": f"/v1/licences/{self.licence_id}/pdf"}


def renew_licence(
    deployment: Deployment, session: Session, licence_id: str, record: Mapping[str, Any], *,
    actor: str, at: datetime, alg: str = "sm2", file_format: str | None = None,
    reason: str = "renewed (换证)", heads: audit.HeadSchedule | None = None,
) -> Renewed:
    """Renew ``licence_id`` with ``record`` inside ``session``'s transaction.

    ``file_format`` defaults to the old licence's (PDF or OFD). Raises
    :class:`RenewalHolderMismatchError` before anything is issued when the
    record's holder is not the licence's holder.
    """
    # SQLite: take the write lock first, so the counters are taken in this transaction and
    # the old licence cannot change between the checks and the supersede.
    begin_write(session)
    old = get_licence(session, licence_id, for_update=True)
    if old.status not in RENEWABLE:
        raise NotRenewableError(
            f"licence {licence_id} is {old.status}; only a valid, suspended or expired "
            f"licence can be renewed (证照状态为 {old.status}，不能换证)")
    context = deployment.issuer_context()
    licence_type = context.types.get(old.type_code)
    # Threat: a renewal that hands one person's licence history to another (the old
    # licence would point at a stranger's licence). Compared by keyed hash, before
    # anything is signed or stored; no identifier appears in the message.
    new_ref = context.holder_ref(licence_type, record)
    if old.holder_ref is None or new_ref != old.holder_ref:
        raise RenewalHolderMismatchError(
            f"the record's holder is not the holder of licence {licence_id}; a renewal must "
            f"name the same holder (换证记录的持证人与原证照不一致)")
    if file_format is None:
        file_format = "ofd" if licence_file(session, licence_id)[:4] == b"PK\x03\x04" else "pdf"
    issued = issue_one(deployment, session, type_code=old.type_code, record=record,
                       department=old.department_code, alg=alg, actor=actor, at=at,
                       heads=heads, file_format=file_format,
                       idempotency_key=f"renew:{licence_id}")
    if issued.reused:  # the key is unique per old licence; reaching it twice is a conflict
        raise NotRenewableError(f"licence {licence_id} was already renewed as "
                                f"{issued.licence_id}")
    change_status(session, licence_id, LicenceStatus.SUPERSEDED, reason=reason, at=at,
                  actor=actor, superseded_by=issued.licence_id)
    audit.append(session, kind="licence.renewed", actor=actor, subject=issued.licence_id,
                 at=at, details={"renews": licence_id, "type": old.type_code,
                                 "department": old.department_code})
    notify_change(session, "licence.renewed", [issued.licence_id], at)
    audit.sign_pending(session, deployment.key("audit"), at, heads)
    return Renewed(licence_id, issued.licence_id, issued.type_code, issued.file_sm3)
