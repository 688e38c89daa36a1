"""Who sees what: the holder app sees only the licences of the holder its session names.

Holder A's session is tried against holder B's licence on every holder route
(list, show, download, presentation, grant); the holder reference is checked
against an independent HMAC-SM3 (RFC 2104 over gmssl's SM3); sessions are
checked for forgery, another client, expiry; and the raw identity number is
searched for in the stored reference, the audit log and the session token.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from gmssl import func as gm_func
from gmssl import sm3 as gm_sm3
from sqlalchemy import select, update

from api.auth import Role, create_client
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from signing.types import builtin_types
from tests.api_support import Api
from trust.errors import InputError
from trust.holder_ref import HolderKey, create_key_file, load_holder_key, normalise
from trust.holder_session import HolderSessionError, SessionKey
from trust.registry.models import AuditEntry, Licence

TYPES = builtin_types()


def _issue(api: Api, seed: int) -> tuple[str, dict[str, Any]]:
    record = TYPES.get("DL").example(seed)
    today = date.today()
    record["valid_from"] = (today - timedelta(days=30)).isoformat()
    record["valid_until"] = (today + timedelta(days=365 * 5)).isoformat()
    response = api.client.post("/v1/licences", json={"type": "DL", "record": record},
                               headers=api.headers("issuer"))
    assert response.status_code == 201, response.text
    return response.json()["licence_id"], record


def _sm3_hmac(key: bytes, message: bytes) -> bytes:
    """RFC 2104 HMAC over gmssl's SM3 (block size 64): independent of trust.holder_ref."""
    def sm3(data: bytes) -> bytes:
        return bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(data)))

    key = key.ljust(64, b"\0") if len(key) <= 64 else sm3(key).ljust(64, b"\0")
    inner = sm3(bytes(k ^ 0x36 for k in key) + message)
    return sm3(bytes(k ^ 0x5C for k in key) + inner)


def _deployment(api: Api) -> Deployment:
    home = Home(api.home)
    return Deployment(home, load_config(home))


def test_holder_a_cannot_list_read_download_present_or_grant_holder_bs_licence(
        api: Api) -> None:
    a_id, a_record = _issue(api, 901)
    b_id, b_record = _issue(api, 902)
    as_a = api.holder_headers(a_record["license_number"])
    as_b = api.holder_headers(b_record["license_number"])

    listed = api.client.get("/v1/licences", headers=as_a)
    assert listed.status_code == 200, listed.text
    assert [i["licence_id"] for i in listed.json()["items"]] == [a_id]
    assert b_id in {i["licence_id"] for i in api.client.get(
        "/v1/licences", headers=as_b).json()["items"]}

    for path in (f"/v1/licences/{b_id}", f"/v1/licences/{b_id}/pdf"):
        refused = api.client.get(path, headers=as_a)
        assert refused.status_code == 404, (path, refused.text)
        assert refused.json()["error"]["code"] == "licence.not_found"
        assert b_record["name"] not in refused.text
    assert api.client.get(f"/v1/licences/{a_id}", headers=as_a).json()["licence_id"] == a_id
    assert api.client.get(f"/v1/licences/{a_id}/pdf", headers=as_a).content.startswith(b"%PDF-")

    shown = api.client.post("/v1/presentations", json={"licence_id": b_id}, headers=as_a)
    assert shown.status_code == 404, shown.text
    granted = api.client.post("/v1/grants", json={"licence_id": b_id, "verifier_id": "counter",
                                                  "scope": ["name"]}, headers=as_a)
    assert granted.status_code == 404, granted.text
    with_grant = api.client.post("/v1/presentations", headers=as_a, json={
        "licence_id": b_id, "grant": {"verifier_id": "counter", "scope": ["address"]}})
    assert with_grant.status_code == 404
    assert api.client.post("/v1/presentations", json={"licence_id": a_id},
                           headers=as_a).status_code == 201
    assert api.client.post("/v1/presentations", json={"licence_id": b_id},
                           headers=as_b).status_code == 201


