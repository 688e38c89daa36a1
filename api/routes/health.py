"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.readiness import KeyStoreReadiness
from trust import sm2

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", operation_id="health_live")
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready", operation_id="health_ready", response_model=None)
def ready(request: Request) -> dict[str, Any] | JSONResponse:
    """The database answers, the SM2 self-test passed and every key store signs; else 503.

    Key stores are probed by signing (api/readiness.py), cached for 30 s.
    """
    checks: dict[str, str] = {}
    registry = request.app.state.registry
    try:
        with registry.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure as down
        checks["database"] = f"down: {type(exc).__name__}"
    result = sm2.self_test()
    checks["sm2"] = "ok" if result.passed else f"down: {result.detail}"
    if checks["database"] == "ok":
        key_stores: KeyStoreReadiness | None = getattr(request.app.state, "key_stores", None)
        if key_stores is not None:
            checks.update(key_stores.checks())
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ok else "down", "checks": checks}
    return body if ok else JSONResponse(status_code=503, content=body)
