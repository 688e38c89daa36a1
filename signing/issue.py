"""Issue one licence: validate -> allocate id -> render -> seal -> sign -> register.

Everything that can fail runs before anything is stored, and the registry
rows (licence, first status event, sealed file, audit entry) are added in the
caller's single transaction: a failure anywhere stores nothing. Counter
values (licence sequence, status index) taken in their own short
transactions, as ``api.issuance`` does so that concurrent issuances do not
queue on the counters, are skipped when the issuance then fails: a gap,
never a value used twice. A retried request with the same idempotency key
returns the licence already issued.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Final, cast

from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from signing.ofd import OfdSealRequest, seal_ofd
from signing.pdf import SealBinding, SealPlacement, seal_pdf
from signing.render import render_licence, render_licence_ofd, seal_box_pt
from signing.seals import SealUnusableError, parsed_seal, usable_seal
from signing.types import LicenceType, TypeRegistry
from trust import audit, ofd_profile, sm3
from trust.errors import ConflictError, InputError, NotFoundError
from trust.holder_ref import HolderKey
from trust.keys import SigningKey
from trust.licence_id import format_licence_id
from trust.pki import Certificate
from trust.registry.db import next_value
from trust.registry.models import (
    Department,
    KeyRecord,
    Licence,
    LicenceEvent,
    LicenceFile,
    SealRecord,
)
from trust.registry.sealed import licence_file, seal_for_storage
from trust.token import Claims, TokenKind, encode_token, mask_id_number, mask_name, new_jti

CHINA: Final = timezone(timedelta(hours=8))
_render_lock = threading.Lock()
STATUS_LIST_ID: Final = "sl1"
STATUS_COUNTER: Final = f"status-index:{STATUS_LIST_ID}"
DOCUMENT_TOKEN_YEARS: Final = 30
FILE_FORMATS: Final = ("pdf", "ofd")

# Issuance reads and writes a few fixed rows per licence: prebuilt Core statements on the
# session's connection skip the ORM unit of work and identity map (the rows are not used
# as objects afterwards) and SQLAlchemy memoises their cache keys.
_LICENCES = cast(Table, Licence.__table__)
_FILES = cast(Table, LicenceFile.__table__)
_DEPARTMENTS = cast(Table, Department.__table__)
_KEYS = cast(Table, KeyRecord.__table__)
_INSERT_LICENCE = insert(_LICENCES)
_INSERT_EVENT = insert(cast(Table, LicenceEvent.__table__))
_INSERT_FILE = insert(_FILES)
_BY_IDEMPOTENCY_KEY = select(_LICENCES.c.id, _LICENCES.c.type_code, _LICENCES.c.file_sm3,
                             _LICENCES.c.request_sha256).where(
    _LICENCES.c.idempotency_key == bindparam("key"))
_DEPARTMENT = select(_DEPARTMENTS.c.code, _DEPARTMENTS.c.uscc, _DEPARTMENTS.c.name).where(
    _DEPARTMENTS.c.code == bindparam("code"))
_ACTIVE_SEALS = select(SealRecord).where(
    SealRecord.department_code == bindparam("department"),
    SealRecord.status == "active").order_by(SealRecord.created_at.desc())
_KEY_DEPARTMENT = select(_KEYS.c.department_code).where(_KEYS.c.uri == bindparam("uri"))


class IdempotencyConflictError(ConflictError):
    """The idempotency key was used before for a different request."""

    code = "licence.idempotency_conflict"


@dataclass(frozen=True)
class Signer:
    """A signing key with its certificate chain (leaf first), as stored in the key store."""

    key: SigningKey
    chain: tuple[bytes, ...]
    uri: str

    @property
    def certificate(self) -> Certificate:
        return _certificate(self.chain[0])


@lru_cache(maxsize=256)
def _certificate(der: bytes) -> Certificate:
    """Parse a certificate once per process: a batch checks the same few for every licence."""
    return Certificate.from_der(der)


@dataclass(frozen=True)
class IssuerContext:
    """What a process needs to issue; built once and reused (keys stay open)."""

    types: TypeRegistry
    token_signer: Signer
    # Per algorithm family ("sm2", "intl"): an RSA signature gets an RSA time-stamp, so
    # verifiers without SM2 (Adobe, stock pyHanko) can validate all of it.
    timestampers: Mapping[str, TimeStamper]
    # Keys the holder reference (trust.holder_ref); without it no holder can ever see the
    # licence (fail closed), which is what a context without a holder key means.
    holder_key: HolderKey | None = None

    def holder_ref(self, licence_type: LicenceType, record: Mapping[str, Any]) -> str | None:
        """The keyed hash of the record's holder identifier, if the type names one."""
        field_name = licence_type.holder_id_field
        value = record.get(field_name) if field_name else None
        if self.holder_key is None or value is None or value == "":
            return None
        return self.holder_key.ref(str(value))

    def timestamper_for(self, key: SigningKey) -> TimeStamper | None:
        family = "sm2" if key.algorithm == "sm2" else "intl"
        return self.timestampers.get(family)


