"""Two ``sealtrust serve`` processes on one PostgreSQL behave as one service.

Nodes are separate OS processes sharing a home directory (the file key store)
and one PostgreSQL database; each case does something on node A and observes
it on node B. A new cross-node case is one more test using ``cluster``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.auth import Role, create_client
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from tests.api_support import wait_for_head
from tests.db_support import fresh_postgres_url
from tests.server_support import Node, running_servers

pytestmark = pytest.mark.postgres

PUBLIC_LIMIT = 6
HEAD_INTERVAL_S = 0.3
ROLES = {"seal_admin": (Role.SEAL_ADMIN, DEMO_DEPARTMENT), "auditor": (Role.AUDITOR, None),
         "verifier": (Role.VERIFIER, None), "holder_app": (Role.HOLDER_APP, None),
         "issuer": (Role.ISSUER, DEMO_DEPARTMENT)}


@dataclass
class Cluster:
    """Two nodes, an HTTP client and one credential per role."""

    nodes: list[Node]
    http: httpx.Client
    tokens: dict[str, str]

    @property
    def a(self) -> Node:
        return self.nodes[0]

    @property
    def b(self) -> Node:
        return self.nodes[1]

    def call(self, node: Node, method: str, path: str, who: str | None = None,
             headers_extra: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        headers.update(headers_extra or {})
        return self.http.request(method, node.url + path, headers=headers, **kwargs)  # type: ignore[arg-type]


def _init_on_postgres(root: Path, url: str) -> dict[str, str]:
    """``sealtrust init`` against PostgreSQL, then one API client per role."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEALTRUST_DATABASE_URL", url)
        assert init_deployment(root).created
        assert not init_deployment(root).created  # idempotent on PostgreSQL too
        home = Home(root)
        assert home.database_url() == url
        deployment = Deployment(home, load_config(home))
        try:
            with deployment.registry.session() as session:
                return {who: create_client(session, who, frozenset({role}), dept)[1]
                        for who, (role, dept) in ROLES.items()}
        finally:
            deployment.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    for url in fresh_postgres_url():
        root = tmp_path_factory.mktemp("multinode") / "home"
        tokens = _init_on_postgres(root, url)
        env = {"SEALTRUST_DATABASE_URL": url, "SEALTRUST_RATE_LIMIT_REQUESTS": str(PUBLIC_LIMIT),
               "SEALTRUST_RATE_LIMIT_WINDOW_S": "3600", "SEALTRUST_RATE_LIMIT_BATCH": "1",
               "SEALTRUST_AUDIT_HEAD_INTERVAL_S": str(HEAD_INTERVAL_S)}
        with running_servers(root, count=2, env=env) as nodes, \
                httpx.Client(timeout=30) as http:
            yield Cluster(nodes, http, tokens)


def test_nodes_are_distinct_processes(cluster: Cluster) -> None:
    assert cluster.a.port != cluster.b.port
    assert cluster.a.process.pid != cluster.b.process.pid
    for node in cluster.nodes:
        assert cluster.call(node, "GET", "/health/ready").json()["checks"]["database"] == "ok"


def test_rate_limit_counters_are_shared(cluster: Cluster) -> None:
    """Half the budget on each node, then both refuse: one counter, not two."""
    half = PUBLIC_LIMIT // 2
    for node in (cluster.a, cluster.b):
        for _ in range(half):
            assert cluster.call(node, "GET", "/v1/trust/certificates").status_code == 200
    for node in (cluster.a, cluster.b):
        refused = cluster.call(node, "GET", "/v1/trust/certificates")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) > 0


def test_seal_made_on_a_is_visible_on_b(cluster: Cluster) -> None:
    made = cluster.call(cluster.a, "POST", "/v1/seals", "seal_admin",
                        json={"department": DEMO_DEPARTMENT})
    assert made.status_code == 201, made.text
    es_id = made.json()["es_id"]
    shown = cluster.call(cluster.b, "GET", f"/v1/seals/{es_id}", "auditor")
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "active"
    revoked = cluster.call(cluster.b, "POST", f"/v1/seals/{es_id}/revoke", "seal_admin",
                           json={"reason": "multi-node test"})
    assert revoked.json()["status"] == "revoked"
    assert cluster.call(cluster.a, "GET", f"/v1/seals/{es_id}",
                        "auditor").json()["status"] == "revoked"


