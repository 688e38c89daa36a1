"""The QR check's hot path (issue 15): one decode per token, the offline check from the
cached lists with no I/O (so it may run on the event loop), and no per-request log line.

Verdicts of the cached path are compared with the full path (which reads the registry)
on valid, tampered and malformed tokens, so the shortcut cannot drift from the contract.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
import uvicorn
from click.testing import CliRunner

import trust.token.verify as verify_module
import verification.qr as qr_module
from api import routes as routes_package
from api.app import create_app
from api.cli import cli as cli_main
from api.settings import Settings
from tests.api_support import Api
from tests.test_qr_service import deployment, issue_licence, present, verify
from trust.indications import SubIndication
from trust.token import codec
from verification.qr import QrVerifier, result_view


def _counting_decoder(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def counting(text: str) -> codec.DecodedToken:
        calls.append(text)
        return codec.decode_token(text)

    monkeypatch.setattr(qr_module, "decode_token", counting)
    monkeypatch.setattr(verify_module, "decode_token", counting)
    return calls


def _tampered(token: str) -> str:
    """One Base45 character changed in the middle of the signed bytes."""
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def test_a_token_is_decoded_once_per_check(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    dep = deployment(api)
    try:
        verifier = QrVerifier(dep.registry)
        token = present(api, issue_licence(api, 601)[0])["token"]
        now = datetime.now(UTC)
        assert verifier.verify(token, now, online=False).passed  # builds the caches
        calls = _counting_decoder(monkeypatch)
        for online in (False, True):
            calls.clear()
            assert verifier.verify(token, now, online=online).passed
            assert len(calls) == 1, (online, len(calls))
    finally:
        dep.close()


def test_cached_offline_check_reads_no_database_and_agrees_with_the_full_one(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    dep = deployment(api)
    try:
        verifier = QrVerifier(dep.registry)
        token = present(api, issue_licence(api, 602)[0])["token"]
        now = datetime.now(UTC)
        assert verifier.verify_cached(token, now) is None  # nothing cached yet
        texts = [token, _tampered(token), "LZ1:garbage", "not a token"]
        expected = [result_view(verifier.verify(t, now, online=False)) for t in texts]
        later = present(api, issue_licence(api, 603)[0])["token"]  # past the cached list

        def no_database(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the cached check touched the database")

        monkeypatch.setattr(dep.registry, "session", no_database)
        got = [verifier.verify_cached(t, now) for t in texts]
        assert [None if g is None else result_view(g) for g in got] == expected
        assert expected[0]["passed"] and not expected[1]["passed"]
        assert got[2] is not None and got[2].sub_indication is SubIndication.FORMAT_FAILURE
        # A licence issued after the lists were cached: only the registry can tell.
        assert verifier.verify_cached(later, now) is None
    finally:
        dep.close()


def test_cached_offline_check_defers_once_the_lists_are_past_their_ttl(api: Api) -> None:
    dep = deployment(api)
    try:
        verifier = QrVerifier(dep.registry, ttl=timedelta(milliseconds=20))
        token = present(api, issue_licence(api, 604)[0])["token"]
        now = datetime.now(UTC)
        assert verifier.verify(token, now, online=False).passed
        time.sleep(0.05)
        assert verifier.verify_cached(token, now) is None  # a stale list is rebuilt in a thread
        with pytest.raises(Exception, match="timezone-aware"):
            verifier.verify_cached(token, datetime.now())  # the naive case
    finally:
        dep.close()


def test_cached_offline_check_does_not_wait_for_a_list_rebuild(api: Api) -> None:
    """A thread rebuilding a list holds the verifier's lock across its database queries
    (a hung database: for as long as it hangs); the event loop's check must not queue."""
    dep = deployment(api)
    try:
        verifier = QrVerifier(dep.registry)
        token = present(api, issue_licence(api, 606)[0])["token"]
        now = datetime.now(UTC)
        assert verifier.verify(token, now, online=False).passed
        results: list[Any] = []
        with verifier._lock:  # as a rebuilding thread would hold it
            checker = threading.Thread(target=lambda: results.append(
                verifier.verify_cached(token, now)), daemon=True)
            checker.start()
            checker.join(10)
            finished = not checker.is_alive()
        checker.join(10)
        assert finished, "the cached check waited for the lock"
        assert results[0] is not None and results[0].passed
    finally:
        dep.close()


def _thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """Functions the app hands to worker threads (the rate limiter's flushes left out)."""
    hops: list[Callable[..., Any]] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if getattr(func, "__module__", "") != "api.ratelimit":
            hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return hops


def test_offline_route_answers_from_the_cache_without_thread_hops(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    token = present(api, issue_licence(api, 605)[0])["token"]
    assert verify(api, token, offline=True)["passed"]  # warms the lists (in a thread)
    hops = _thread_hops(monkeypatch)
    for _ in range(3):
        assert verify(api, token, offline=True)["passed"]
    assert verify(api, _tampered(token), offline=True)["passed"] is False
    assert hops == [], [getattr(h, '__qualname__', h) for h in hops]
    assert verify(api, token)["passed"]  # online reads the registry: in a thread, once
    assert len(hops) == 1


def test_no_other_route_shares_the_qr_prefix(tmp_path: Path) -> None:
    """The QR router is matched first (api/app.py): safe only while no other router
    serves a path under /v1/qr (documented or not)."""
    from api.routes import qr

    app = create_app(Settings(home=tmp_path))
    ours = {route.path for route in qr.router.routes}  # type: ignore[attr-defined]
    documented = {p for p in app.openapi()["paths"] if p.startswith("/v1/qr")}
    assert documented == ours
    for name in dir(routes_package):
        router = getattr(getattr(routes_package, name), "router", None)
        if router is None or router is qr.router:
            continue
        assert not [r.path for r in router.routes if r.path.startswith("/v1/qr")], name


@pytest.mark.parametrize(("args", "logged"), [((), False), (("--access-log",), True),
                                              (("--no-access-log",), False)])
def test_serve_writes_no_access_log_unless_asked(
        args: tuple[str, ...], logged: bool, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: runs.append(k))
    monkeypatch.setenv("SEALTRUST_HOME", str(tmp_path))  # serve sets it; restored after
    result = CliRunner().invoke(cli_main, ["serve", "--home", str(tmp_path), *args])
    assert result.exit_code == 0, result.output
    assert runs and runs[0]["access_log"] is logged