@dataclass(frozen=True)
class IssueRequest:
    """One licence to issue."""

    type_code: str
    record: Mapping[str, Any]
    department_code: str
    signer: Signer
    second_signer: Signer | None = None
    seal_es_id: str | None = None
    idempotency_key: str | None = None
    file_format: str = "pdf"  # or "ofd" (GB/T 33190, SM2 only)
    # True: the caller re-issues a licence whose validity has already ended (a copy for
    # the archive); audited as such. Otherwise such a record is refused.
    historical: bool = False

    def __post_init__(self) -> None:
        if self.file_format not in FILE_FORMATS:
            raise InputError(f"format must be one of {', '.join(FILE_FORMATS)}",
                             code="licence.format")
        if self.file_format == "ofd" and (self.second_signer is not None
                                          or self.signer.key.algorithm != "sm2"):
            raise InputError("RSA is not part of the OFD profile: OFD licences are sealed with "
                             "SM2 only (use --alg sm2, or PDF for RSA); OFD 证照只支持 SM2 签章",
                             code="licence.ofd_algorithm")


class ValidityEndedError(InputError):
    """The record's validity has ended: issuing it would sign an expired licence."""

    code = "licence.validity_ended"


@dataclass(frozen=True)
class IssuedLicence:
    licence_id: str
    type_code: str
    file_sm3: str
    pdf: bytes = field(repr=False)
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"licence_id": self.licence_id, "type": self.type_code,
                "file_sm3": self.file_sm3, "reused": self.reused}


def request_digest(type_code: str, record: Mapping[str, Any], department: str,
                   file_format: str = "pdf") -> str:
    """SHA-256 of the canonical request, to tell a retry from a different request
    (a PDF request's digest is the same as before formats existed)."""
    request: dict[str, Any] = {"type": type_code, "department": department, "record": record}
    if file_format != "pdf":
        request["format"] = file_format
    body = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _existing(session: Session, request: IssueRequest, digest: str) -> IssuedLicence | None:
    if request.idempotency_key is None:
        return None
    connection = session.connection()
    licence = connection.execute(_BY_IDEMPOTENCY_KEY, {"key": request.idempotency_key}).first()
    if licence is None:
        return None
    if licence.request_sha256 != digest:
        raise IdempotencyConflictError(
            f"idempotency key {request.idempotency_key!r} was used for another request "
            f"(licence {licence.id})")
    pdf = licence_file(session, licence.id)  # decrypted by the registry's one read path
    return IssuedLicence(licence.id, licence.type_code, licence.file_sm3, pdf, reused=True)


def _choose_seal(session: Session, request: IssueRequest, signer: Certificate,
                 at: datetime) -> SealRecord:
    if request.seal_es_id is not None:
        return usable_seal(session, request.seal_es_id, department_code=request.department_code,
                           signer_cert=signer, at=at)
    # Whole rows, held in this list: usable_seal's session.get then finds each in the
    # identity map instead of querying again.
    candidates = session.execute(_ACTIVE_SEALS, {"department": request.department_code}
                                 ).scalars().all()
    problems = []
    for candidate in candidates:
        try:
            return usable_seal(session, candidate.es_id,
                               department_code=request.department_code, signer_cert=signer,
                               at=at)
        except SealUnusableError as exc:
            problems.append(exc.message)
    raise SealUnusableError(f"department {request.department_code} has no usable seal for "
                            f"{signer.subject_text}" + (": " + "; ".join(problems)
                                                         if problems else ""))


