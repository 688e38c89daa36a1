"""Annotated dependency aliases shared by the routers, and who a request acts for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.auth import AuthError, Principal, Role, require
from api.deployment import Deployment
from api.metrics import Metrics
from trust import audit
from trust.errors import NotFoundError
from trust.holder_session import HolderSessionError
from trust.registry.models import Licence

HOLDER_SESSION_HEADER: Final = "X-Holder-Session"


async def _deployment(request: Request) -> Deployment:
    deployment: Deployment = request.app.state.deployment
    return deployment


def _session(request: Request) -> Iterator[Session]:
    """One transaction per request; entries it appended get a signed tree head.

    Per the deployment's head policy: before commit when one is due, else by
    the process's background flusher within the policy's interval.
    """
    deployment: Deployment = request.app.state.deployment
    with deployment.registry.session() as session:
        yield session
        if audit.PENDING_HEAD in session.info:
            audit.sign_pending(session, deployment.key("audit"), datetime.now(UTC),
                               deployment.audit_heads)


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def _now() -> datetime:
    return datetime.now(UTC)


DeploymentDep = Annotated[Deployment, Depends(_deployment)]
# scope="function": commit (and sign a due audit head) before the response is sent, so a
# client never sees success for a write that another node cannot read yet or that failed.
SessionDep = Annotated[Session, Depends(_session, scope="function")]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
Now = Annotated[datetime, Depends(_now)]


@dataclass(frozen=True)
class Access:
    """A caller and, for the holder app, the holder its session names (keyed hash)."""

    principal: Principal
    holder_ref: str | None = None

    def check(self, licence: Licence) -> None:
        """Auditors see every licence, issuers their department's, the holder app its holder's.

        Threats: a holder app (or a stolen holder-app credential) enumerating
        other people's licences; an issuer reading another department's. A
        holder who may not see a licence is told it does not exist, so licence
        ids cannot be probed through the holder API.
        """
        roles = self.principal.roles
        if Role.AUDITOR in roles:
            return
        if Role.ISSUER in roles and self.principal.department_code == licence.department_code:
            return
        if (Role.HOLDER_APP in roles and self.holder_ref is not None
                and licence.holder_ref == self.holder_ref):
            return
        if Role.ISSUER in roles:
            self.principal.require_department(licence.department_code)
        raise NotFoundError(f"no licence {licence.id!r}", code="licence.not_found")


def holder_ref_of(request: Request, principal: Principal, now: datetime) -> str:
    """The holder named by the request's session (``X-Holder-Session``), or 401."""
    token = request.headers.get(HOLDER_SESSION_HEADER, "").strip()
    if not token:
        raise AuthError(f"a holder session is required ({HOLDER_SESSION_HEADER} header; "
                        "POST /v1/holder/sessions)", code="holder.session_required")
    deployment: Deployment = request.app.state.deployment
    try:
        return deployment.session_key().open(token, client_id=principal.client_id,
                                             now=now).holder_ref
    except HolderSessionError as exc:
        raise AuthError(exc.message, code=exc.code) from None


def _licence_reader(request: Request, principal: Annotated[Principal, Depends(
        require(Role.ISSUER, Role.AUDITOR, Role.HOLDER_APP))]) -> Access:
    if principal.roles & {Role.AUDITOR, Role.ISSUER}:
        return Access(principal)
    return Access(principal, holder_ref_of(request, principal, datetime.now(UTC)))


def _holder(request: Request, principal: Annotated[Principal, Depends(
        require(Role.HOLDER_APP))]) -> Access:
    return Access(principal, holder_ref_of(request, principal, datetime.now(UTC)))


# Who reads licences: auditors, issuers (their department), the holder app (with a session).
LicenceReader = Annotated[Access, Depends(_licence_reader)]
# The holder app acting for one holder: presentations and grants.
Holder = Annotated[Access, Depends(_holder)]
