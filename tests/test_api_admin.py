"""Seals, departments, keys, audit over HTTP: roles, separation of duties, error model."""

from __future__ import annotations

import pytest

from api.deployment import DEMO_DEPARTMENT
from tests.api_support import OTHER_DEPARTMENT, Api, wait_for_head
from trust import merkle


def test_health_and_metrics_are_public(api: Api) -> None:
    assert api.client.get("/health/live").json() == {"status": "ok"}
    ready = api.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"
    text = api.client.get("/metrics").text
    assert "sealtrust_requests_total" in text
    assert 'route="/health/live"' in text


def test_readiness_probes_every_key_store_and_names_no_key(api: Api) -> None:
    """A key the node cannot use (here: an SDF library that is not installed) makes it unready."""
    from api.deployment import Deployment, Home, load_config
    from api.readiness import KeyStoreReadiness
    from trust.registry.models import KeyRecord

    state = api.client.app.state  # type: ignore[attr-defined]
    ready = api.client.get("/health/ready").json()
    assert ready["checks"]["keystore:file"] == "ok"
    home = Home(api.home)
    dep = Deployment(home, load_config(home))
    missing = "sdf:/nonexistent/libswsds.so?index=1"
    try:
        with dep.registry.session() as s:
            s.add(KeyRecord(uri=missing, label="absent device", algorithm="sm2", role="issuer"))
        cached = api.client.get("/health/ready")
        assert cached.status_code == 200  # within the cache window the old answer stands
        state.key_stores = KeyStoreReadiness(state.deployment, ttl_s=0)
        down = api.client.get("/health/ready")
        assert down.status_code == 503
        checks = down.json()["checks"]
        assert checks["keystore:file"] == "ok"
        assert checks["keystore:sdf"].startswith("down: 1 of 1 keys (")
        assert "nonexistent" not in down.text  # schemes and counts, never URIs
    finally:
        with dep.registry.session() as s:
            s.delete(s.get(KeyRecord, missing))
        dep.close()
    assert api.client.get("/health/ready").status_code == 200


def test_protected_routes_need_credentials(api: Api) -> None:
    for path in ("/v1/seals", "/v1/keys", "/v1/audit/entries", "/v1/departments"):
        response = api.client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "auth.unauthenticated"
    bad = api.client.get("/v1/seals", headers={"Authorization": "Bearer st_00_nope"})
    assert bad.status_code == 401


def test_seal_admin_makes_and_revokes_own_department_seal(api: Api) -> None:
    made = api.client.post("/v1/seals", json={"department": DEMO_DEPARTMENT},
                           headers=api.headers("seal_admin"))
    assert made.status_code == 201, made.text
    es_id = made.json()["es_id"]
    shown = api.client.get(f"/v1/seals/{es_id}", headers=api.headers("auditor"))
    assert shown.json()["status"] == "active"
    der = api.client.get(f"/v1/seals/{es_id}/seal.der", headers=api.headers("issuer"))
    assert der.content[:1] == b"\x30"
    revoked = api.client.post(f"/v1/seals/{es_id}/revoke", json={"reason": "lost"},
                              headers=api.headers("seal_admin"))
    assert revoked.json()["status"] == "revoked"
    again = api.client.post(f"/v1/seals/{es_id}/revoke", json={"reason": "lost"},
                            headers=api.headers("seal_admin"))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("who", ["issuer", "verifier", "auditor", "holder_app"])
def test_only_seal_admins_make_seals(api: Api, who: str) -> None:
    response = api.client.post("/v1/seals", json={"department": DEMO_DEPARTMENT},
                               headers=api.headers(who))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.forbidden"


def test_seal_admin_cannot_act_for_another_department(api: Api) -> None:
    response = api.client.post("/v1/seals", json={"department": DEMO_DEPARTMENT},
                               headers=api.headers("other_seal_admin"))
    assert response.status_code == 403
    seals = api.client.get("/v1/seals", params={"department": DEMO_DEPARTMENT},
                           headers=api.headers("auditor")).json()
    response = api.client.post(f"/v1/seals/{seals[0]['es_id']}/revoke", json={"reason": "x"},
                               headers=api.headers("other_seal_admin"))
    assert response.status_code == 403


