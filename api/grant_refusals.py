"""Spending a grant, with a refused attempt kept in the audit log.

Threat: a counter probing grant ids (or trying another counter's grant) leaves no trace if
the refusal only rolls back with its request. The refusal is written in its own
transaction, and a grant named for another counter is a 403, not a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from api.auth import ForbiddenError, Principal
from api.deployment import Deployment
from trust import audit
from trust.registry.grants import GrantError, GrantVerifierError, record_refusal

__all__ = ["redeem_audited"]

R = TypeVar("R")


def redeem_audited(session: Session, deployment: Deployment, principal: Principal,
                   grant_id: str, now: datetime, redeem: Callable[[], R]) -> R:
    """Run ``redeem``; on a GrantError roll back, audit the refusal apart, and re-raise."""
    try:
        return redeem()
    except GrantError as exc:
        session.rollback()
        with deployment.registry.session() as log:
            if record_refusal(log, grant_id, verifier_id=principal.client_id, at=now,
                              actor=principal.client_id, error=exc):
                audit.sign_pending(log, deployment.key("audit"), now)
        if isinstance(exc, GrantVerifierError):
            raise ForbiddenError(exc.message, code=exc.code) from None
        raise