def test_audit_head_advanced_on_a_is_visible_on_b(cluster: Cluster) -> None:
    before = cluster.call(cluster.b, "GET", "/v1/audit/head", "auditor").json()
    made = cluster.call(cluster.a, "POST", "/v1/seals", "seal_admin",
                        json={"department": DEMO_DEPARTMENT})
    assert made.status_code == 201, made.text
    # A signs the head in the background, within its head interval (HEAD_INTERVAL_S).
    last = cluster.call(cluster.b, "GET", "/v1/audit/entries", "auditor",
                        params={"after": before["size"], "limit": 1000}).json()[-1]["seq"]
    on_b = wait_for_head(lambda: cluster.call(cluster.b, "GET", "/v1/audit/head",
                                              "auditor").json(), last)
    on_a = cluster.call(cluster.a, "GET", "/v1/audit/head", "auditor").json()
    assert on_b["size"] > before["size"]
    assert on_b == on_a  # same signed head, same root hash
    proof = cluster.call(cluster.b, "GET", "/v1/audit/proof/consistency", "auditor",
                         params={"old": before["size"], "new": on_b["size"]})
    assert proof.status_code == 200, proof.text


def _dl_record(seed: int) -> dict[str, object]:
    from datetime import date, timedelta

    from signing.types import builtin_types

    record: dict[str, object] = builtin_types().get("DL").example(seed)
    record["valid_from"] = (date.today() - timedelta(days=30)).isoformat()
    record["valid_until"] = (date.today() + timedelta(days=365)).isoformat()
    return record


def test_code_verified_on_a_is_replay_refused_on_b(cluster: Cluster) -> None:
    record = _dl_record(11)
    issued = cluster.call(cluster.a, "POST", "/v1/licences", "issuer",
                          json={"type": "DL", "record": record})
    assert issued.status_code == 201, issued.text
    opened = cluster.call(cluster.a, "POST", "/v1/holder/sessions", "holder_app",
                          json={"holder_id": record["license_number"]})
    assert opened.status_code == 201, opened.text
    shown = cluster.call(cluster.b, "POST", "/v1/presentations", "holder_app",
                         json={"licence_id": issued.json()["licence_id"]},
                         headers_extra={"X-Holder-Session": opened.json()["session"]})
    assert shown.status_code == 201, shown.text
    token = shown.json()["token"]
    public = cluster.call(cluster.b, "POST", "/v1/qr/verify", "verifier", json={"token": token})
    assert public.json()["indication"] == "TOTAL_PASSED", public.text  # spends nothing
    first = cluster.call(cluster.a, "POST", "/v1/qr/redeem", "verifier", json={"token": token})
    assert first.json()["indication"] == "TOTAL_PASSED", first.text
    again = cluster.call(cluster.b, "POST", "/v1/qr/redeem", "verifier", json={"token": token})
    assert (again.json()["indication"], again.json()["sub_indication"]) == (
        "INDETERMINATE", "SIG_CONSTRAINTS_FAILURE"), again.text
    assert any(c["name"] == "replay" and not c["passed"] for c in again.json()["checks"])


def test_batch_started_on_a_is_visible_on_b(cluster: Cluster) -> None:
    import time

    started = cluster.call(cluster.a, "POST", "/v1/licences/batch", "issuer",
                           json={"type": "DL", "records": [_dl_record(21), _dl_record(22)]})
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    deadline = time.monotonic() + 60
    while True:
        job = cluster.call(cluster.b, "GET", f"/v1/licences/batch/{job_id}", "issuer")
        assert job.status_code == 200, job.text
        if job.json()["state"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job.json()["state"] == "done"
    assert (job.json()["total"], job.json()["done"], job.json()["failed"]) == (2, 2, 0)
