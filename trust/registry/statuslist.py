"""Build and sign the deployment's status lists and trust list from the registry.

One status list per issuer (department USCC), all under the list id the
issuance code stamps into tokens; each covers indices 0..max over the whole
deployment (the index counter is shared), and only the issuer's own licences
carry a non-zero value. The verifier picks the list by (issuer, list id).

The trust list names, for every department, the CA(s) and the token/status
signer certificates of the deployment; its sequence is the issue time in
seconds, so it grows monotonically and a verifier can refuse rollback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trust.errors import InputError, NotFoundError
from trust.keys import SigningKey
from trust.registry.models import CertificateRecord, Department, KeyRecord, Licence, SealRecord
from trust.registry.tokens import live_state
from trust.status import LicenceStatus, StatusList
from trust.trustlist import ANY_TYPE, Role, TrustEntry, TrustList

__all__ = [
    "CA_ROLES",
    "DEFAULT_LIST_ID",
    "SIGNER_ROLES",
    "STATUS_LIST_LIFETIME",
    "TRUST_LIST_LIFETIME",
    "SignedLists",
    "build_status_list",
    "build_status_lists",
    "build_trust_list",
    "sign_lists",
    "status_list_size",
]

DEFAULT_LIST_ID: Final = "sl1"  # signing.issue.STATUS_LIST_ID (trust/ cannot import signing/)
STATUS_LIST_LIFETIME: Final = timedelta(hours=24)
TRUST_LIST_LIFETIME: Final = timedelta(days=7)
CA_ROLES: Final = ("sm2-root", "rsa-root")
SIGNER_ROLES: Final = ("sm2-token-signer", "sm2-list-signer")
# Key roles: the token signer signs QR tokens, the list signer status lists.
_ENTRY_ROLE: Final = {"sm2-token-signer": (Role.TOKEN_SIGNER,),
                      "sm2-list-signer": (Role.STATUS_SIGNER,)}


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("list issue time must be timezone-aware", code="input.naive_datetime")
    return moment


def status_list_size(session: Session) -> int:
    """Entries a list needs now: indices 0..max allocated so far (at least one)."""
    highest = session.execute(select(func.max(Licence.status_index))).scalar()
    return 1 if highest is None else int(highest) + 1


def build_status_list(
    session: Session,
    issuer: str,
    *,
    at: datetime,
    list_id: str = DEFAULT_LIST_ID,
    lifetime: timedelta = STATUS_LIST_LIFETIME,
) -> StatusList:
    """The status list of one issuer (department USCC) as the registry says at ``at``."""
    at = _aware(at)
    if session.execute(select(Department.code).where(Department.uscc == issuer)).first() is None:
        raise NotFoundError(f"no department with issuer code {issuer!r}", code="issuer.not_found")
    rows = session.execute(
        select(Licence.status_index, Licence.status)
        .join(Department, Department.code == Licence.department_code)
        .where(Department.uscc == issuer, Licence.status != "valid")
    ).all()
    changes = {int(r.status_index): live_state(r.status) for r in rows}
    changes = {i: s for i, s in changes.items() if s is not LicenceStatus.UNKNOWN}
    base = StatusList.empty(list_id, issuer, status_list_size(session), at, at + lifetime)
    listed = base.updated(changes, at, at + lifetime) if changes else base
    return listed.with_objects(_seal_status(session, issuer, at),
                               _certificate_status(session, issuer, at), _audit_head(session))


def _seal_status(session: Session, issuer: str, at: datetime) -> dict[str, datetime | None]:
    """Every seal of the issuer's departments: offline, a seal the list does not carry
    is INDETERMINATE, so all are listed, not only the revoked ones."""
    rows = session.execute(
        select(SealRecord.es_id, SealRecord.revoked_at)
        .join(Department, Department.code == SealRecord.department_code)
        .where(Department.uscc == issuer)).all()
    return {r.es_id: (r.revoked_at if r.revoked_at is not None and r.revoked_at <= at else None)
            for r in rows}


def _certificate_status(session: Session, issuer: str,
                        at: datetime) -> dict[bytes, datetime | None]:
    """The signing certificates of the issuer's department keys, revoked or not."""
    rows = session.execute(
        select(CertificateRecord.fingerprint, CertificateRecord.revoked_at)
        .join(KeyRecord, KeyRecord.certificate_fingerprint == CertificateRecord.fingerprint)
        .join(Department, Department.code == KeyRecord.department_code)
        .where(Department.uscc == issuer)).all()
    return {bytes.fromhex(r.fingerprint):
            (r.revoked_at if r.revoked_at is not None and r.revoked_at <= at else None)
            for r in rows}


