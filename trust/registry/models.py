"""SQLAlchemy 2 tables of the registry: departments, keys, certificates, seals, licences.

Rows hold what a verifier or auditor must be able to ask later (status with
history, the SM3 of every issued file, which seal and key made it); the
licence identifier sequence lives here too so uniqueness holds across every
service process sharing one database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused by the registry")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Meta(Base):
    """Deployment facts (schema owner, creation time, demo seed)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Department(Base):
    """An issuing authority (发证机关)."""

    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    region: Mapped[str] = mapped_column(String(12), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KeyRecord(Base):
    """A signing key known by URI; the key itself stays in its key store."""

    __tablename__ = "keys"
    uri: Mapped[str] = mapped_column(String(512), primary_key=True)
    label: Mapped[str] = mapped_column(String(128))
    algorithm: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(32))
    department_code: Mapped[str | None] = mapped_column(
        ForeignKey("departments.code"), nullable=True
    )
    certificate_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CertificateRecord(Base):
    """A certificate of the deployment's PKI (roots, issuers, seal maker, TSA, token signer)."""

    __tablename__ = "certificates"
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex
    role: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(512))
    issuer_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_ca: Mapped[bool] = mapped_column(default=False)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SealRecord(Base):
    """A GB/T 38540 seal (SESeal DER) owned by one department."""

    __tablename__ = "seals"
    es_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    name: Mapped[str] = mapped_column(String(200))
    seal_type: Mapped[int] = mapped_column(Integer)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    valid_start: Mapped[datetime]
    valid_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="active")
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Licence(Base):
    """An issued licence; the file itself is identified by its SM3 digest.

    Personal data is sealed (docs/encryption-at-rest.md): ``record`` holds the
    holder name and record under the licence's data key, ``data_key`` that key
    wrapped by the KEK named in ``data_kek``, and ``holder_name``/``holder``
    are NULL. Rows from before encryption keep them in clear until
    ``sealtrust registry encrypt``. Read them only through
    :mod:`trust.registry.sealed`.
    """

    __tablename__ = "licences"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type_code: Mapped[str] = mapped_column(String(16), index=True)
    # The version of the type definition the licence was issued under (its schema and
    # layout); NULL for licences issued before versions were recorded (migration 0008).
    type_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    holder_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    holder: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True),
                                                         nullable=True)
    record: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    data_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    data_kek: Mapped[str | None] = mapped_column(String(512), nullable=True, index=True)
    # HMAC-SM3 of the normalised holder identifier (trust.holder_ref): whose licence this is,
    # without the identity number; NULL when the type names no holder id (no holder sees it).
    holder_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="valid")
    status_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    file_sm3: Mapped[str] = mapped_column(String(64))
    seal_es_id: Mapped[str] = mapped_column(ForeignKey("seals.es_id"))
    key_uri: Mapped[str] = mapped_column(String(512))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    # Pre-0012 plain SHA-256 of the request, NULL once keyed (trust.registry.request_macs);
    # request_mac is HMAC-SM3 of it under the request key (trust.request_mac).
    request_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_mac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    superseded_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_licences_department_status", "department_code", "status"),
        # The expiry job and notices read live licences due by a date (migration 0013).
        Index("ix_licences_status_valid_to", "status", "valid_to"),
    )


class LicenceEvent(Base):
    """One status change of a licence, with time and reason (append-only)."""

    __tablename__ = "licence_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    licence_id: Mapped[str] = mapped_column(ForeignKey("licences.id"), index=True)
    at: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")


class Sequence(Base):
    """Named counters (licence sequence per type+authority, status-list index)."""

    __tablename__ = "sequences"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEntry(Base):
    """One appended audit record; ``leaf_hash`` is RFC 6962 over ``canonical``."""

    __tablename__ = "audit_entries"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(256), index=True)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Base):
    """A signed tree head: the log's size and root at a time, signed by the log key."""

    __tablename__ = "tree_heads"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[datetime]
    signed_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    signature_algorithm: Mapped[str] = mapped_column(String(64))
    key_spki_sha256: Mapped[str] = mapped_column(String(64))
    frontier: Mapped[bytes] = mapped_column(LargeBinary)  # compact range, 32-byte nodes


