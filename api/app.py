"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import errors, limits, metrics, ratelimit
from api.deployment import Deployment, Home, load_config
from api.lifecycle_schedule import DailyLifecycle, parse_daily_at
from api.readiness import KeyStoreReadiness
from api.routes import (
    audit,
    counter,
    departments,
    health,
    keys,
    licences,
    presentation,
    qr,
    seals,
    trust,
    wallet,
)
from api.routes import cases as case_routes
from api.routes import lifecycle as lifecycle_routes
from api.routes import services as services_routes
from api.routes import verification as verification_routes
from api.services import catalogue_for
from api.settings import Settings
from api.sm2_batcher import SignatureBatcher, batching_wanted
from api.worker import WorkerThread, deployment_worker, worker_id
from trust import sm4_gcm
from trust.registry import migrate

WEB = Path(__file__).parent / "web"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (environment when omitted)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        home = Home(settings.home)
        config = load_config(home)
        migrate(home.database_url())
        deployment = Deployment(home, config)
        deployment.online = True  # the root keys stay offline (key roles)
        deployment.defer_audit_heads()  # one flusher per worker process; close() signs a last head
        app.state.deployment = deployment
        app.state.service_catalogue = catalogue_for(home.root)  # a bad definition stops start-up
        app.state.registry = deployment.registry
        app.state.key_stores = KeyStoreReadiness(deployment)
        if deployment.registry.data_keys is not None:
            # Choose the SM4-GCM backend (its self-test: ~6 ms) now, not in the first request.
            sm4_gcm.backend_name()
        # QR checks of concurrent requests verified in one batch where that pays (crypto_mb).
        app.state.sm2_batcher = SignatureBatcher() if batching_wanted() else None
        # The outbox worker (case issuance, notifications); any number may run (leases).
        worker = WorkerThread(deployment_worker(deployment, settings),
                              idle=settings.worker_idle_s).start() if settings.worker else None
        # The daily lifecycle run (expiry, expiry notices); each day claimed by one process.
        daily_at = parse_daily_at(settings.lifecycle_daily_at)
        daily = DailyLifecycle(deployment, daily_at, settings.expiry_notice_days,
                               worker_id()).start() if daily_at is not None else None
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if daily is not None:
                daily.stop()
            deployment.close()

    app = FastAPI(
        title="SealTrust",
        version="0.1.0",
        description="Electronic licences and seals: issue, seal, verify, show (亮证).",
        lifespan=lifespan,
        responses={
            401: {"model": errors.ErrorResponse, "description": "credentials missing/invalid"},
            403: {"model": errors.ErrorResponse, "description": "role or department forbids"},
            404: {"model": errors.ErrorResponse, "description": "no such object"},
            409: {"model": errors.ErrorResponse, "description": "conflicts with stored state"},
            413: {"model": errors.ErrorResponse, "description": "request too large"},
            422: {"model": errors.ErrorResponse, "description": "invalid input"},
            429: {"model": errors.ErrorResponse, "description": "rate limited"},
            503: {"model": errors.ErrorResponse, "description": "dependency down"},
        },
    )
    app.state.settings = settings
    errors.install(app)
    ratelimit.install(app, prefixes=settings.rate_limit_paths, limit=settings.rate_limit_requests,
                      window_s=settings.rate_limit_window_s, batch=settings.rate_limit_batch,
                      flush_ms=settings.rate_limit_flush_ms)
    limits.install(app, max_body_bytes=settings.max_upload_bytes,
                   timeout_s=settings.request_timeout_s)
    metrics.install(app)  # outermost: also counts 413/429/503 answered by the two above
    # The QR check first: the routers are matched in order, so its path is found at once
    # (~0.1 ms a request behind all the others); no other path starts with /v1/qr.
    for module in (qr, health, departments, seals, keys, licences, audit, trust, presentation):
        app.include_router(module.router)
    app.include_router(verification_routes.router)
    app.include_router(lifecycle_routes.router)
    app.include_router(case_routes.router)
    app.include_router(services_routes.router)
    app.include_router(counter.router)  # 一证通办 (issue 14)
    app.include_router(wallet.router)  # 证照夹 (issue 14)
    app.mount("/static", StaticFiles(directory=WEB), name="static")

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/verify")

    @app.get("/verify", include_in_schema=False)
    def _page() -> FileResponse:
        return FileResponse(WEB / "verify.html", media_type="text/html; charset=utf-8")

    @app.get("/counter", include_in_schema=False)
    def _counter_page() -> FileResponse:  # 一证通办 at the counter (issue 14)
        return FileResponse(WEB / "counter.html", media_type="text/html; charset=utf-8")

    return app
