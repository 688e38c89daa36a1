"""API credentials, roles and separation of duties.

A credential is ``st_<client id>_<secret>`` with a 256-bit random secret; the
database keeps only its SHA-256. Roles are exclusive where GB/T 39786 wants
separation of duties: one client is never both seal administrator and issuer,
an auditor holds no other role, and a CA operator (who makes departments and
so has the issuing CA certify their keys) is neither seal administrator nor
issuer, so no single client can both obtain a certificate and use it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from trust.errors import ConflictError, InputError, SealTrustError
from trust.registry.models import ApiClient, Department


class Role(StrEnum):
    SEAL_ADMIN = "seal_admin"
    ISSUER = "issuer"
    VERIFIER = "verifier"
    AUDITOR = "auditor"
    HOLDER_APP = "holder_app"
    CA_OPERATOR = "ca_operator"
    # An approval system (审批系统) posting "case approved" events for its department (api.cases).
    APPROVAL_SYSTEM = "approval_system"


class AuthError(SealTrustError):
    """Missing or invalid credentials (HTTP 401)."""

    code = "auth.unauthenticated"


class ForbiddenError(SealTrustError):
    """Authenticated, but the role or department does not allow this (HTTP 403)."""

    code = "auth.forbidden"


_EXCLUSIVE = (
    frozenset({Role.SEAL_ADMIN, Role.ISSUER}),
    frozenset({Role.CA_OPERATOR, Role.SEAL_ADMIN}),
    frozenset({Role.CA_OPERATOR, Role.ISSUER}),
    # Cases issue licences: the same separation as an issuer's.
    frozenset({Role.APPROVAL_SYSTEM, Role.SEAL_ADMIN}),
    frozenset({Role.APPROVAL_SYSTEM, Role.CA_OPERATOR}),
)


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    client_id: str
    name: str
    roles: frozenset[Role]
    department_code: str | None

    def require_department(self, department_code: str) -> None:
        """A department may act only on its own seals, keys and licences."""
        if self.department_code != department_code:
            raise ForbiddenError(
                f"client {self.client_id} belongs to department "
                f"{self.department_code or '(none)'}, not {department_code}"
            )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_roles(roles: frozenset[Role], department_code: str | None) -> None:
    """Refuse role combinations that break separation of duties."""
    if not roles:
        raise InputError("a client needs at least one role")
    for exclusive in _EXCLUSIVE:
        if exclusive <= roles:
            raise InputError(f"separation of duties: {' and '.join(sorted(exclusive))} "
                             "are different clients")
    if Role.AUDITOR in roles and len(roles) > 1:
        raise InputError("separation of duties: an auditor holds no other role")
    if roles & {Role.SEAL_ADMIN, Role.ISSUER, Role.APPROVAL_SYSTEM} and not department_code:
        raise InputError("seal administrators, issuers and approval systems belong to a "
                         "department")


def create_client(
    session: Session, name: str, roles: frozenset[Role], department_code: str | None = None
) -> tuple[ApiClient, str]:
    """Create a client; returns it and its credential (shown once, never stored)."""
    validate_roles(roles, department_code)
    if department_code is not None and session.get(Department, department_code) is None:
        raise InputError(f"unknown department {department_code!r}")
    client_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    client = ApiClient(id=client_id, name=name, roles=",".join(sorted(roles)),
                       department_code=department_code, secret_sha256=_digest(secret))
    session.add(client)
    session.flush()
    return client, f"st_{client_id}_{secret}"


def authenticate(session: Session, credential: str) -> Principal:
    """The principal behind a credential, or AuthError (never says which part was wrong)."""
    parts = credential.split("_", 2)
    if len(parts) != 3 or parts[0] != "st" or not parts[1] or not parts[2]:
        raise AuthError("malformed credential")
    client = session.get(ApiClient, parts[1])
    expected = client.secret_sha256 if client is not None else _digest("x")
    if not hmac.compare_digest(expected, _digest(parts[2])) or client is None or client.disabled:
        raise AuthError("invalid credential")
    return Principal(client.id, client.name,
                     frozenset(Role(r) for r in client.roles.split(",") if r),
                     client.department_code)


def disable_client(session: Session, client_id: str) -> None:
    client = session.get(ApiClient, client_id)
    if client is None:
        raise ConflictError(f"no client {client_id}")
    client.disabled = True


def _principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential:
        raise AuthError("credentials required: Authorization: Bearer st_<id>_<secret>")
    with request.app.state.registry.session() as session:
        return authenticate(session, credential.strip())


def require(*roles: Role) -> Callable[[Request], Principal]:
    """A dependency admitting callers holding any of ``roles``."""
    allowed = frozenset(roles)

    def dependency(request: Request) -> Principal:
        principal = _principal(request)
        if not principal.roles & allowed:
            raise ForbiddenError(
                f"requires role {' or '.join(sorted(allowed))}; client has "
                f"{', '.join(sorted(principal.roles)) or 'none'}"
            )
        return principal

    return dependency


SealAdmin = Annotated[Principal, Depends(require(Role.SEAL_ADMIN))]
Issuer = Annotated[Principal, Depends(require(Role.ISSUER))]
Verifier = Annotated[Principal, Depends(require(Role.VERIFIER))]
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
HolderApp = Annotated[Principal, Depends(require(Role.HOLDER_APP))]
CaOperator = Annotated[Principal, Depends(require(Role.CA_OPERATOR))]
ApprovalSystem = Annotated[Principal, Depends(require(Role.APPROVAL_SYSTEM))]
Reader = Annotated[Principal, Depends(require(Role.AUDITOR, Role.SEAL_ADMIN, Role.ISSUER))]