def test_the_holder_app_without_a_session_sees_nothing(api: Api) -> None:
    licence_id, _ = _issue(api, 903)
    plain = api.headers("holder_app")
    for method, path, body in (("GET", f"/v1/licences/{licence_id}", None),
                               ("GET", f"/v1/licences/{licence_id}/pdf", None),
                               ("GET", "/v1/licences", None),
                               ("POST", "/v1/presentations", {"licence_id": licence_id})):
        response = api.client.request(method, path, json=body, headers=plain)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == "holder.session_required"
    forged = {**plain, "X-Holder-Session": "hs1.e30.AAAA"}
    response = api.client.get(f"/v1/licences/{licence_id}", headers=forged)
    assert response.status_code == 401 and response.json()["error"]["code"] == "holder.session"


def test_a_session_is_bound_to_its_holder_app_and_cannot_be_edited(api: Api,
                                                                   tmp_path: Path) -> None:
    licence_id, record = _issue(api, 904)
    victim_id, _ = _issue(api, 905)
    session = api.holder_headers(record["license_number"])["X-Holder-Session"]
    dep = _deployment(api)
    try:
        with dep.registry.session() as s:
            _, other_app = create_client(s, "other app", frozenset({Role.HOLDER_APP}))
            victim = s.get(Licence, victim_id)
            assert victim is not None and victim.holder_ref is not None
            victim_ref = victim.holder_ref
    finally:
        dep.close()
    stolen = {"Authorization": f"Bearer {other_app}", "X-Holder-Session": session}
    response = api.client.get(f"/v1/licences/{licence_id}", headers=stolen)
    assert response.status_code == 401 and "another client" in response.json()["error"]["message"]
    # Swap the holder reference inside the payload: the tag no longer matches.
    prefix, payload, tag = session.split(".")
    raw = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw["r"] = victim_ref
    edited = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
    forged = {**api.headers("holder_app"), "X-Holder-Session": f"{prefix}.{edited}.{tag}"}
    assert api.client.get(f"/v1/licences/{victim_id}", headers=forged).status_code == 401


def test_session_tokens_expire_and_carry_no_identity_number() -> None:
    key = SessionKey(bytes(range(32)))
    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    holder_ref = HolderKey(bytes(32)).ref("330106199001011234")
    token, session = key.issue(holder_ref, "app1", at=now, ttl=timedelta(minutes=5))
    assert "330106199001011234" not in token and "1234" not in token.split(".")[1]
    assert key.open(token, client_id="app1", now=now + timedelta(minutes=4)) == session
    with pytest.raises(HolderSessionError) as expired:
        key.open(token, client_id="app1", now=now + timedelta(minutes=5, seconds=1))
    assert expired.value.code == "holder.session_expired"
    with pytest.raises(HolderSessionError):
        SessionKey(bytes(32)).open(token, client_id="app1", now=now)  # another deployment
    with pytest.raises(InputError):
        key.issue(holder_ref, "app1", at=now, ttl=timedelta(hours=2))
    for junk in ("", "hs1", "hs1.a.b.c", "x" * 600, "hs2.e30." + token.split(".")[2]):
        with pytest.raises(HolderSessionError):
            key.open(junk, client_id="app1", now=now)


def test_holder_ref_is_hmac_sm3_of_the_normalised_identifier() -> None:
    secret = bytes(range(32))
    key = HolderKey(secret)
    expected = _sm3_hmac(secret, b"11010519491231002X").hex()
    assert key.ref("11010519491231002X") == expected
    assert key.ref(" 1101 0519 4912 3100 2x ") == expected
    assert key.ref("１１０１０５１９４９１２３１００２Ｘ") == expected  # full-width digits
    assert HolderKey(bytes(32)).ref("11010519491231002X") != expected
    assert "11010519491231002X" not in repr(key) and secret.hex() not in repr(key)
    for bad in ("", "   ", "x" * 65, "12\x00"):
        with pytest.raises(InputError):
            normalise(bad)
    with pytest.raises(InputError):
        HolderKey(b"short")


