"""Per-client rate limiting of the public endpoints, shared by every node.

Fixed windows counted in the database table ``rate_windows`` (one row per
client key and window) with one atomic upsert -- ``INSERT .. ON CONFLICT DO
UPDATE .. RETURNING count`` -- so any number of ``sealtrust serve`` processes
on one database share the counters. The client key is the credential's client
id when a valid credential is presented, else the remote address (uvicorn's
``--proxy-headers``/``--forwarded-allow-ips`` decide what that is behind a
proxy). An unverified client id is never used as a key: rotating made-up ids
must not escape the per-address limit.

The trade-off (docs/operations.md): one upsert per request is exact but costs
a database round trip per public request. With ``rate_limit_batch`` > 1 a
node pre-counts in process and flushes a key's pending count in one upsert
every ``rate_limit_batch`` requests or ``rate_limit_flush_ms``, whichever
comes first. The database count stays authoritative: as soon as the shared
count plus the local pending count comes within one batch of the limit, the
node goes back to one upsert per request, and a request is refused only on a
count the database returned. A node holds at most one batch in flight and one
pending per key, so it learns the shared count at least every two batches:
the overshoot is bounded by ``nodes x 2 x rate_limit_batch`` requests over
the limit per window (and pending counts of a node that is killed are lost).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Engine, Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api.limits import send_error
from trust.errors import SealTrustError
from trust.registry.models import RateWindow

__all__ = ["Decision", "RateLimitMiddleware", "RateLimiter", "client_key", "install"]

_log = logging.getLogger(__name__)
MAX_TRACKED_KEYS: Final = 100_000
_CREDENTIAL_CACHE_S: Final = 60.0
_TABLE = cast(Table, RateWindow.__table__)


@dataclass(frozen=True)
class Decision:
    """One request's verdict; ``count`` is the best known count in the window."""

    allowed: bool
    count: int
    retry_after_s: int


@dataclass
class _Slot:
    window: int
    shared: int = 0  # the last count the database returned for this key and window
    pending: int = 0  # admitted here, not yet sent to the database
    inflight: int = 0  # sent, database answer not back yet
    flushed_at: float = 0.0


