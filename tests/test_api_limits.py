"""Service limits: body size while streaming, timeouts, shared rate limits, no leaked secrets."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.deployment import PASSWORD_ENV, Home
from api.limits import RequestLimits
from api.ratelimit import RateLimiter, RateLimitMiddleware
from api.settings import Settings
from tests.api_support import Api
from trust.registry import make_engine, migrate
from trust.registry.models import RateWindow

# -- body size and timeouts on a bare app: the middleware's own behaviour ----------------


def _tiny_app(limit: int = 1000, timeout_s: float = 5.0) -> tuple[FastAPI, dict[str, int]]:
    seen = {"bytes": 0, "calls": 0, "finished": 0}
    app = FastAPI()

    @app.post("/echo")
    async def echo(payload: dict[str, Any]) -> dict[str, int]:
        seen["calls"] += 1
        return {"keys": len(payload)}

    @app.get("/slow-async")
    async def slow_async() -> dict[str, str]:
        await asyncio.sleep(5)
        seen["finished"] += 1
        return {"done": "late"}

    @app.get("/slow-sync")
    def slow_sync() -> dict[str, str]:
        time.sleep(1.5)
        seen["finished"] += 1
        return {"done": "late"}

    app.add_middleware(RequestLimits, max_body_bytes=limit, timeout_s=timeout_s)
    return app, seen


def test_declared_oversize_body_is_refused_before_reading() -> None:
    """Content-Length above the limit: 413 and ``receive`` is never called."""
    app, seen = _tiny_app(limit=100)
    middleware = RequestLimits(app, max_body_bytes=100, timeout_s=5)
    sent: list[dict[str, Any]] = []
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 10_000, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/echo", "headers":
             [(b"content-length", b"10000"), (b"content-type", b"application/json")]}
    asyncio.run(middleware(scope, receive, send))
    assert received == 0 and seen["calls"] == 0
    assert sent[0]["status"] == 413
    assert b'"request.too_large"' in sent[1]["body"]


def test_chunked_body_is_cut_off_while_streaming() -> None:
    """No Content-Length: bytes are counted as they arrive; reading stops past the limit."""
    app, seen = _tiny_app(limit=1000)
    middleware = RequestLimits(app, max_body_bytes=1000, timeout_s=5)
    sent: list[dict[str, Any]] = []
    pulled = 0

    async def receive() -> dict[str, Any]:  # 1 MB offered in 100-byte chunks
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 100, "more_body": pulled < 10_000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/echo", "query_string": b"",
             "headers": [(b"content-type", b"application/json")]}
    asyncio.run(middleware(scope, receive, send))
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]
    assert b'"request.too_large"' in sent[1]["body"]
    assert seen["calls"] == 0
    assert pulled == 11  # 1,100 bytes: the first chunk past the limit, no further


def test_within_limit_and_malformed_length() -> None:
    app, seen = _tiny_app(limit=1000)
    with TestClient(app) as client:
        assert client.post("/echo", json={"a": 1, "b": 2}).json() == {"keys": 2}
        bad = client.post("/echo", content=b"{}", headers={"content-length": "12x"})
    assert bad.status_code in (400, 422)  # the HTTP stack or our check; never a 500
    assert seen["calls"] == 1


@pytest.mark.parametrize("path", ["/slow-async", "/slow-sync"])
def test_timeout_answers_503_on_time(path: str) -> None:
    app, seen = _tiny_app(timeout_s=0.3)
    with TestClient(app) as client:
        response = client.get(path)
        finished_when_answered = seen["finished"]
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "request.timeout"
    assert response.headers["retry-after"] == "1"
    # Answered at the timeout, not when the route finished: an ordering, not a stopwatch.
    assert finished_when_answered == 0


# -- the real service: limits from settings -------------------------------------------------


@pytest.fixture(scope="module")
def limited(api: Api) -> Iterator[TestClient]:
    """A second app on the same deployment with small limits and exact rate counting."""
    settings = Settings(home=api.home, max_upload_bytes=4096, rate_limit_requests=5,
                        rate_limit_window_s=3600, rate_limit_batch=1)
    with TestClient(create_app(settings)) as client:
        yield client


def test_oversize_upload_gets_413_on_the_service(limited: TestClient, api: Api) -> None:
    files = {"files": ("big.pdf", b"%PDF-1.7\n" + b"0" * 10_000, "application/pdf")}
    response = limited.post("/v1/verify", files=files, headers=api.headers("verifier"))
    assert response.status_code == 413, response.text
    assert "4096" in response.json()["error"]["message"]


def test_malformed_json_gets_422_on_the_service(limited: TestClient, api: Api) -> None:
    response = limited.post("/v1/seals", content=b"{not json",
                            headers={**api.headers("seal_admin"),
                                     "content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request.invalid"


def _count(api: Api, key: str) -> int:
    engine = make_engine(Home(api.home).database_url())
    try:
        with engine.connect() as conn:
            return int(sum(conn.execute(select(RateWindow.count).where(
                RateWindow.client == key)).scalars()))
    finally:
        engine.dispose()


def test_public_routes_are_rate_limited_per_client(limited: TestClient, api: Api) -> None:
    codes = [limited.get("/v1/trust/certificates").status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    refused = limited.get("/v1/trust/status-lists")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert _count(api, "addr:testclient") == 8  # one row, every request counted once
    # A valid credential is its own client; a made-up one is still the address.
    own = limited.get("/v1/trust/certificates", headers=api.headers("verifier"))
    assert own.status_code == 200
    fake = limited.get("/v1/trust/certificates", headers={"Authorization": "Bearer st_ab_cd"})
    assert fake.status_code == 429
    # Protected and health routes are not counted against the public budget.
    assert limited.get("/health/live").status_code == 200
    assert limited.get("/v1/seals", headers=api.headers("auditor")).status_code == 200
    assert 'route="unmatched",status="429"} 4' in limited.get("/metrics").text


# -- the limiter itself: batching keeps the database authoritative ---------------------------


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _limiter(url: str, clock: _Clock, **kw: int) -> RateLimiter:
    return RateLimiter(make_engine(url), clock=clock, **kw)


def test_batched_limiter_is_exact_on_one_node(db_url: str) -> None:
    migrate(db_url)
    clock = _Clock(1_000_000.0)
    limiter = _limiter(db_url, clock, limit=50, window_s=60, batch=10, flush_ms=10_000)

    async def run() -> list[bool]:
        out = [(await limiter.hit("k")).allowed for _ in range(60)]
        await limiter.flush()
        return out

    allowed = asyncio.run(run())
    assert allowed == [True] * 50 + [False] * 10
    with limiter.engine.connect() as conn:
        assert conn.execute(select(RateWindow.count)).scalar_one() == 60
    limiter.engine.dispose()


def test_two_nodes_share_the_counter_with_bounded_overshoot(db_url: str) -> None:
    migrate(db_url)
    clock = _Clock(2_000_000.0)
    nodes = [_limiter(db_url, clock, limit=100, window_s=60, batch=8, flush_ms=10_000)
             for _ in range(2)]

    async def run() -> int:
        admitted = 0
        for i in range(300):  # interleaved, as a load balancer would
            admitted += (await nodes[i % 2].hit("k")).allowed
        return admitted

    admitted = asyncio.run(run())
    assert 100 <= admitted <= 100 + 2 * 2 * 8  # nodes x 2 x batch (api.ratelimit)
    # A new window starts from zero and purges ended windows.
    clock.t += 120

    async def later() -> bool:
        allowed = (await nodes[0].hit("k")).allowed
        await nodes[0].flush()
        return allowed

    assert asyncio.run(later())
    with nodes[0].engine.connect() as conn:
        rows = conn.execute(select(RateWindow.window_start)).scalars().all()
    assert rows == [int(clock.t // 60) * 60]
    for node in nodes:
        node.engine.dispose()


def test_database_outage_gives_503_not_500(tmp_path: Any) -> None:
    """No rate_windows table (or no database): a clean 503, never a crash."""
    app = FastAPI()

    @app.get("/v1/trust/x")
    def public() -> dict[str, str]:
        return {"ok": "yes"}

    app.state.registry = type("R", (), {"engine": make_engine(f"sqlite:///{tmp_path}/empty.db")})
    app.add_middleware(RateLimitMiddleware, prefixes=("/v1/trust/",), limit=5, window_s=60,
                       batch=1, flush_ms=100)
    with TestClient(app) as client:
        response = client.get("/v1/trust/x")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "rate_limit.unavailable"


def test_limiter_rejects_nonsense_settings(tmp_path: Any) -> None:
    with pytest.raises(ValueError):
        RateLimiter(make_engine(f"sqlite:///{tmp_path}/x.db"), limit=0, window_s=60)


# -- secrets never leak ----------------------------------------------------------------------


def test_default_secret_refused_in_production() -> None:
    with pytest.raises(ValueError, match="SEALTRUST_SECRET_KEY"):
        Settings(mode="production")
    assert Settings(mode="production", secret_key="s" * 32).mode == "production"


def test_no_secret_or_pin_in_logs_or_responses(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_password = Home(api.home).password_file.read_text().strip()
    wrong_password = "wrong-keystore-password-7f3a9c"
    secret = api.tokens["auditor"].split("_", 2)[2]
    client_id = api.tokens["auditor"].split("_", 2)[1]
    forged_secret = "forged-secret-Zq81"
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    with TestClient(create_app(Settings(home=api.home))) as client:
        for header in (f"Bearer st_{client_id}_{forged_secret}", f"Bearer {api.tokens['auditor']}x",
                       f"Basic {secret}", f"Bearer {secret}"):
            response = client.get("/v1/audit/head", headers={"Authorization": header})
            assert response.status_code == 401
            bodies.append(response.text + str(response.headers))
    monkeypatch.setenv(PASSWORD_ENV, wrong_password)
    with TestClient(create_app(Settings(home=api.home)), raise_server_exceptions=False) as client:
        response = client.get("/v1/trust/trust-list")  # opens the root key with the PIN
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "keystore.pin"
        bodies.append(response.text + str(response.headers))
    text = "\n".join(bodies) + "\n" + caplog.text
    for leaked in (real_password, wrong_password, secret, forged_secret):
        assert leaked not in text