class ApiClient(Base):
    """A client of the HTTP API (a department system, a counter, the holder app).

    Only a SHA-256 digest of the 256-bit random secret is stored: with that
    much entropy a slow password hash adds latency to every request and no
    security.
    """

    __tablename__ = "api_clients"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200))  # comma-separated role names
    department_code: Mapped[str | None] = mapped_column(
        ForeignKey("departments.code"), nullable=True
    )
    secret_sha256: Mapped[str] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateWindow(Base):
    """Requests per client per fixed window, shared by every service node."""

    __tablename__ = "rate_windows"
    client: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class SeenToken(Base):
    """Replay cache: presentation-token jti values already checked online."""

    __tablename__ = "seen_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class BatchJob(Base):
    """A batch issuance job: visible to every node; never left running without a heartbeat.

    ``state`` is one of queued, running, done, failed; ``heartbeat_at`` is
    refreshed by the process holding the job, and a stale one marks it failed
    with ``reason`` (trust.registry.jobs).
    """

    __tablename__ = "batch_jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Grant(Base):
    """授权用证: a holder's scoped, time-limited grant to one counter, redeemable once.

    A one-licence grant names ``licence_id`` and its ``scope``; a service grant
    (一证通办) names ``service_code``/``service_version`` and the holder, its
    licences and their fields are the ``grant_licences`` rows.
    """

    __tablename__ = "grants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    licence_id: Mapped[str | None] = mapped_column(ForeignKey("licences.id"), index=True,
                                                   nullable=True)
    verifier_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    redeemed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    service_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    service_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    holder_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class GrantLicence(Base):
    """One licence of a service grant and the fields of it the counter may read."""

    __tablename__ = "grant_licences"
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id"), primary_key=True)
    licence_id: Mapped[str] = mapped_column(ForeignKey("licences.id"), primary_key=True)
    type_code: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(1000))  # comma-separated field names


class LicenceFile(Base):
    """The sealed PDF of a licence, kept apart so licence queries stay lean.

    ``pdf`` is the file encrypted under the licence's data key (or, for rows
    not yet migrated, the plain PDF; the format tells them apart).

    In the database so every service node can serve downloads; a deployment
    with tens of millions of licences moves this table to object storage.
    """

    __tablename__ = "licence_files"
    licence_id: Mapped[str] = mapped_column(ForeignKey("licences.id"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)


class OutboxItem(Base):
    """One durable unit of work (issue a case's licences, send a notification).

    Written in the transaction of the change that causes it, so the work
    exists exactly when the change does; workers claim it by lease
    (``lease_owner``/``lease_until``), and an expired lease makes it claimable
    again (trust.registry.outbox). ``payload`` carries references only (case
    codes, licence ids, holder refs), never names or identity numbers.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_outbox_claim", "topic", "state", "available_at"),)


class Case(Base):
    """An approved case (办件) from an approval system and the licences it produced.

    ``event_sha256`` is the SM3 of the canonical event, so the same event
    again is recognised and a different one under the same case code refused.
    ``pending`` holds the records to issue, sealed like licence records
    (trust.registry.cases), until the licences exist; then it is cleared.
    """

    __tablename__ = "cases"
    case_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    service_code: Mapped[str] = mapped_column(String(64))
    event_sha256: Mapped[str] = mapped_column(String(64))
    holder_ref: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), default="accepted")
    licence_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pending: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    data_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    data_kek: Mapped[str | None] = mapped_column(String(512), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    approved_at: Mapped[datetime]
    accepted_at: Mapped[datetime]
    issued_at: Mapped[datetime | None] = mapped_column(nullable=True)
