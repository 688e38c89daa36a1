"""Prometheus text-format metrics, per process (each node is scraped on its own).

Counters and a latency histogram kept in plain dicts under a lock: a handful
of series, no client library needed.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from fastapi import FastAPI, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The process's metric series."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.signatures: dict[str, int] = defaultdict(int)
        self.verifications: dict[tuple[str, str], int] = defaultdict(int)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            buckets = self.latency.setdefault(route, [0] * (len(_BUCKETS) + 1))
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            buckets[-1] += 1
            self.latency_sum[route] += seconds

    def count_signature(self, algorithm: str, n: int = 1) -> None:
        with self._lock:
            self.signatures[algorithm] += n

    def count_verification(self, kind: str, indication: str) -> None:
        with self._lock:
            self.verifications[(kind, indication)] += 1

    def render(self) -> str:
        out = [
            "# HELP sealtrust_requests_total HTTP requests by method, route and status.",
            "# TYPE sealtrust_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self.requests.items()):
                out.append(f'sealtrust_requests_total{{method="{method}",route="{route}",'
                           f'status="{status}"}} {n}')
            out += ["# HELP sealtrust_request_seconds HTTP request latency.",
                    "# TYPE sealtrust_request_seconds histogram"]
            for route, buckets in sorted(self.latency.items()):
                for bound, n in zip(_BUCKETS, buckets, strict=False):
                    out.append(
                        f'sealtrust_request_seconds_bucket{{route="{route}",le="{bound}"}} {n}'
                    )
                out.append(f'sealtrust_request_seconds_bucket{{route="{route}",le="+Inf"}} '
                           f"{buckets[-1]}")
                out.append(f'sealtrust_request_seconds_sum{{route="{route}"}} '
                           f"{self.latency_sum[route]:.6f}")
                out.append(f'sealtrust_request_seconds_count{{route="{route}"}} {buckets[-1]}')
            out += ["# HELP sealtrust_signatures_total Signatures made, by algorithm.",
                    "# TYPE sealtrust_signatures_total counter"]
            for alg, n in sorted(self.signatures.items()):
                out.append(f'sealtrust_signatures_total{{algorithm="{alg}"}} {n}')
            out += ["# HELP sealtrust_verifications_total Verifications, by kind and indication.",
                    "# TYPE sealtrust_verifications_total counter"]
            for (kind, indication), n in sorted(self.verifications.items()):
                out.append(f'sealtrust_verifications_total{{kind="{kind}",'
                           f'indication="{indication}"}} {n}')
        return "\n".join(out) + "\n"


class _MetricsMiddleware:
    """Pure ASGI middleware: BaseHTTPMiddleware would cost ~30% on small routes."""

    def __init__(self, app: ASGIApp, observe: Any) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.observe(scope, receive, send, self.app)


def install(app: FastAPI) -> Metrics:
    """Attach the request middleware and the ``/metrics`` route."""
    metrics = Metrics()
    app.state.metrics = metrics

    async def observe(scope: Scope, receive: Receive, send: Send,
                      inner: ASGIApp) -> None:
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await inner(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            metrics.observe_request(scope.get("method", ""), getattr(route, "path", "unmatched"),
                                    status, time.perf_counter() - start)

    app.add_middleware(_MetricsMiddleware, observe=observe)

    @app.get("/metrics", tags=["health"], operation_id="metrics",
             response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    def _metrics() -> Response:
        """Prometheus text exposition format."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return metrics
