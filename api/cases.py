"""自动发证 / 码上办: approval events in, licences out, looked up by case code.

An approval system (role ``approval_system``, one department) posts "case
approved" events. Each event is authenticated twice: the client's bearer
credential, and an HMAC-SM3 over the exact request bytes with the client's
event key, bound to a timestamp and a nonce:

    X-SealTrust-Timestamp: <unix seconds>
    X-SealTrust-Nonce: <32 hex digits, fresh per request>
    X-SealTrust-Signature: hmac-sm3=<hex of HMAC-SM3(key, ts "." nonce "." body)>

The event key is derived from the deployment's case-event key and the
client id (HMAC-SM3), so nothing secret per client is stored; it is shown
once when the client is created (``sealtrust clients add --role
approval_system``). Threats: a stolen bearer credential alone cannot post
events (no event key); an event edited in transit fails the MAC; a captured
request replayed later is stale (timestamp outside ``EVENT_WINDOW``) or its
nonce was seen (replay cache shared by every node).

Accepted events become a case row and an outbox job (trust.registry.cases);
:func:`case_handler` is the worker's handler that issues the licences.
"""

from __future__ import annotations

import hmac as std_hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.hazmat.primitives import hashes, hmac
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import AuthError, Principal
from api.deployment import Deployment, Home
from api.issuance import issue_one
from api.services import ServiceCatalogue, ServiceDefinition
from api.worker import GiveUp, Handler
from trust import audit, sm3
from trust.errors import InputError, SealTrustError
from trust.holder_ref import create_key_file, normalise, read_key_file
from trust.registry import outbox
from trust.registry.cases import (
    CASE_CODE,
    MAX_LICENCES,
    PendingLicence,
    accept_case,
    fail_case,
    mark_issued,
    pending_licences,
)
from trust.registry.models import Case, Licence
from trust.registry.notifications import enqueue_notification
from trust.registry.sealed import licence_record
from trust.registry.tokens import DbReplayCache

__all__ = ["EVENT_WINDOW", "CaseAccepted", "CaseEventIn", "EventKeys", "accept_event",
           "case_handler", "case_view", "event_key_file", "sign_event", "verify_event"]

EVENT_WINDOW: Final = timedelta(minutes=5)
TIMESTAMP_HEADER: Final = "X-SealTrust-Timestamp"
NONCE_HEADER: Final = "X-SealTrust-Nonce"
SIGNATURE_HEADER: Final = "X-SealTrust-Signature"
_NONCE: Final = re.compile(r"[0-9a-f]{32}")
_SIGNATURE: Final = re.compile(r"hmac-sm3=([0-9a-f]{64})")
_KEY_LABEL: Final = b"sealtrust/case-event/v1\x00"


class CaseEventError(AuthError):
    """The event's signature, timestamp or nonce is not acceptable (HTTP 401)."""

    code = "case.signature"


def event_key_file(home: Home) -> Path:
    """The deployment's case-event master key (created by ``clients add`` or on first use)."""
    return home.keys / "case-event.key"


class EventKeys:
    """Per-client event keys derived from the deployment's master key (never logged)."""

    __slots__ = ("_master",)

    def __init__(self, master: bytes) -> None:
        self._master = master

    @classmethod
    def of(cls, home: Home) -> EventKeys:
        """The deployment's keys; the master key file is created once (exclusive create)."""
        path = event_key_file(home)
        create_key_file(path)
        return cls(read_key_file(path))

    def for_client(self, client_id: str) -> bytes:
        mac = hmac.HMAC(self._master, hashes.SM3())
        mac.update(_KEY_LABEL + client_id.encode("utf-8"))
        return mac.finalize()

    def __repr__(self) -> str:
        return "EventKeys(<secret>)"


