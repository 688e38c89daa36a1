"""Holder notifications as outbox items (topic ``notify``), written in the caller's transaction.

A notification says *that* something happened to a licence (issued for a
case, about to expire, renewed, revoked), never what the licence says: the
payload carries the holder's reference (trust.holder_ref), the licence id and
the case code. The notifier that delivers it (api.notify) looks up nothing
personal either; the holder app resolves the reference to a person.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from trust.errors import InputError
from trust.registry import outbox

__all__ = ["KINDS", "TOPIC", "enqueue_notification"]

TOPIC: Final = "notify"
# What may be said to a holder; a closed list so no caller invents a kind that leaks content.
KINDS: Final = frozenset({"licence.issued", "licence.expiring", "licence.expired",
                          "licence.renewed", "licence.revoked", "licence.cancelled",
                          "licence.suspended"})
_REF: Final = re.compile(r"[0-9a-f]{64}")
_TOKEN: Final = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def enqueue_notification(session: Session, *, kind: str, holder_ref: str, licence_id: str,
                         dedupe_key: str, case_code: str | None = None,
                         at: datetime) -> bool:
    """Queue one notification; False when ``dedupe_key`` was queued before (idempotent jobs).

    Threat (personal data): the payload is checked to be references only - a
    holder ref is 64 hex digits (an ID number is not), a licence id and a
    case code are short tokens - so a caller passing a name or an ID number
    by mistake gets an error, not a leak into the outbox and the webhook.
    """
    if kind not in KINDS:
        raise InputError(f"unknown notification kind {kind!r}", code="notify.kind")
    if not _REF.fullmatch(holder_ref):
        raise InputError("a notification names the holder by holder_ref (64 hex digits)",
                         code="notify.holder_ref")
    if not _TOKEN.fullmatch(licence_id):
        raise InputError("a notification names one licence id", code="notify.licence_id")
    if case_code is not None and not _TOKEN.fullmatch(case_code):
        raise InputError("a case code is 1..64 letters, digits or ._:-", code="notify.case_code")
    if at.tzinfo is None:
        raise InputError("notification times must be timezone-aware", code="input.naive_datetime")
    payload = {"kind": kind, "holder_ref": holder_ref, "licence_id": licence_id,
               "case_code": case_code, "at": at.isoformat()}
    return outbox.enqueue(session, topic=TOPIC, dedupe_key=f"{TOPIC}:{dedupe_key}",
                          payload=payload, at=at)
