"""A deployment in a temporary home, the app on it, and one client per role."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, create_client
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.settings import Settings
from signing.departments import add_department

OTHER_DEPARTMENT = "other-dept"
OTHER_USCC = "11330100002482077H"


@dataclass
class Api:
    client: TestClient
    home: Path
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def holder_headers(self, holder_id: str, who: str = "holder_app") -> dict[str, str]:
        """The holder app's headers with a fresh holder session for ``holder_id``."""
        opened = self.client.post("/v1/holder/sessions", json={"holder_id": holder_id},
                                  headers=self.headers(who))
        assert opened.status_code == 201, opened.text
        return {**self.headers(who), "X-Holder-Session": opened.json()["session"]}


def build_api(root: Path) -> Iterator[Api]:
    from datetime import UTC, datetime

    init_deployment(root)
    home = Home(root)
    deployment = Deployment(home, load_config(home))
    tokens: dict[str, str] = {}
    try:
        with deployment.registry.session() as s:
            add_department(s, deployment.stores, home.pin(), code=OTHER_DEPARTMENT,
                           name="杭州市公安局", uscc=OTHER_USCC, region="330100",
                           roots=deployment.roots(), algorithms=("sm2",),
                           at=datetime.now(UTC), actor="test")
            for who, roles, dept in (
                ("seal_admin", {Role.SEAL_ADMIN}, DEMO_DEPARTMENT),
                ("other_seal_admin", {Role.SEAL_ADMIN}, OTHER_DEPARTMENT),
                ("issuer", {Role.ISSUER}, DEMO_DEPARTMENT),
                ("other_issuer", {Role.ISSUER}, OTHER_DEPARTMENT),
                ("verifier", {Role.VERIFIER}, None),
                ("auditor", {Role.AUDITOR}, None),
                ("holder_app", {Role.HOLDER_APP}, None),
                ("ca_operator", {Role.CA_OPERATOR}, None),
            ):
                _, tokens[who] = create_client(s, who, frozenset(roles), dept)
    finally:
        deployment.close()
    # no daily lifecycle timer: a test app alive at 02:00 China time must not change state
    app = create_app(Settings(home=root, lifecycle_daily_at="off"))
    with TestClient(app) as client:
        yield Api(client, root, tokens)


def wait_for_head(get: Callable[[], dict[str, Any]], size: int,
                  timeout_s: float = 10.0) -> dict[str, Any]:
    """The latest signed head (``get`` fetches it) once it covers ``size`` entries.

    The service signs heads in the background, at most its head interval
    (``SEALTRUST_AUDIT_HEAD_INTERVAL_S``, 1 s by default) after a commit.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        head = get()
        if head.get("size", 0) >= size or time.monotonic() > deadline:
            return head
        time.sleep(0.05)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from build_api(tmp_path_factory.mktemp("api") / "home")
