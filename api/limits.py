"""Request limits enforced before any route runs: body size and time to first byte.

A pure ASGI middleware, so the limit applies while the body streams in: a
``Content-Length`` above ``max_upload_bytes`` is refused before one byte is
read, and a chunked body is counted as it arrives and cut off the moment it
passes the limit (nothing is buffered beyond it). Routes therefore never see
an oversize body, and the client gets the API's JSON error model with 413,
not a 400 from the body parser or a 500.

The timeout bounds the time until the response *starts*: a request that has
not begun answering after ``request_timeout_s`` gets 503 ``request.timeout``.
Streaming responses (NDJSON verification reports) are not cut once they have
started. A synchronous route keeps its worker thread until it returns (Python
cannot kill a thread); the client is answered on time regardless and the
late result is discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestLimits", "install"]

_log = logging.getLogger(__name__)
_JSON: Final = (b"content-type", b"application/json")


class _BodyTooLarge(Exception):
    """Raised from ``receive`` when the streamed body passes the limit."""


async def send_error(send: Send, status: int, code: str, message: str,
                     headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """Answer with the API's error model (``api.errors``) from ASGI middleware."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [_JSON, (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """ASGI middleware: 413 for oversize bodies, 503 when no answer starts in time."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, timeout_s: float) -> None:
        if max_body_bytes <= 0 or timeout_s <= 0:
            raise ValueError("limits must be positive")
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await send_error(send, 422, "request.invalid", "malformed Content-Length header")
            return
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(send)
            return
        await self._run(scope, _counting(receive, self.max_body_bytes), send)

    async def _too_large(self, send: Send) -> None:
        await send_error(send, 413, "request.too_large",
                         f"request body larger than {self.max_body_bytes} bytes "
                         "(setting max_upload_bytes)", ((b"connection", b"close"),))

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state = {"timed_out": False, "too_large": False}

        async def guarded_send(message: Message) -> None:
            if state["timed_out"] or state["too_large"]:
                return  # the client already has its 503/413
            if message["type"] == "http.response.start" and not started.done():
                started.set_result(None)
            await send(message)

        async def guarded_receive() -> Message:
            try:
                return await receive()
            except _BodyTooLarge:
                # The body parser turns any receive error into its own 400; this
                # flag makes the 413 win whatever the route stack does with it.
                if not started.done():
                    state["too_large"] = True
                    await self._too_large(send)
                raise

        task = asyncio.ensure_future(self.app(scope, guarded_receive, guarded_send))
        task.add_done_callback(_consume)
        try:
            await asyncio.wait({task, started}, timeout=self.timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server gave up on this request: so do we
            task.cancel()
            raise
        if not task.done() and not started.done():
            state["timed_out"] = True
            task.cancel()
            _log.warning("request timed out after %.1f s: %s %s", self.timeout_s,
                         scope.get("method"), scope.get("path"))
            await send_error(send, 503, "request.timeout",
                             f"no answer within {self.timeout_s:g} s (setting request_timeout_s)",
                             ((b"retry-after", b"1"),))
            return
        try:
            await task
        except _BodyTooLarge:
            if not state["too_large"] and not started.done():
                await self._too_large(send)
        except Exception:
            if state["too_large"]:
                return  # a parser's reaction to the cut-off body; the 413 is sent
            raise


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a cancelled/abandoned task's exception so asyncio does not log it."""
    if not task.cancelled():
        with contextlib.suppress(BaseException):
            task.exception()


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None when absent, -1 when malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not text.isdigit() or len(text) > 18:
                return -1
            return int(text)
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises once more than ``limit`` body bytes have arrived."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge
        return message

    return wrapped


def install(app: Any, *, max_body_bytes: int, timeout_s: float) -> None:
    """Add :class:`RequestLimits` to a Starlette/FastAPI ``app`` (outermost so far)."""
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes, timeout_s=timeout_s)