def add_count(engine: Engine, key: str, window: int, n: int) -> int:
    """Add ``n`` to (key, window) atomically and return the shared count."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(_TABLE).values(client=key, window_start=window, count=n)
    elif dialect == "sqlite":
        stmt = sqlite.insert(_TABLE).values(client=key, window_start=window, count=n)
    else:  # pragma: no cover - only the two supported databases reach here
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = stmt.on_conflict_do_update(index_elements=["client", "window_start"],
                                      set_={"count": _TABLE.c.count + n})
    with engine.begin() as conn:
        return int(conn.execute(stmt.returning(_TABLE.c.count)).scalar_one())


def purge_before(engine: Engine, window: int) -> None:
    """Drop the rows of windows that ended (each node does this once per window)."""
    with engine.begin() as conn:
        conn.execute(delete(_TABLE).where(_TABLE.c.window_start < window))


class RateLimiter:
    """Fixed-window counters with an optional in-process pre-count (see module doc)."""

    def __init__(self, engine: Engine, *, limit: int, window_s: int, batch: int = 1,
                 flush_ms: int = 100, clock: Callable[[], float] = time.time) -> None:
        if limit <= 0 or window_s <= 0 or batch <= 0 or flush_ms < 0:
            raise ValueError("rate limit settings must be positive")
        self.engine = engine
        self.limit = limit
        self.window_s = window_s
        self.batch = batch
        self.flush_s = flush_ms / 1000
        self.clock = clock
        self._slots: dict[str, _Slot] = {}
        self._window = -1
        self._background: set[asyncio.Task[Any]] = set()

    async def hit(self, key: str) -> Decision:
        """Count one request by ``key`` and decide."""
        now = self.clock()
        window = int(now // self.window_s) * self.window_s
        retry = max(1, math.ceil(window + self.window_s - now))
        if window != self._window:
            await self._new_window(window)
        slot = self._slots.get(key)
        if slot is None:
            if len(self._slots) >= MAX_TRACKED_KEYS:  # bounded memory under many clients
                full, self._slots = self._slots, {}
                await self._flush(full)
            slot = self._slots.setdefault(key, _Slot(window, flushed_at=now))
        if self.batch == 1 or slot.shared + slot.inflight + slot.pending + self.batch >= \
                self.limit:
            if slot.inflight:  # let this node's own batches land first, so none is missed
                await asyncio.gather(*self._background, return_exceptions=True)
            count = await self._write(key, slot, self._take(slot, 1))  # exact: the DB decides
            return Decision(count <= self.limit, count, retry)
        slot.pending += 1
        if slot.inflight:  # never more than one batch in flight and one pending per key
            if slot.pending >= self.batch:
                await self._write(key, slot, self._take(slot, 0))
        elif slot.pending >= self.batch or now - slot.flushed_at >= self.flush_s:
            self._spawn(self._write(key, slot, self._take(slot, 0)))
        return Decision(True, slot.shared + slot.inflight + slot.pending, retry)

    async def flush(self) -> None:
        """Write every pending count (also called at a window change)."""
        await self._flush(self._slots)

    async def _flush(self, slots: dict[str, _Slot]) -> None:
        for key, slot in list(slots.items()):
            if slot.pending:
                await self._write(key, slot, self._take(slot, 0))
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _take(self, slot: _Slot, extra: int) -> int:
        """Move the pending count out of ``slot`` (synchronously: no await in between)."""
        n = slot.pending + extra
        slot.pending = 0
        slot.inflight += n
        slot.flushed_at = self.clock()
        return n

    async def _write(self, key: str, slot: _Slot, n: int) -> int:
        try:
            count = await run_in_threadpool(add_count, self.engine, key, slot.window, n)
        finally:
            slot.inflight -= n
        slot.shared = max(slot.shared, count)
        return count

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.warning("rate-limit flush failed: %s", type(task.exception()).__name__)

    async def _new_window(self, window: int) -> None:
        old_window, old_slots = self._window, self._slots
        self._window, self._slots = window, {}  # before any await: new hits use new slots
        if old_window >= 0:
            await self._flush(old_slots)
            await run_in_threadpool(purge_before, self.engine, window - self.window_s)


class RateLimitMiddleware:
    """ASGI middleware applying a :class:`RateLimiter` to paths under ``prefixes``."""

    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...], limit: int, window_s: int,
                 batch: int, flush_ms: int) -> None:
        self.app = app
        self.prefixes = prefixes
        self.limit, self.window_s, self.batch, self.flush_ms = limit, window_s, batch, flush_ms
        self._limiter: RateLimiter | None = None
        self._credentials: dict[str, tuple[float, str | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        if self._limiter is None:
            self._limiter = RateLimiter(state.registry.engine, limit=self.limit,
                                        window_s=self.window_s, batch=self.batch,
                                        flush_ms=self.flush_ms)
            state.rate_limiter = self._limiter
        try:
            decision = await self._limiter.hit(await self._key(scope, state))
        except SQLAlchemyError as exc:  # the shared count is unknown: refuse, do not guess
            _log.warning("rate limiter database error: %s", type(exc).__name__)
            await send_error(send, 503, "rate_limit.unavailable",
                             "the rate-limit store is unavailable; retry shortly",
                             ((b"retry-after", b"1"),))
            return
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        await send_error(send, 429, "rate_limited",
                         f"more than {self._limiter.limit} requests in "
                         f"{self._limiter.window_s} s; retry after {decision.retry_after_s} s",
                         ((b"retry-after", str(decision.retry_after_s).encode()),))

    async def _key(self, scope: Scope, state: Any) -> str:
        credential = _bearer(scope)
        if credential:
            client_id = await self._verified_client(credential, state)
            if client_id:
                return f"client:{client_id}"
        return client_key(scope)

    async def _verified_client(self, credential: str, state: Any) -> str | None:
        """The client id of a valid credential (cached by digest; the secret is not kept)."""
        digest = hashlib.sha256(credential.encode()).hexdigest()
        now = time.monotonic()
        cached = self._credentials.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        client_id = await run_in_threadpool(_authenticate, state.registry, credential)
        if len(self._credentials) >= 10_000:
            self._credentials.clear()
        self._credentials[digest] = (now + _CREDENTIAL_CACHE_S, client_id)
        return client_id


def _authenticate(registry: Any, credential: str) -> str | None:
    from api.auth import authenticate

    try:
        with registry.session() as session:
            return authenticate(session, credential).client_id
    except SealTrustError:
        return None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credential = value.decode("latin-1").partition(" ")
            return credential.strip() if scheme.lower() == "bearer" else None
    return None


def client_key(scope: Scope) -> str:
    """The remote-address key of a request (what an anonymous caller is counted as)."""
    peer = scope.get("client")
    return f"addr:{peer[0] if peer else 'unknown'}"


def install(app: Any, *, prefixes: tuple[str, ...], limit: int, window_s: int, batch: int,
            flush_ms: int) -> None:
    """Add :class:`RateLimitMiddleware` to a Starlette/FastAPI ``app`` (outermost so far)."""
    app.add_middleware(RateLimitMiddleware, prefixes=prefixes, limit=limit, window_s=window_s,
                       batch=batch, flush_ms=flush_ms)
