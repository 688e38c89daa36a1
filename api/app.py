"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.routes import health
from api.settings import Settings
from trust.registry import Registry, migrate


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (environment when omitted)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate(settings.db_url)
        app.state.registry = Registry(settings.db_url)
        try:
            yield
        finally:
            app.state.registry.close()

    app = FastAPI(
        title="SealTrust",
        version="0.1.0",
        description="Electronic licences and seals: issue, seal, verify, show (亮证).",
        lifespan=lifespan,
        responses={422: {"model": errors.ErrorResponse}, 500: {"model": errors.ErrorResponse}},
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(health.router)
    return app
