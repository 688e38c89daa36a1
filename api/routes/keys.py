"""Keys known to the registry, and their health."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.auth import Reader
from api.deps import DeploymentDep, SessionDep
from api.schemas import HealthOut, KeyOut
from hsm_adapters.errors import KeyStoreError
from trust.registry.models import KeyRecord

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("", operation_id="keys_list")
def list_keys(principal: Reader, session: SessionDep) -> list[KeyOut]:
    """Key URIs and algorithms (never key material); departments see their own keys."""
    stmt = select(KeyRecord).order_by(KeyRecord.uri)
    if principal.department_code:
        stmt = stmt.where(KeyRecord.department_code == principal.department_code)
    return [KeyOut(uri=k.uri, label=k.label, algorithm=k.algorithm, role=k.role,
                   department=k.department_code) for k in session.execute(stmt).scalars()]


@router.get("/health", operation_id="keys_health")
def health(principal: Reader, deployment: DeploymentDep, session: SessionDep) -> list[HealthOut]:
    """Sign-and-verify probe through every key visible to the caller."""
    out = []
    offline = deployment.offline_key_uris() if deployment.online else set()
    for record in list_keys(principal, session):
        if record.uri in offline:  # the roots stay offline (key roles): nothing to probe
            continue
        try:
            result = deployment.key(record.uri).health().to_dict()
        except KeyStoreError as exc:
            result = {"up": False, "adapter": record.uri.split(":", 1)[0], "uri": record.uri,
                      "code": exc.code, "detail": exc.message}
        out.append(HealthOut.model_validate(result))
    return out