@pytest.mark.parametrize("who", ["auditor", "issuer", "verifier"])
def test_auditor_and_others_cannot_revoke_seals(api: Api, who: str) -> None:
    seals = api.client.get("/v1/seals", headers=api.headers("auditor")).json()
    response = api.client.post(f"/v1/seals/{seals[0]['es_id']}/revoke", json={"reason": "x"},
                               headers=api.headers(who))
    assert response.status_code == 403


def test_only_auditors_read_the_audit_log(api: Api) -> None:
    for who in ("issuer", "seal_admin", "verifier", "holder_app"):
        assert api.client.get("/v1/audit/entries", headers=api.headers(who)).status_code == 403


def test_audit_entries_heads_and_proofs_over_http(api: Api) -> None:
    api.client.post("/v1/seals", json={"department": OTHER_DEPARTMENT},
                    headers=api.headers("other_seal_admin"))
    h = api.headers("auditor")
    entries = api.client.get("/v1/audit/entries", headers=h).json()
    assert any(e["kind"] == "seal.made" for e in entries)
    head = wait_for_head(lambda: api.client.get("/v1/audit/head", headers=h).json(),
                         len(entries))
    assert head["size"] == len(entries)
    root = bytes.fromhex(head["root_hash"])
    for entry in entries:
        proof = api.client.get("/v1/audit/proof/inclusion",
                               params={"seq": entry["seq"], "size": head["size"]},
                               headers=h).json()
        assert merkle.verify_inclusion(bytes.fromhex(proof["leaf_hash"]), entry["seq"] - 1,
                                       head["size"], [bytes.fromhex(p) for p in proof["proof"]],
                                       root)
        assert bytes.fromhex(entry["leaf_hash"]) == merkle.leaf_hash(entry["canonical"].encode())
    heads = api.client.get("/v1/audit/heads", headers=h).json()
    first = heads[0]
    proof = api.client.get("/v1/audit/proof/consistency",
                           params={"old": first["size"], "new": head["size"]}, headers=h).json()
    assert merkle.verify_consistency(first["size"], head["size"],
                                     bytes.fromhex(first["root_hash"]), root,
                                     [bytes.fromhex(p) for p in proof["proof"]])


def test_keys_are_listed_per_department_and_healthy(api: Api) -> None:
    keys = api.client.get("/v1/keys", headers=api.headers("issuer")).json()
    assert keys
    assert {k["department"] for k in keys} == {DEMO_DEPARTMENT}
    health = api.client.get("/v1/keys/health", headers=api.headers("issuer")).json()
    assert all(h["up"] for h in health), health


def test_public_certificates(api: Api) -> None:
    certs = api.client.get("/v1/trust/certificates").json()
    roles = {c["role"] for c in certs}
    assert {"sm2-root", "rsa-root"} <= roles
    assert all(c["pem"].startswith("-----BEGIN CERTIFICATE-----") for c in certs)


def test_validation_errors_use_the_error_model(api: Api) -> None:
    response = api.client.post("/v1/seals", json={"department": 5, "years": 99},
                               headers=api.headers("seal_admin"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request.invalid"
    response = api.client.post("/v1/seals", content=b"{not json",
                               headers={**api.headers("seal_admin"),
                                        "content-type": "application/json"})
    assert response.status_code == 422


def test_metrics_count_verifications_by_indication(api: Api) -> None:
    response = api.client.post("/v1/qr/verify", json={"token": "LZ1:not-a-token"})
    assert response.status_code == 200
    assert response.json()["indication"] == "TOTAL_FAILED"
    text = api.client.get("/metrics").text
    assert 'sealtrust_verifications_total{kind="qr",indication="TOTAL_FAILED"}' in text
