"""Domain errors -> HTTP responses, in one place.

Every error body is ``{"error": {"code": <stable machine code>, "message": ...}}``.
"""

from __future__ import annotations

from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import AuthError, ForbiddenError
from trust.errors import (
    ConflictError,
    CryptoError,
    InputError,
    NotFoundError,
    SealTrustError,
    TrustError,
)

STATUS_BY_ERROR: Final[tuple[tuple[type[SealTrustError], int], ...]] = (
    (AuthError, 401),
    (ForbiddenError, 403),
    (InputError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (TrustError, 422),
    (CryptoError, 503),
)


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    """The one error model of the API."""

    error: ErrorBody


def status_for(exc: SealTrustError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code,
                                                               "message": message}})


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(SealTrustError)
    async def _domain(_request: Request, exc: SealTrustError) -> JSONResponse:
        response = error_response(status_for(exc), exc.code, exc.message)
        if isinstance(exc, AuthError):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in exc.errors()[:20]
        )
        return error_response(422, "request.invalid", details or "invalid request")