def sign_event(key: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """The ``X-SealTrust-Signature`` value for ``body`` (approval systems compute the same)."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(timestamp.encode("ascii") + b"." + nonce.encode("ascii") + b"." + body)
    return "hmac-sm3=" + mac.finalize().hex()


def verify_event(key: bytes, headers: Mapping[str, str], body: bytes, *, client_id: str,
                 now: datetime, replay: DbReplayCache) -> None:
    """Accept the event bytes or raise :class:`CaseEventError` (MAC, then time, then nonce)."""
    timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
    nonce = headers.get(NONCE_HEADER, "").strip()
    match = _SIGNATURE.fullmatch(headers.get(SIGNATURE_HEADER, "").strip())
    if not timestamp.isdigit() or len(timestamp) > 12 or not _NONCE.fullmatch(nonce) \
            or match is None:
        raise CaseEventError(f"an event needs {TIMESTAMP_HEADER} (unix seconds), {NONCE_HEADER} "
                             f"(32 hex digits) and {SIGNATURE_HEADER} (hmac-sm3=<hex>)",
                             code="case.signature_missing")
    expected = sign_event(key, timestamp, nonce, body)
    # Threat: an edited or forged event; constant-time so the tag is not learnt byte by byte.
    if not std_hmac.compare_digest(expected, "hmac-sm3=" + match.group(1)):
        raise CaseEventError("the event signature does not match its bytes "
                             "/ 事件签名与内容不符", code="case.signature")
    sent = datetime.fromtimestamp(int(timestamp), UTC)
    # Threat: a captured event replayed after the replay cache forgot its nonce.
    if abs(now - sent) > EVENT_WINDOW:
        raise CaseEventError(f"the event timestamp is more than {EVENT_WINDOW} from the "
                             "server's clock / 事件时间戳已过期", code="case.stale")
    # Threat: a captured event replayed within the window (any node: the cache is shared).
    if not replay.first_use(f"case-event:{client_id}", bytes.fromhex(nonce),
                            sent + EVENT_WINDOW, now):
        raise CaseEventError("this event nonce was used before / 事件随机数已使用",
                             code="case.replay")


class ApplicantIn(BaseModel):
    """The applicant: whose licences these are (ID number or USCC; never stored in clear)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["person", "organisation"]
    id: str = Field(min_length=1, max_length=64)


class CaseLicenceIn(BaseModel):
    """One licence to issue; ``type`` may be left out when the service produces exactly one."""

    model_config = ConfigDict(extra="forbid")
    type: str | None = Field(default=None, min_length=1, max_length=16)
    record: dict[str, Any]
    format: Literal["pdf", "ofd"] = "pdf"


class CaseEventIn(BaseModel):
    """A "case approved" event (办结事件)."""

    model_config = ConfigDict(extra="forbid")
    case_code: str = Field(pattern=CASE_CODE.pattern, max_length=64)
    service: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._\-]+$")
    approved_at: AwareDatetime
    applicant: ApplicantIn
    licences: list[CaseLicenceIn] = Field(min_length=1, max_length=MAX_LICENCES)

    def digest(self) -> str:
        """SM3 of the canonical event: the same event in other whitespace or key order is equal."""
        body = json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))
        return sm3.sm3(body.encode("utf-8")).hex()


class CaseAccepted(BaseModel):
    """The answer to an event; identical for the same event posted again."""

    case_code: str
    service: str
    accepted_at: datetime
    event_sm3: str
    lookup: str


def parse_event(body: bytes) -> CaseEventIn:
    try:
        return CaseEventIn.model_validate_json(body)
    except ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
        # Field paths only: pydantic's messages may quote the values (personal data).
        raise InputError(f"invalid case event (fields: {where or 'body'})",
                         code="case.event") from None


def _produced_types(service: ServiceDefinition, event: CaseEventIn) -> list[str]:
    """The licence type of each event entry, which must be one the service produces.

    Threat: an approval system (or its stolen credential and key) using a
    case of one service to issue licences that service never produces.
    """
    produces = tuple(service.produces)
    if not produces:
        raise InputError(f"service {service.code} produces no licence (事项不产生证照)",
                         code="case.service")
    codes = []
    for item in event.licences:
        code = item.type.upper() if item.type else (produces[0] if len(produces) == 1 else "")
        if not code:
            raise InputError(f"service {service.code} produces {', '.join(produces)}: name "
                             "the type of each licence", code="case.type")
        if code not in produces:
            raise InputError(f"service {service.code} does not produce {code[:16]!r} "
                             f"(it produces {', '.join(produces)})", code="case.type")
        codes.append(code)
    if len(set(codes)) != len(codes):
        raise InputError("a case produces each licence type at most once", code="case.type")
    return codes


def accept_event(deployment: Deployment, session: Session, principal: Principal,
                 event: CaseEventIn, *, services: ServiceCatalogue,
                 now: datetime) -> CaseAccepted:
    """Validate every record now (the approval system hears about a bad one at once), accept.

    The service must be in the deployment's catalogue (shipped or
    ``<home>/services``) and produce every licence type the event carries.
    """
    if principal.department_code is None:
        raise InputError("an approval system belongs to a department", code="case.department")
    if event.service not in services:
        raise InputError(f"unknown service {event.service!r} (事项不存在)", code="case.service")
    codes = _produced_types(services.get(event.service), event)
    types = deployment.issuer_context().types
    applicant = normalise(event.applicant.id)
    pending: list[PendingLicence] = []
    for item, code in zip(event.licences, codes, strict=True):
        try:
            licence_type = types.get(code)
        except SealTrustError:
            raise InputError(f"unknown licence type {code[:16]!r}", code="case.type") from None
        record = licence_type.validate(item.record)
        holder_kind = getattr(licence_type, "holder_kind", None)
        if holder_kind is not None and holder_kind != event.applicant.kind:
            raise InputError(f"a {licence_type.code} licence is for a {holder_kind}, the "
                             f"applicant is a {event.applicant.kind}", code="case.applicant")
        field = licence_type.holder_id_field
        # Threat: an event for applicant A carrying a licence record of holder B, which the
        # case lookup and the notifications would then attribute to A.
        if field and record.get(field) not in (None, "") \
                and normalise(str(record[field])) != applicant:
            raise InputError(f"the {licence_type.code} record's {field} is not the applicant's",
                             code="case.applicant")
        pending.append(PendingLicence(licence_type.code, record, item.format))
    case, _ = accept_case(
        session, case_code=event.case_code, client_id=principal.client_id,
        department_code=principal.department_code, service_code=event.service,
        holder_ref=deployment.holder_key().ref(applicant), event_sha256=event.digest(),
        licences=pending, approved_at=event.approved_at, at=now)
    return CaseAccepted(case_code=case.case_code, service=case.service_code,
                        accepted_at=case.accepted_at, event_sm3=case.event_sha256,
                        lookup=f"/v1/cases/{case.case_code}")


