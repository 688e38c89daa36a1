"""Load generator: requests/s and p50/p99 latency against `sealtrust serve` on loopback.

    .venv/bin/python benchmarks/load/loadgen.py --path /v1/trust/certificates \
        --concurrency 32 --duration 10

starts a node (a fresh deployment in a temporary home unless ``--home`` or
``--url`` is given), drives it with ``--concurrency`` asyncio workers over
httpx keep-alive connections for ``--duration`` seconds or ``--requests``
requests, whichever ends first, and then measures the same route in process
(``httpx.ASGITransport`` straight into the app, no sockets, no uvicorn) with
the same concurrency, so the two rates come from one run on one machine.

The target route is a parameter (``--path``, ``--method``, ``--body``);
``--qr offline|online`` issues a licence and a 300-s presentation code in the
home first and drives ``POST /v1/qr/verify`` with it (the first verdict is
printed, so a figure for failing verifications cannot pass unnoticed). The
node keeps its rate limiter on, with a limit high enough never to refuse, so
its cost is part of the figure. Client and server share the
machine: on 2 cores the Python client takes a large share of one, so the
loopback figure is a floor for the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

NO_LIMIT_ENV = {"SEALTRUST_RATE_LIMIT_REQUESTS": str(10**9)}


@dataclass(frozen=True)
class LoadResult:
    """What one load phase measured."""

    label: str
    path: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]

    def line(self) -> str:
        return (f"{self.label:<10} {self.path} c={self.concurrency}: {self.requests} req in "
                f"{self.seconds:.1f} s = {self.rps:,.0f} req/s, p50 {self.p50_ms:.1f} ms, "
                f"p99 {self.p99_ms:.1f} ms, errors {self.errors}, statuses {self.statuses}")


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


async def drive(client: httpx.AsyncClient, *, label: str, method: str, path: str,
                body: bytes | None, concurrency: int, duration_s: float,
                max_requests: int, warmup: int = 50) -> LoadResult:
    """Send requests from ``concurrency`` workers until the time or count bound."""
    headers = {"content-type": "application/json"} if body is not None else {}
    for _ in range(warmup):
        await client.request(method, path, content=body, headers=headers)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    sent = 0
    start = time.perf_counter()
    deadline = start + duration_s

    async def worker() -> None:
        nonlocal errors, sent
        while sent < max_requests and time.perf_counter() < deadline:
            sent += 1
            t0 = time.perf_counter()
            try:
                response = await client.request(method, path, content=body, headers=headers)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    latencies.sort()
    return LoadResult(label, path, concurrency, len(latencies), errors, seconds,
                      len(latencies) / seconds, _percentile(latencies, 0.5) * 1000,
                      _percentile(latencies, 0.99) * 1000, dict(sorted(statuses.items())))


async def loopback(url: str, **kw: Any) -> LoadResult:
    limits = httpx.Limits(max_connections=kw["concurrency"],
                          max_keepalive_connections=kw["concurrency"])
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        return await drive(client, label="loopback", **kw)


async def in_process(home: Path, **kw: Any) -> LoadResult:
    """The same route through the ASGI app in this process (no sockets, no uvicorn)."""
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(home=home, rate_limit_requests=10**9))
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]] = app.router.lifespan_context
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await drive(client, label="in-process", **kw)


def qr_token(home: Path) -> str:
    """A fresh 300-s presentation code for a new DL licence in ``home`` (issued in process)."""
    from datetime import date, timedelta

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth import Role, create_client
    from api.deployment import DEMO_DEPARTMENT, Deployment, Home, load_config
    from api.settings import Settings
    from signing.types import builtin_types

    deployment = Deployment(Home(home), load_config(Home(home)))
    try:
        with deployment.registry.session() as session:
            _, issuer = create_client(session, "load-issuer", frozenset({Role.ISSUER}),
                                      DEMO_DEPARTMENT)
            _, holder = create_client(session, "load-holder", frozenset({Role.HOLDER_APP}))
    finally:
        deployment.close()
    record = builtin_types().get("DL").example(1)
    record["valid_from"] = (date.today() - timedelta(days=30)).isoformat()
    record["valid_until"] = (date.today() + timedelta(days=365)).isoformat()
    with TestClient(create_app(Settings(home=home))) as client:
        issued = client.post("/v1/licences", json={"type": "DL", "record": record},
                             headers={"Authorization": f"Bearer {issuer}"})
        issued.raise_for_status()
        opened = client.post("/v1/holder/sessions", json={"holder_id": record["license_number"]},
                             headers={"Authorization": f"Bearer {holder}"})
        opened.raise_for_status()
        shown = client.post("/v1/presentations",
                            json={"licence_id": issued.json()["licence_id"], "ttl_s": 300},
                            headers={"Authorization": f"Bearer {holder}",
                                     "X-Holder-Session": opened.json()["session"]})
        shown.raise_for_status()
        token: str = shown.json()["token"]
        return token


def _prepare_home(home: Path | None, stack: ExitStack) -> Path:
    if home is not None:
        return home
    from api.deployment import init_deployment

    root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sealtrust-load-")))
    init_deployment(root / "home")
    return root / "home"


def run(args: argparse.Namespace) -> list[LoadResult]:
    """Both phases, as the command line asks."""
    from tests.server_support import running_servers

    body = args.body.encode() if args.body is not None else None
    results = []
    with ExitStack() as stack:
        home = _prepare_home(args.home, stack)
        if args.qr is not None:  # the 亮证 verification of one code, as a counter scans it
            args.method, body = "POST", json.dumps({"token": qr_token(home)}).encode()
            args.path = "/v1/qr/verify" + ("?offline=true" if args.qr == "offline" else "")
        kw = {"method": args.method, "path": args.path, "body": body,
              "concurrency": args.concurrency, "duration_s": args.duration,
              "max_requests": args.requests}
        url = args.url
        if url is None:
            nodes = stack.enter_context(running_servers(home, env=NO_LIMIT_ENV,
                                                        workers=args.workers))
            url = nodes[0].url
        if args.qr is not None:
            first = httpx.post(url + args.path, content=body,
                               headers={"content-type": "application/json"}, timeout=30).json()
            print(f"first verdict: {first['indication']} {first['sub_indication'] or ''}",
                  file=sys.stderr)
        results.append(_run(loopback(url, **kw)))
        if not args.no_in_process:
            results.append(_run(in_process(home, **kw)))
    return results


def _run(coro: Awaitable[LoadResult]) -> LoadResult:
    async def main() -> LoadResult:
        return await coro

    return asyncio.run(main())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--path", default="/v1/trust/certificates")
    p.add_argument("--method", default="GET")
    p.add_argument("--body", default=None, help="JSON request body")
    p.add_argument("--qr", choices=("offline", "online"), default=None,
                   help="verify one fresh presentation code (online: every repeat is a "
                        "replay, refused after the database check)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    p.add_argument("--requests", type=int, default=200_000, help="request cap per phase")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--home", type=Path, default=None, help="existing deployment")
    p.add_argument("--url", default=None, help="an already running node (skips starting one)")
    p.add_argument("--no-in-process", action="store_true")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    return p


def main() -> None:
    args = parser().parse_args()
    results = run(args)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for result in results:
            print(result.line())
        if len(results) == 2 and results[1].rps:
            print(f"loopback / in-process: {results[0].rps / results[1].rps:.0%}")


if __name__ == "__main__":
    main()
