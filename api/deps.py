"""Annotated dependency aliases shared by the routers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.deployment import Deployment
from api.metrics import Metrics
from trust import audit


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