def case_handler(deployment: Deployment, *, alg: str = "sm2",
                 clock: Callable[[], datetime] | None = None) -> Handler:
    """The worker's handler for topic ``case.issue``: issue every licence of one case.

    Runs in the transaction that completes the outbox item: the licences,
    the case's new state, the notifications and the audit entries commit
    together or not at all. Each licence's idempotency key is
    ``case:<code>:<n>``, so even two workers racing past an expired lease
    store one licence (the second insert conflicts and rolls back).
    A record that cannot be issued (an input error: retrying cannot help)
    fails the case with the error code; anything else is retried.
    """
    now_of = clock or (lambda: datetime.now(UTC))

    def handle(session: Session, item: outbox.Claimed) -> None:
        code = str(item.payload.get("case_code", ""))
        case = session.get(Case, code)
        if case is None or case.state != "accepted":
            return  # done before (or removed): completing the item is all that is left
        now: datetime = now_of()
        issued: list[str] = []
        try:
            for index, pending in enumerate(pending_licences(session, case)):
                licence = issue_one(
                    deployment, session, type_code=pending.type_code, record=pending.record,
                    department=case.department_code, alg=alg,
                    idempotency_key=f"case:{code}:{index}", actor=f"case:{case.client_id}",
                    at=now, heads=deployment.audit_heads, file_format=pending.file_format)
                issued.append(licence.licence_id)
        except InputError as exc:
            reason = exc.code

            def record_failure(s: Session) -> None:
                if fail_case(s, code, reason, at=now):
                    audit.append(s, kind="case.failed", actor="worker", subject=code, at=now,
                                 details={"reason": reason})

            raise GiveUp(reason, record_failure) from None
        mark_issued(session, code, issued, at=now)
        for licence_id in issued:
            enqueue_notification(session, kind="licence.issued", holder_ref=case.holder_ref,
                                 licence_id=licence_id, case_code=code,
                                 dedupe_key=f"case:{code}:{licence_id}", at=now)
        audit.append(session, kind="case.issued", actor="worker", subject=code, at=now,
                     details={"licences": issued})

    return handle


def case_view(deployment: Deployment, session: Session, case: Case, *,
              full: bool) -> dict[str, Any]:
    """What a case produced: masked records (public), or full ones (the holder, in the app).

    The public answer names the licences, their types and status with every
    field the type masks masked, and no holder name: enough to know the
    case was concluded and what it produced, not who the holder is.
    """
    ids = list((case.licence_ids or {}).get("ids", []))
    rows = {row.id: row for row in session.execute(
        select(Licence).where(Licence.id.in_(ids))).scalars()} if ids else {}
    types = deployment.issuer_context().types
    licences = []
    for licence_id in ids:
        row = rows.get(licence_id)
        if row is None:
            continue
        licence_type = types.get(row.type_code)
        record = licence_record(session, row)
        entry: dict[str, Any] = {
            "licence_id": row.id, "type": row.type_code,
            "name": {"zh": licence_type.name_zh, "en": licence_type.name_en},
            "status": row.status, "valid_from": row.valid_from.isoformat(),
            "valid_to": row.valid_to.isoformat() if row.valid_to else None,
            "issued_at": row.issued_at.isoformat(),
            "record": dict(record.holder) if full
            else types.masked(row.type_code, row.type_version, record.holder)}
        if full:
            entry["holder_name"] = record.holder_name
            entry["download"] = f"/v1/licences/{row.id}/pdf"
        licences.append(entry)
    return {"case_code": case.case_code, "service": case.service_code, "state": case.state,
            "reason": case.reason, "approved_at": case.approved_at.isoformat(),
            "accepted_at": case.accepted_at.isoformat(),
            "issued_at": case.issued_at.isoformat() if case.issued_at else None,
            "licences": licences}