def _check_key(session: Session, signer: Signer, department_code: str) -> None:
    owner = session.connection().execute(_KEY_DEPARTMENT, {"uri": signer.uri}).first()
    if owner is None or owner.department_code != department_code:
        raise ConflictError(f"key {signer.uri} is not a signing key of department "
                            f"{department_code}")
    if not signer.chain:
        raise InputError(f"key {signer.uri} has no certificate chain")


def _as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None  # "长期" (long-term) and other non-date ends


def _validity(licence_type: LicenceType, record: Mapping[str, Any],
              issued_on: date) -> tuple[date, date | None]:
    if licence_type.validity is None:
        return issued_on, None
    start = _as_date(record.get(licence_type.validity.start)) or issued_on
    end = _as_date(record.get(licence_type.validity.end))
    return start, end


def _aware_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def signed_validity(valid: tuple[date, date | None]) -> tuple[datetime, datetime | None]:
    """The validity dates (China Standard Time calendar days, the end day included) as the
    instants signed into the CMS: from 00:00 of the first day to 00:00 after the last."""
    end = None if valid[1] is None else _aware_day(valid[1]) + timedelta(days=1)
    return _aware_day(valid[0]), end


def _refuse_ended(valid: tuple[date, date | None], today: date, historical: bool) -> None:
    """Threat: a routine issuance that signs a licence already expired (a stale record,
    a typo in a date) would hand the holder a document no counter may accept."""
    if valid[1] is not None and valid[1] < today and not historical:
        raise ValidityEndedError(
            f"证照有效期已于 {valid[1].isoformat()} 结束，不能签发；补发历史证照请注明 "
            f"historical / the licence's validity ended on {valid[1].isoformat()}: refused; "
            "re-issue it as a historical licence (--historical, \"historical\": true) if "
            "that is intended")
    if valid[1] is not None and valid[1] < valid[0]:
        raise InputError(f"证照有效期结束日 {valid[1]} 早于开始日 {valid[0]} / the validity "
                         f"ends ({valid[1]}) before it starts ({valid[0]})",
                         code="licence.validity_invalid")


def document_token(
    context: IssuerContext, licence_type: LicenceType, record: Mapping[str, Any], *,
    licence_id: str, issuer_uscc: str, status_index: int, valid: tuple[date, date | None],
    at: datetime,
) -> str:
    """The static 亮证 document code printed on the PDF (long-lived, masked, with status)."""
    holder_id = record.get(licence_type.holder_id_field) if licence_type.holder_id_field else None
    expires = _aware_day(valid[1]) + timedelta(days=1) if valid[1] else \
        at + timedelta(days=365 * DOCUMENT_TOKEN_YEARS)
    claims = Claims(
        kind=TokenKind.DOCUMENT, issuer=issuer_uscc, licence_id=licence_id,
        licence_type=licence_type.code,
        holder_name=mask_name(licence_type.holder_name(record)),
        holder_id_last4=mask_id_number(str(holder_id)) if holder_id else None,
        valid_from=valid[0], valid_until=valid[1], issued_at=at,
        expires_at=max(expires, at + timedelta(days=1)), jti=new_jti(),
        status_list=STATUS_LIST_ID, status_index=status_index)
    return encode_token(claims, context.token_signer.key, context.token_signer.chain[0])


Allocate = Callable[[str], int]
"""Hands out the next value of a named counter (``next_value`` or a reserved block)."""


@dataclass(frozen=True)
class PreparedLicence:
    """A sealed licence not yet stored: everything :func:`store_licence` writes.

    Preparing writes nothing but counter values, so a batch can render and seal
    many licences first and then hold the database write lock only while their
    rows are inserted.
    """

    licence_type: LicenceType
    record: Mapping[str, Any]
    request: IssueRequest
    digest: str
    licence_id: str
    status_index: int
    valid: tuple[date, date | None]
    seal_es_id: str
    signer_uris: tuple[str, ...]
    pdf: bytes = field(repr=False)
    file_sm3: str
    at: datetime
    holder_ref: str | None = None