def build_status_lists(session: Session, *, at: datetime) -> dict[str, StatusList]:
    """Every department's status list, by issuer code."""
    issuers = session.execute(select(Department.uscc).order_by(Department.uscc)).scalars()
    return {uscc: build_status_list(session, uscc, at=at) for uscc in issuers if uscc}


def _records(session: Session, roles: Iterable[str]) -> list[CertificateRecord]:
    wanted = tuple(roles)
    return list(session.execute(
        select(CertificateRecord).where(CertificateRecord.role.in_(wanted),
                                        CertificateRecord.revoked_at.is_(None))
        .order_by(CertificateRecord.role, CertificateRecord.fingerprint)
    ).scalars())


def _certificates(session: Session, roles: Iterable[str]) -> list[bytes]:
    return [bytes(r.der) for r in _records(session, roles)]


def build_trust_list(
    session: Session,
    *,
    at: datetime,
    lifetime: timedelta = TRUST_LIST_LIFETIME,
    ca_roles: Iterable[str] = CA_ROLES,
    signer_roles: Iterable[str] = SIGNER_ROLES,
) -> TrustList:
    """Issuer CAs and token/status signers of every department (revoked ones left out)."""
    at = _aware(at)
    cas = _certificates(session, ca_roles)
    signers = [(bytes(r.der), _ENTRY_ROLE.get(r.role, (Role.TOKEN_SIGNER,)))
               for r in _records(session, signer_roles)]
    if not cas or not signers:
        raise NotFoundError("the registry holds no CA or token-signer certificate",
                            code="trustlist.no_certificates")
    entries: list[TrustEntry] = []
    for dept in session.execute(select(Department).order_by(Department.uscc)).scalars():
        if not dept.uscc:
            continue
        region = dept.region or "CN"
        entries += [TrustEntry(dept.uscc, region, Role.ISSUER_CA, (ANY_TYPE,), c) for c in cas]
        entries += [TrustEntry(dept.uscc, region, role, (ANY_TYPE,), c)
                    for c, roles in signers for role in roles]
    return TrustList(int(at.timestamp()), at, at + lifetime, tuple(entries),
                     _audit_head(session))


def _audit_head(session: Session) -> bytes | None:
    """The latest signed audit head as checkpoint JSON: list holders hold a checkpoint."""
    from trust import audit  # trust.audit imports the registry package

    head = audit.latest_head(session)
    return None if head is None else audit.canonical(audit.Checkpoint.from_head(head).to_json())


@dataclass(frozen=True)
class SignedLists:
    """What a relying party downloads for offline checks, as signed bytes."""

    trust_list: bytes
    anchor: bytes  # the operator certificate (DER) the verifier pins
    status_lists: Mapping[str, bytes] = field(default_factory=dict)  # issuer -> COSE
    issued_at: datetime | None = None


def sign_lists(
    session: Session,
    *,
    at: datetime,
    operator: tuple[SigningKey, bytes],
    status_signer: tuple[SigningKey, bytes],
    anchor: bytes | None = None,
) -> SignedLists:
    """Build and sign the trust list and every issuer's status list at ``at``.

    ``operator`` and ``status_signer`` are (key, certificate DER) pairs of list
    signers; ``anchor``: the certificate relying parties pin (the root that
    issued the operator; the operator's certificate then rides in the list),
    by default the operator itself.
    """
    trust_list = build_trust_list(session, at=at)
    signed_statuses = {issuer: sl.sign(*status_signer)
                       for issuer, sl in build_status_lists(session, at=at).items()}
    embed = anchor is not None and anchor != operator[1]
    return SignedLists(trust_list.sign(*operator, embed=embed),
                       anchor if anchor is not None else operator[1], signed_statuses,
                       trust_list.issued_at)
