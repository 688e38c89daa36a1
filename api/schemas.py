"""Request and response models of the HTTP API (kept apart from the ORM tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class DepartmentIn(BaseModel):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")
    name: str = Field(min_length=1, max_length=200)
    uscc: str = Field(min_length=18, max_length=18)
    region: str = Field(default="", max_length=12)
    algorithms: list[str] = Field(default=["sm2", "rsa"], min_length=1, max_length=2)


class DepartmentOut(BaseModel):
    code: str
    name: str
    uscc: str
    region: str
    keys: list[str] = []


class SealIn(BaseModel):
    department: str
    valid_from: datetime | None = None
    years: int = Field(default=3, ge=1, le=10)


class SealOut(BaseModel):
    es_id: str
    department: str
    name: str
    status: str
    valid_start: datetime
    valid_end: datetime
    revoked_at: datetime | None = None
    revoke_reason: str | None = None


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class KeyOut(BaseModel):
    uri: str
    label: str
    algorithm: str
    role: str
    department: str | None


class HealthOut(BaseModel):
    up: bool
    adapter: str
    uri: str
    code: str
    detail: str


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    kind: str
    actor: str
    subject: str
    canonical: str
    leaf_hash: str


class TreeHeadOut(BaseModel):
    size: int
    root_hash: str
    at: datetime
    signed_bytes: str
    signature: str
    signature_algorithm: str
    key_spki_sha256: str


class ProofOut(BaseModel):
    leaf_hash: str | None = None
    proof: list[str]
    size: int
    old_size: int | None = None


class CertificateOut(BaseModel):
    role: str
    subject: str
    fingerprint_sha256: str
    is_ca: bool
    not_before: datetime
    not_after: datetime
    pem: str


class Problem(BaseModel):
    detail: dict[str, Any]