def prepare_licence(
    session: Session, context: IssuerContext, request: IssueRequest, *, at: datetime,
    allocate: Allocate | None = None,
) -> PreparedLicence | IssuedLicence:
    """Validate, allocate the id and status index, render and seal; store nothing.

    Returns the stored licence instead when the idempotency key was seen
    before. ``allocate`` defaults to :func:`next_value` in ``session``.
    """
    if at.tzinfo is None:
        raise InputError("issuance time must be timezone-aware")
    take: Allocate = allocate or (lambda name: next_value(session, name))
    licence_type = context.types.get(request.type_code)
    record = licence_type.validate(dict(request.record))
    digest = request_digest(licence_type.code, record, request.department_code,
                            request.file_format)
    existing = _existing(session, request, digest)
    if existing is not None:
        return existing
    issued_on = at.astimezone(CHINA).date()
    valid = _validity(licence_type, record, issued_on)
    _refuse_ended(valid, issued_on, request.historical)  # before any counter is taken
    department = session.connection().execute(
        _DEPARTMENT, {"code": request.department_code}).first()
    if department is None:
        raise NotFoundError(f"no department {request.department_code!r}")
    signers: Sequence[Signer] = [s for s in (request.signer, request.second_signer) if s]
    for signer in signers:
        _check_key(session, signer, department.code)
    seal = _choose_seal(session, request, request.signer.certificate, at)
    for extra in signers[1:]:
        usable_seal(session, seal.es_id, department_code=department.code,
                    signer_cert=extra.certificate, at=at)

    sequence = take(f"licence:{licence_type.code}:{department.uscc}:{issued_on:%Y%m%d}")
    licence_id = format_licence_id(licence_type.code, department.uscc, sequence, issued_on)
    status_index = take(STATUS_COUNTER) - 1
    token = document_token(context, licence_type, record, licence_id=licence_id,
                           issuer_uscc=department.uscc, status_index=status_index,
                           valid=valid, at=at)
    if request.file_format == "ofd":
        pdf = _sealed_ofd(context, licence_type, record, request, licence_id=licence_id,
                          token=token, seal_der=bytes(seal.der), issuer_name=department.name,
                          status_index=status_index, valid=valid, at=at)
        return PreparedLicence(
            licence_type=licence_type, record=record, request=request, digest=digest,
            licence_id=licence_id, status_index=status_index, valid=valid,
            seal_es_id=seal.es_id, signer_uris=(request.signer.uri,), pdf=pdf,
            file_sm3=sm3.sm3(pdf).hex(), at=at,
            holder_ref=context.holder_ref(licence_type, record))
    picture = parsed_seal(bytes(seal.der)).picture
    with _render_lock:  # the renderer shares reportlab state across documents
        pdf = render_licence(licence_type, record, licence_id, qr_payload=token,
                             seal_png=picture.data if picture.type == "png" else None,
                             issuer_name=department.name, issued_at=at, validated=True)
    x1, y1, x2, y2 = seal_box_pt(licence_type)
    placement = SealPlacement(page=0, x=x1, y=y1, width=x2 - x1, height=y2 - y1)
    for number, signer in enumerate(signers):
        pdf = seal_pdf(pdf, signer.key, signer.chain,
                       timestamper=context.timestamper_for(signer.key),
                       field_name=f"Seal{number + 1}" if number else "Seal",
                       seal=SealBinding(seal.der, licence_id=licence_id,
                                        status_ref=(STATUS_LIST_ID, status_index),
                                        validity=signed_validity(valid)),
                       appearance=placement if number == 0 else None,
                       reason=f"{licence_type.name_zh} {licence_id}", location=department.name)
    return PreparedLicence(
        licence_type=licence_type, record=record, request=request, digest=digest,
        licence_id=licence_id, status_index=status_index, valid=valid, seal_es_id=seal.es_id,
        signer_uris=tuple(s.uri for s in signers), pdf=pdf, file_sm3=sm3.sm3(pdf).hex(), at=at,
        holder_ref=context.holder_ref(licence_type, record))


