"""Approved cases (办件): accepted once by case code, issued through the outbox, looked up later.

Accepting a case writes, in one transaction, the case row (with the records
to issue sealed under a data key of its own, like a licence record), an
outbox item of topic ``case.issue`` naming only the case code, and an audit
entry. So an approved case exists exactly when its issuance job does; a
worker (api.cases) issues the licences, marks the case issued and clears
the sealed records in the transaction that completes the item.

Idempotency: the case code is the primary key and the event's canonical SM3
is stored. The same event again (a retry after a lost answer) finds the row
and answers it; a different event under the same code is a conflict (409),
never a silent second issuance or an overwrite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trust import audit, envelope
from trust.errors import ConflictError, InputError, NotFoundError
from trust.registry import outbox
from trust.registry.db import begin_write
from trust.registry.models import Case
from trust.registry.sealed import DataKeyUnavailableError, data_keys_of

__all__ = [
    "CASE_CODE",
    "TOPIC",
    "CaseConflictError",
    "CaseState",
    "PendingLicence",
    "accept_case",
    "case_not_found",
    "fail_case",
    "get_case",
    "mark_issued",
    "pending_licences",
]

TOPIC: Final = "case.issue"
PENDING_COLUMN: Final = "cases.pending"
# 办件编码: provincial formats differ (region + date + sequence, with or without separators);
# a bounded token that is safe in a URL path, a log line and an outbox key.
CASE_CODE: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z._\-]{5,63}")
MAX_LICENCES: Final = 10


class CaseState(StrEnum):
    ACCEPTED = "accepted"  # the issuance job is queued or running
    ISSUED = "issued"
    FAILED = "failed"  # the records could not be issued (reason: an error code)


class CaseConflictError(ConflictError):
    """The case code was accepted before with a different event (HTTP 409)."""

    code = "case.conflict"


@dataclass(frozen=True, slots=True)
class PendingLicence:
    """One licence a case produces: its type, the record, and the file format."""

    type_code: str
    record: Mapping[str, Any]
    file_format: str = "pdf"


def case_not_found(case_code: str) -> NotFoundError:
    """The one answer for unknown cases and cases the caller may not see (no oracle)."""
    return NotFoundError(f"no case {case_code[:64]!r}", code="case.not_found")


def _check_code(case_code: str) -> str:
    if not isinstance(case_code, str) or not CASE_CODE.fullmatch(case_code):
        raise InputError("a case code (办件编码) has 6..64 letters, digits or ._- characters",
                         code="case.code")
    return case_code


def _seal_pending(session: Session, case_code: str,
                  licences: Sequence[PendingLicence]) -> dict[str, Any]:
    """The records to issue, sealed (SM4-GCM under a fresh data key) when the registry seals.

    Threat: the records are personal data waiting in the database between
    acceptance and issuance; stored like licence records, a copy of the
    database does not reveal them, and they are cleared once issued.
    """
    plain = json.dumps([{"type": p.type_code, "record": dict(p.record), "format": p.file_format}
                        for p in licences], ensure_ascii=False, sort_keys=True,
                       separators=(",", ":"), default=str).encode("utf-8")
    keys = data_keys_of(session)
    if keys is None:
        return {"pending": plain, "data_key": None, "data_kek": None}
    data_key, wrapped, kek_uri = keys.new_data_key(f"case:{case_code}")
    return {"pending": envelope.seal_value(data_key, plain, column=PENDING_COLUMN,
                                           licence_id=f"case:{case_code}"),
            "data_key": wrapped, "data_kek": kek_uri}


def pending_licences(session: Session, case: Case) -> list[PendingLicence]:
    """The records a case still has to issue (the one read path of ``cases.pending``)."""
    if case.pending is None:
        return []
    blob = bytes(case.pending)
    if case.data_key is not None:
        keys = data_keys_of(session)
        if keys is None:
            raise DataKeyUnavailableError(f"case {case.case_code} is encrypted but this "
                                          "process has no key-encryption key configured")
        data_key = keys.data_key(f"case:{case.case_code}", bytes(case.data_key), case.data_kek)
        blob = envelope.open_value(data_key, blob, column=PENDING_COLUMN,
                                   licence_id=f"case:{case.case_code}")
    elif envelope.is_sealed(blob):
        raise DataKeyUnavailableError(f"case {case.case_code} is sealed but has no data key")
    return [PendingLicence(str(item["type"]), dict(item["record"]), str(item["format"]))
            for item in json.loads(blob)]


def accept_case(session: Session, *, case_code: str, client_id: str, department_code: str,
                service_code: str, holder_ref: str, event_sha256: str,
                licences: Sequence[PendingLicence], approved_at: datetime,
                at: datetime) -> tuple[Case, bool]:
    """Store the case and its issuance job; (the case, True) or (the stored one, False) again.

    Raises :class:`CaseConflictError` when the code exists with another event
    or from another client. Runs in the caller's transaction.
    """
    _check_code(case_code)
    if not 1 <= len(licences) <= MAX_LICENCES:
        raise InputError(f"a case produces 1..{MAX_LICENCES} licences", code="case.licences")
    begin_write(session)  # SQLite: the SAVEPOINT below must nest in the write transaction
    existing = session.get(Case, case_code)
    if existing is None:
        case = Case(case_code=case_code, client_id=client_id, department_code=department_code,
                    service_code=service_code, event_sha256=event_sha256,
                    holder_ref=holder_ref, state=CaseState.ACCEPTED.value,
                    licence_ids={"ids": []}, approved_at=approved_at, accepted_at=at,
                    **_seal_pending(session, case_code, licences))
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:  # the same code accepted concurrently by another node
            session.expunge(case)
            existing = session.get(Case, case_code, populate_existing=True)
            if existing is None:
                raise
        else:
            outbox.enqueue(session, topic=TOPIC, dedupe_key=f"{TOPIC}:{case_code}",
                           payload={"case_code": case_code}, at=at)
            audit.append(session, kind="case.accepted", actor=client_id, subject=case_code,
                         at=at, details={"service": service_code,
                                         "department": department_code,
                                         "event_sm3": event_sha256,
                                         "types": [p.type_code for p in licences]})
            return case, True
    if existing.event_sha256 != event_sha256 or existing.client_id != client_id:
        # Threat: a second, different "approval" under a known case code (a replayed code
        # with another applicant or record) replacing or adding to what was approved.
        raise CaseConflictError(f"case {case_code} was accepted with a different event "
                                "/ 该办件编码已以不同内容受理")
    return existing, False


def get_case(session: Session, case_code: str) -> Case:
    """The case, or the same not-found error whatever the reason."""
    if not isinstance(case_code, str) or not CASE_CODE.fullmatch(case_code):
        raise case_not_found(str(case_code))
    case = session.get(Case, case_code)
    if case is None:
        raise case_not_found(case_code)
    return case


def mark_issued(session: Session, case_code: str, licence_ids: Sequence[str], *,
                at: datetime) -> bool:
    """Record the licences and clear the sealed records; False when the case is not pending."""
    result = session.execute(
        update(Case).where(Case.case_code == case_code, Case.state == CaseState.ACCEPTED.value)
        .values(state=CaseState.ISSUED.value, licence_ids={"ids": list(licence_ids)},
                issued_at=at, pending=None, data_key=None, data_kek=None)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0) == 1


def fail_case(session: Session, case_code: str, reason: str, *, at: datetime) -> bool:
    """Mark a case failed for a reason that retrying cannot change (an error code, no values)."""
    result = session.execute(
        update(Case).where(Case.case_code == case_code, Case.state == CaseState.ACCEPTED.value)
        .values(state=CaseState.FAILED.value, reason=reason[:500], issued_at=at,
                pending=None, data_key=None, data_kek=None)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0) == 1