def test_key_file_is_created_once_private_and_init_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "holder-ref.key"
    assert create_key_file(path) and not create_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    first = load_holder_key(path).ref("X1")
    assert not create_key_file(path) and load_holder_key(path).ref("X1") == first


def test_issuance_stores_the_keyed_hash_never_the_id_number(api: Api) -> None:
    licence_id, record = _issue(api, 906)
    dep = _deployment(api)
    try:
        with dep.registry.session() as s:
            licence = s.get(Licence, licence_id)
            assert licence is not None
            number = record["license_number"]
            assert licence.holder_ref == _sm3_hmac(
                dep.home.holder_key_file.read_bytes(), number.encode()).hex()
            api.holder_headers(record["license_number"])
            canon = b"".join(s.execute(select(AuditEntry.canonical)).scalars())
    finally:
        dep.close()
    assert number.encode() not in canon and licence.holder_ref != number
    assert licence.holder_ref.encode() in canon  # the session is audited by reference


def test_upgrade_creates_the_key_and_backfills_existing_licences(tmp_path: Path) -> None:
    root = tmp_path / "home"
    init_deployment(root)
    home = Home(root)
    dep = Deployment(home, load_config(home))
    try:
        from api.issuance import issue_one

        with dep.registry.session() as s:
            record = TYPES.get("BL").example(3)
            issued = issue_one(dep, s, type_code="BL", record=record, department=DEMO_DEPARTMENT,
                               actor="test")
            s.flush()
            # A database from before holder references: no reference and no key file.
            s.execute(update(Licence).values(holder_ref=None))
    finally:
        dep.close()
    home.holder_key_file.unlink()
    home.session_key_file.unlink()
    again = init_deployment(root)
    assert any("holder reference key" in a for a in again.actions)
    assert any("1 existing licences" in a for a in again.actions)
    dep = Deployment(home, load_config(home))
    try:
        with dep.registry.session() as s:
            licence = s.get(Licence, issued.licence_id)
            assert licence is not None
            assert licence.holder_ref == dep.holder_key().ref(record["uscc"])
    finally:
        dep.close()
    assert init_deployment(root).actions == ["deployment already initialised; nothing changed"]


def _all(api: Api, who: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = ""
    while True:
        page = api.client.get("/v1/licences", params={"after": after, "limit": 200},
                              headers=api.headers(who))
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if page.json()["next_after"] is None:
            return items
        after = page.json()["next_after"]


def test_auditors_see_all_and_issuers_their_department(api: Api) -> None:
    licence_id, _ = _issue(api, 907)
    assert licence_id in {i["licence_id"] for i in _all(api, "auditor")}
    mine = _all(api, "issuer")
    assert licence_id in {i["licence_id"] for i in mine}
    assert all(i["department"] == DEMO_DEPARTMENT for i in mine)
    assert licence_id not in {i["licence_id"] for i in _all(api, "other_issuer")}
    assert api.client.get("/v1/licences", headers=api.headers("verifier")).status_code == 403


def test_no_identity_number_in_logs_of_holder_requests(api: Api,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    import logging

    licence_id, record = _issue(api, 908)
    number = record["license_number"]
    with caplog.at_level(logging.DEBUG):
        headers = api.holder_headers(number)
        assert api.client.get(f"/v1/licences/{licence_id}", headers=headers).is_success
        assert api.client.post("/v1/presentations", json={"licence_id": licence_id},
                               headers=headers).status_code == 201
        api.client.post("/v1/holder/sessions", json={"holder_id": "bad\x00id"},
                        headers=api.headers("holder_app"))
    assert caplog.records and number not in caplog.text