def _sealed_ofd(context: IssuerContext, licence_type: LicenceType, record: Mapping[str, Any],
                request: IssueRequest, *, licence_id: str, token: str, seal_der: bytes,
                issuer_name: str, status_index: int, valid: tuple[date, date | None],
                at: datetime) -> bytes:
    """The OFD licence: rendered from the same layout, sealed over Signature.xml with the
    licence id, status reference and validity as signed Parameters (docs/ofd.md)."""
    with _render_lock:  # the font subsetter is shared with the PDF renderer
        entries = render_licence_ofd(licence_type, record, licence_id, qr_payload=token,
                                     issuer_name=issuer_name, issued_at=at,
                                     doc_id=hashlib.md5(licence_id.encode(),
                                                        usedforsecurity=False).hexdigest(),
                                     validated=True)
    square = licence_type.layout.seal
    parameters = {
        ofd_profile.PARAM_LICENCE_ID: licence_id,
        ofd_profile.PARAM_STATUS_LIST: STATUS_LIST_ID,
        ofd_profile.PARAM_STATUS_INDEX: str(status_index),
    }
    # the same instants the PDF's signed validity attribute carries: 00:00 China Standard
    # Time of the first day, and 00:00 after the last (exclusive)
    start, end = signed_validity(valid)
    parameters[ofd_profile.PARAM_VALID_FROM] = start.isoformat()
    if end is not None:
        parameters[ofd_profile.PARAM_VALID_UNTIL] = end.isoformat()
    signer = request.signer
    return seal_ofd(entries, key=signer.key, chain=signer.chain, seal_der=seal_der, at=at,
                    request=OfdSealRequest(
                        stamp_box_mm=(square.x_mm, square.y_mm, square.size_mm, square.size_mm),
                        parameters=parameters),
                    timestamper=context.timestamper_for(signer.key))


def store_licence(session: Session, prepared: PreparedLicence, *, actor: str) -> IssuedLicence:
    """Add the licence, its first status event, its file and its audit entry.

    Plain INSERTs in the caller's transaction, licence first: a duplicate
    idempotency key or status index fails there, before the others.
    """
    p, licence_type, at = prepared, prepared.licence_type, prepared.at
    department_code = p.request.department_code
    connection = session.connection()
    # Personal data (holder record, file) leaves here sealed under the licence's data key.
    sealed = seal_for_storage(session, p.licence_id, licence_type.holder_name(p.record),
                              p.record, p.pdf)
    connection.execute(_INSERT_LICENCE, {
        "id": p.licence_id, "type_code": licence_type.code, "type_version": licence_type.version,
        "department_code": department_code,
        **sealed.licence, "holder_ref": p.holder_ref, "valid_from": _aware_day(p.valid[0]),
        "valid_to": _aware_day(p.valid[1]) if p.valid[1] else None, "status": "valid",
        "status_index": p.status_index, "file_sm3": p.file_sm3, "seal_es_id": p.seal_es_id,
        "key_uri": p.request.signer.uri, "idempotency_key": p.request.idempotency_key,
        "request_sha256": p.digest, "superseded_by": None, "issued_at": at})
    connection.execute(_INSERT_EVENT, {"licence_id": p.licence_id, "at": at,
                                       "from_status": None, "to_status": "valid",
                                       "reason": "issued"})
    connection.execute(_INSERT_FILE, {"licence_id": p.licence_id, "pdf": sealed.pdf})
    audit.append(session, kind="licence.issued", actor=actor, subject=p.licence_id, at=at,
                 details={"type": licence_type.code, "type_version": licence_type.version,
                          "department": department_code,
                          "seal": p.seal_es_id, "keys": list(p.signer_uris),
                          "file_sm3": p.file_sm3, "status_index": p.status_index,
                          **({"historical_reissue": True} if p.request.historical else {})})
    return IssuedLicence(p.licence_id, licence_type.code, p.file_sm3, p.pdf)


def stored_licence(session: Session, prepared: PreparedLicence) -> IssuedLicence | None:
    """The licence already stored under ``prepared``'s idempotency key (a lost race)."""
    return _existing(session, prepared.request, prepared.digest)


def issue_licence(
    session: Session,
    context: IssuerContext,
    request: IssueRequest,
    *,
    at: datetime,
    actor: str,
    allocate: Allocate | None = None,
) -> IssuedLicence:
    """Issue one licence inside the caller's transaction (see module docstring).

    ``allocate`` as for :func:`prepare_licence`.
    """
    prepared = prepare_licence(session, context, request, at=at, allocate=allocate)
    if isinstance(prepared, IssuedLicence):
        return prepared
    return store_licence(session, prepared, actor=actor)
