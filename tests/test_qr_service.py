"""亮证 service layer: presentation codes, online/offline verification, replay, grants, lists.

Everything goes through the HTTP API of a real deployment (tests/api_support),
except where a test needs a second node or a clock other than now. The status
bitstring is cross-checked by decoding the COSE payload with cbor2 and zlib
directly, not with trust.status.
"""

from __future__ import annotations

import threading
import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cbor2
import pytest
from sqlalchemy import select

from api.deployment import Deployment, Home, load_config
from api.routes.trust import export_lists
from signing.issue import STATUS_LIST_ID, document_token
from signing.types import builtin_types
from tests.api_support import Api
from trust import audit
from trust.errors import InputError, SealTrustError
from trust.indications import Indication, SubIndication
from trust.registry import Registry, migrate
from trust.registry.grants import create_grant
from trust.registry.lifecycle import LicenceStatus, change_status
from trust.registry.models import AuditEntry, Department, Licence
from trust.registry.sealed import licence_record
from trust.registry.statuslist import DEFAULT_LIST_ID
from trust.registry.tokens import DbLiveStatus, DbReplayCache
from trust.status import LicenceStatus as Bit
from trust.token import decode_token
from trust.token.cose import decode_sign1
from verification.qr import OfflineLists, QrVerifier, anchors_from_pem, result_view, verify_qr

TYPES = builtin_types()


def client_id(api: Api, who: str) -> str:
    return api.tokens[who].split("_")[1]


HOLDER_OF: dict[str, str] = {}  # licence id -> holder id, for the holder app's sessions


def issue_licence(api: Api, seed: int) -> tuple[str, dict[str, Any]]:
    record = TYPES.get("DL").example(seed)
    today = date.today()
    record["valid_from"] = (today - timedelta(days=30)).isoformat()
    record["valid_until"] = (today + timedelta(days=365 * 5)).isoformat()
    response = api.client.post("/v1/licences", json={"type": "DL", "record": record},
                               headers=api.headers("issuer"))
    assert response.status_code == 201, response.text
    HOLDER_OF[response.json()["licence_id"]] = record["license_number"]
    return response.json()["licence_id"], record


def holder(api: Api, licence_id: str) -> dict[str, str]:
    return api.holder_headers(HOLDER_OF[licence_id])


def present(api: Api, licence_id: str, **extra: Any) -> dict[str, Any]:
    response = api.client.post("/v1/presentations", json={"licence_id": licence_id, **extra},
                               headers=holder(api, licence_id))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def verify(api: Api, token: str, offline: bool = False) -> dict[str, Any]:
    response = api.client.post("/v1/qr/verify" + ("?offline=true" if offline else ""),
                               json={"token": token})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def redeem(api: Api, token: str, who: str = "verifier") -> dict[str, Any]:
    response = api.client.post("/v1/qr/redeem", json={"token": token}, headers=api.headers(who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def deployment(api: Api) -> Deployment:
    home = Home(api.home)
    return Deployment(home, load_config(home))


def test_presentation_code_is_redeemed_once_online_with_masked_claims(api: Api) -> None:
    licence_id, record = issue_licence(api, 501)
    shown = present(api, licence_id)
    claims = decode_token(shown["token"]).claims
    assert claims.kind == 1 and claims.status_list == STATUS_LIST_ID == DEFAULT_LIST_ID
    assert claims.expires_at - claims.issued_at == timedelta(seconds=60)
    first = redeem(api, shown["token"])
    assert first["indication"] == "TOTAL_PASSED", first
    assert first["claims"]["licence_id"] == licence_id
    assert "*" in first["claims"]["holder_name"]
    assert record["name"] not in str(first) and record["license_number"] not in str(first)
    assert first["claims"]["holder_id_last4"] == record["license_number"][-4:]
    assert first["online"] is True
    assert datetime.fromisoformat(first["expires_at"]) == claims.expires_at
    assert {c["name"] for c in first["checks"]} >= {"signature", "status.live", "replay"}
    offline = verify(api, shown["token"], offline=True)  # lists as downloaded: no replay check
    assert offline["indication"] == "TOTAL_PASSED" and offline["online"] is False
    assert offline["lists"]["status_list_age_s"] is not None
    second = redeem(api, shown["token"])
    assert (second["indication"], second["sub_indication"]) == (
        "INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    assert "refresh" in second["message_en"]


def test_replay_is_refused_on_another_node_and_under_races(api: Api) -> None:
    licence_id, _ = issue_licence(api, 502)
    url = Home(api.home).database_url()
    node_a, node_b = Registry(url), Registry(url)
    try:
        token = present(api, licence_id)["token"]
        now = datetime.now(UTC)
        assert QrVerifier(node_a).verify(token, now, redeem=True).passed
        again = QrVerifier(node_b).verify(token, now, redeem=True)
        assert again.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
        # Eight threads over two engines race for one fresh jti: exactly one wins.
        caches = [DbReplayCache(node_a), DbReplayCache(node_b)]
        wins = _race(caches, b"race-jti-0001", now, racers=8)
        assert sorted(wins) == [False] * 7 + [True]
        with pytest.raises(InputError):
            caches[0].first_use("ISSUER", b"naive-jti-01", now, datetime.now())
    finally:
        node_a.close()
        node_b.close()


def _bit_from_raw_cose(signed: bytes, index: int) -> int:
    """Read a status value with cbor2 + zlib only (independent of trust.status)."""
    envelope = cbor2.loads(signed)
    payload = cbor2.loads(envelope.value[2] if hasattr(envelope, "value") else envelope[2])
    bits = zlib.decompress(payload[7])
    assert payload[5] == 4 and len(bits) == (payload[6] * 4 + 7) // 8
    return (bits[index // 2] >> (4 - 4 * (index % 2))) & 15


def test_revocation_reaches_online_and_freshly_exported_lists(api: Api) -> None:
    licence_id, _ = issue_licence(api, 503)
    token = present(api, licence_id)["token"]
    claims = decode_token(token).claims
    dep = deployment(api)
    try:
        before = export_lists(dep, datetime.now(UTC))
        assert _bit_from_raw_cose(before.status_lists[claims.issuer], claims.status_index) == 0
        with dep.registry.session() as session:
            change_status(session, licence_id, LicenceStatus.REVOKED, reason="test",
                          at=datetime.now(UTC), actor="test")
        online = verify(api, token)
        assert (online["indication"], online["sub_indication"]) == ("TOTAL_FAILED", "REVOKED")
        assert "revoked" in online["message_en"]
        now = datetime.now(UTC)
        fresh = export_lists(dep, now)
        signed = fresh.status_lists[claims.issuer]
        assert _bit_from_raw_cose(signed, claims.status_index) == 1
        lists = OfflineLists.from_signed(fresh.trust_list, [fresh.anchor],
                                         fresh.status_lists.values())
        assert lists.status_lists[(claims.issuer, STATUS_LIST_ID)].status(
            claims.status_index) is Bit.REVOKED
        offline = QrVerifier(dep.registry).verify(token, now, online=False)
        assert offline.sub_indication is SubIndication.REVOKED
        refused = api.client.post("/v1/presentations", json={"licence_id": licence_id},
                                  headers=holder(api, licence_id))
        assert refused.status_code == 409
    finally:
        dep.close()


def test_offline_with_downloaded_lists_and_their_age(api: Api) -> None:
    licence_id, _ = issue_licence(api, 504)
    token = present(api, licence_id)["token"]
    issuer = decode_token(token).claims.issuer
    anchor = api.client.get("/v1/trust/anchor.pem").text.encode()
    listed = api.client.get("/v1/trust/trust-list")
    assert listed.headers["content-type"].startswith("application/cose")
    refs = api.client.get("/v1/trust/status-lists").json()
    assert {"issuer": issuer, "list_id": "sl1", "url": f"/v1/trust/status-lists/{issuer}"} in refs
    status = api.client.get(f"/v1/trust/status-lists/{issuer}").content
    assert api.client.get("/v1/trust/status-lists/NOPE").status_code == 404
    lists = OfflineLists.from_signed(listed.content, anchors_from_pem(anchor), [status])
    decoded = decode_sign1(listed.content, max_size=4 * 1024 * 1024)
    assert decoded.content_type == "application/vnd.sealtrust.trust-list+cbor"
    now = datetime.now(UTC)
    good = verify_qr(token, trust_list=lists.trust_list, now=now, status_lists=lists.status_lists)
    assert good.passed and not good.online
    view = result_view(good)
    assert view["lists"]["status_list_age_s"] is not None
    # 25 hours later the token is long expired and the status list too old: never "valid".
    late = verify_qr(token, trust_list=lists.trust_list, now=now + timedelta(hours=25),
                     status_lists=lists.status_lists)
    stale = {c.name: c for c in late.checks}["status.list"]
    assert stale.sub_indication is SubIndication.TRY_LATER and "old" in stale.detail
    assert not late.passed
    missing = verify_qr(token, trust_list=lists.trust_list, now=now, status_lists={})
    assert missing.indication is Indication.INDETERMINATE
    with pytest.raises(InputError):
        OfflineLists.from_signed(listed.content, anchors_from_pem(anchor), [b"\x00" * 10])
    with pytest.raises(SealTrustError) as wrong_anchor:
        OfflineLists.from_signed(listed.content, [certificate_of(api, "rsa-root")], [status])
    assert getattr(wrong_anchor.value, "code", "") == "trustlist.signature"


def certificate_of(api: Api, role: str) -> bytes:
    dep = deployment(api)
    try:
        return dep.certificate(role).der
    finally:
        dep.close()


def test_images_render_decode_and_verify(api: Api) -> None:
    licence_id, _ = issue_licence(api, 505)
    shown = present(api, licence_id)
    png = api.client.get(shown["png"])
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    svg = api.client.get(shown["svg"])
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    decoded = api.client.post("/v1/qr/decode-image", files={"image": ("qr.png", png.content)})
    assert decoded.json() == {"text": shown["token"]}
    verdict = api.client.post("/v1/qr/verify-image", files={"image": ("qr.png", png.content)})
    assert verdict.json()["indication"] == "TOTAL_PASSED", verdict.text
    garbage = api.client.post("/v1/qr/verify-image", files={"image": ("x.png", b"not an image")})
    assert (garbage.json()["indication"], garbage.json()["sub_indication"]) == (
        "TOTAL_FAILED", "FORMAT_FAILURE")
    unreadable = api.client.post("/v1/qr/decode-image", files={"image": ("x.png", b"nope")})
    assert unreadable.status_code == 422 and unreadable.json()["error"]["code"] == "qr.image"
    refused = api.client.get("/v1/qr/render", params={"text": "https://example.com/"})
    assert refused.status_code == 422


@pytest.mark.parametrize("token", ["garbage", "LZ1:", "LZ1:%%%%", "LZ1:" + "A" * 4000])
def test_malformed_tokens_get_a_format_verdict(api: Api, token: str) -> None:
    result = verify(api, token)
    assert (result["indication"], result["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert result["claims"] is None


def test_roles_guard_presentations_and_redemption(api: Api) -> None:
    licence_id, _ = issue_licence(api, 506)
    for who in ("verifier", "issuer", "auditor"):
        response = api.client.post("/v1/presentations", json={"licence_id": licence_id},
                                   headers=api.headers(who))
        assert response.status_code == 403, who
    assert api.client.post("/v1/presentations", json={"licence_id": licence_id}).status_code == 401
    response = api.client.post("/v1/grants/00/redeem", headers=api.headers("holder_app"))
    assert response.status_code == 403
    missing = api.client.post("/v1/presentations", json={"licence_id": "NOPE"},
                              headers=holder(api, licence_id))
    assert missing.status_code == 404


def test_grant_rides_in_the_code_and_is_redeemed_once_by_its_counter(api: Api) -> None:
    licence_id, record = issue_licence(api, 507)
    counter = client_id(api, "verifier")
    shown = present(api, licence_id, grant={"verifier_id": counter,
                                            "scope": ["name", "license_number", "address"]})
    grant = decode_token(shown["token"]).claims.grant
    assert grant is not None and grant.verifier_id == counter
    grant_id = grant.grant_id.hex()
    assert shown["grant"]["grant_id"] == grant_id
    assert verify(api, shown["token"])["claims"]["grant"]["grant_id"] == grant_id
    redeemed = api.client.post(f"/v1/grants/{grant_id}/redeem", headers=api.headers("verifier"))
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["fields"] == {k: record[k] for k in ("name", "license_number",
                                                               "address")}
    again = api.client.post(f"/v1/grants/{grant_id}/redeem", headers=api.headers("verifier"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "grant.redeemed"
    unknown = api.client.post("/v1/grants/ffff/redeem", headers=api.headers("verifier"))
    assert unknown.status_code == 404
    dep = deployment(api)
    try:
        with dep.registry.session() as session:
            kinds = session.execute(select(AuditEntry.kind, AuditEntry.canonical).where(
                AuditEntry.subject == licence_id)).all()
    finally:
        dep.close()
    # the second attempt is refused and recorded too; the unknown id is not
    assert [k for k, _ in kinds if k.startswith("grant.")] == [
        "grant.created", "grant.redeemed", "grant.refused"]
    assert all(grant_id.encode() in c for k, c in kinds if k.startswith("grant."))
    assert b"grant.redeemed" in next(c for k, c in kinds if k == "grant.refused")


def test_grant_for_another_counter_expired_or_out_of_scope(api: Api) -> None:
    licence_id, _ = issue_licence(api, 508)
    made = api.client.post("/v1/grants", json={"licence_id": licence_id, "verifier_id": "other",
                                               "scope": ["name"]},
                           headers=holder(api, licence_id))
    assert made.status_code == 201, made.text
    grant_id = made.json()["grant"]["grant_id"]
    wrong = api.client.post(f"/v1/grants/{grant_id}/redeem", headers=api.headers("verifier"))
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "grant.wrong_verifier"
    dep = deployment(api)
    try:
        with dep.registry.session() as session:
            refused = session.execute(select(AuditEntry.actor, AuditEntry.canonical).where(
                AuditEntry.subject == licence_id, AuditEntry.kind == "grant.refused")).all()
            assert audit.verify_log(session, [dep.key("audit").public_key_der()]).ok
    finally:
        dep.close()
    assert len(refused) == 1 and refused[0][0] == client_id(api, "verifier")
    assert b"grant.wrong_verifier" in refused[0][1]
    bad_scope = api.client.post("/v1/grants", json={"licence_id": licence_id,
                                                    "verifier_id": "x", "scope": ["salary"]},
                                headers=holder(api, licence_id))
    assert bad_scope.status_code == 422 and bad_scope.json()["error"]["code"] == "grant.scope"
    dep = deployment(api)
    try:
        past = datetime.now(UTC) - timedelta(hours=2)
        with dep.registry.session() as session:
            old = create_grant(session, licence_id=licence_id,
                               verifier_id=client_id(api, "verifier"), scope=["name"],
                               expires_at=past + timedelta(minutes=10), at=past, actor="test")
            with pytest.raises(InputError):
                create_grant(session, licence_id=licence_id, verifier_id="x", scope=["name"],
                             expires_at=past + timedelta(days=2), at=past, actor="test")
    finally:
        dep.close()
    expired = api.client.post(f"/v1/grants/{old.grant_id.hex()}/redeem",
                              headers=api.headers("verifier"))
    assert expired.status_code == 409 and expired.json()["error"]["code"] == "grant.expired"


def test_cached_offline_lists_catch_up_with_new_licences(api: Api) -> None:
    dep = deployment(api)
    try:
        verifier = QrVerifier(dep.registry)
        now = datetime.now(UTC)
        before = verifier.status_lists(now)
        token = present(api, issue_licence(api, 509)[0])["token"]
        index = decode_token(token).claims.status_index
        assert all(index >= sl.size for sl in before.values())  # the cache cannot know it
        result = verifier.verify(token, now, online=False)
        assert result.passed, result.checks
        garbage = verifier.verify("LZ1:garbage", now, online=False)
        assert garbage.sub_indication is SubIndication.FORMAT_FAILURE
    finally:
        dep.close()


def _race(caches: list[DbReplayCache], jti: bytes, now: datetime, racers: int) -> list[bool]:
    wins: list[bool] = []
    barrier = threading.Barrier(racers)

    def attempt(i: int) -> None:
        barrier.wait()
        wins.append(caches[i % len(caches)].first_use("ISS", jti, now + timedelta(seconds=60),
                                                      now))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wins


def test_replay_cache_admits_one_of_many_racers_on_each_database(db_url: str) -> None:
    migrate(db_url)
    registries = [Registry(db_url), Registry(db_url)]
    try:
        caches = [DbReplayCache(r) for r in registries]
        now = datetime.now(UTC)
        for round_ in range(3):
            wins = _race(caches, bytes([round_]) * 12, now, racers=6)
            assert wins.count(True) == 1 and len(wins) == 6
        # Another issuer's identical jti is a different code.
        assert caches[0].first_use("OTHER", bytes(12), now + timedelta(seconds=60), now)
        live = DbLiveStatus(registries[0])
        assert live.status_of("ISS", "no-such-licence", now) is Bit.UNKNOWN
    finally:
        for r in registries:
            r.close()


def test_document_code_is_not_spent_by_online_checks(api: Api) -> None:
    licence_id, record = issue_licence(api, 510)
    dep = deployment(api)
    try:
        with dep.registry.session() as session:
            licence = session.get(Licence, licence_id)
            assert licence is not None
            issuer = session.get(Department, licence.department_code)
            assert issuer is not None
            token = document_token(
                dep.issuer_context(), TYPES.get("DL"), record, licence_id=licence_id,
                issuer_uscc=issuer.uscc, status_index=licence.status_index,
                valid=(date.fromisoformat(record["valid_from"]),
                       date.fromisoformat(record["valid_until"])),
                at=datetime.now(UTC))
    finally:
        dep.close()
    for _ in range(2):  # printed on paper: scanned again and again
        result = verify(api, token)
        assert result["indication"] == "TOTAL_PASSED", result
        assert "authentic as issued" in result["message_en"]
        assert "replay" not in {c["name"] for c in result["checks"]}


def test_public_checks_never_spend_the_code_and_the_counter_redeems_it_once(api: Api) -> None:
    licence_id, _ = issue_licence(api, 511)
    token = present(api, licence_id)["token"]
    for _ in range(2):  # a bystander (or two) scanning first
        public = verify(api, token)
        assert public["indication"] == "TOTAL_PASSED", public
        assert "replay" not in {c["name"] for c in public["checks"]}
    first = redeem(api, token)
    assert first["indication"] == "TOTAL_PASSED", first
    assert any(c["name"] == "replay" and c["passed"] for c in first["checks"])
    second = redeem(api, token)
    assert (second["indication"], second["sub_indication"]) == (
        "INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    assert verify(api, token)["indication"] == "TOTAL_PASSED"  # still authentic to the public
    anonymous = api.client.post("/v1/qr/redeem", json={"token": token})
    assert anonymous.status_code == 401
    as_holder = api.client.post("/v1/qr/redeem", json={"token": token},
                                headers=api.headers("holder_app"))
    assert as_holder.status_code == 403


@pytest.mark.parametrize(("state", "words"), [
    (LicenceStatus.CANCELLED, ("cancelled", "注销")),
    (LicenceStatus.SUPERSEDED, ("replaced", "替代")),
    (LicenceStatus.SUSPENDED, ("suspended", "暂停")),
    (LicenceStatus.REVOKED, ("revoked", "吊销")),
])
def test_each_state_is_reported_distinctly_online_and_offline(
        api: Api, state: LicenceStatus, words: tuple[str, str]) -> None:
    seed = 520 + list(LicenceStatus).index(state)
    licence_id, _ = issue_licence(api, seed)
    token = present(api, licence_id)["token"]
    claims = decode_token(token).claims
    dep = deployment(api)
    try:
        replacement = None
        if state is LicenceStatus.SUPERSEDED:  # a newer licence of the same holder
            with dep.registry.session() as session:
                old = session.get(Licence, licence_id)
                assert old is not None
                record = dict(licence_record(session, old).holder)
            response = api.client.post("/v1/licences", json={"type": "DL", "record": record},
                                       headers=api.headers("issuer"))
            assert response.status_code == 201, response.text
            replacement = response.json()["licence_id"]
        with dep.registry.session() as session:
            change_status(session, licence_id, state, reason="test", at=datetime.now(UTC),
                          actor="test", superseded_by=replacement)
        now = datetime.now(UTC)
        online = verify(api, token)
        offline = result_view(QrVerifier(dep.registry).verify(token, now, online=False))
        fresh = export_lists(dep, now)
        value = _bit_from_raw_cose(fresh.status_lists[claims.issuer], claims.status_index)
    finally:
        dep.close()
    assert value == {LicenceStatus.CANCELLED: 4, LicenceStatus.SUPERSEDED: 5,
                     LicenceStatus.SUSPENDED: 2, LicenceStatus.REVOKED: 1}[state]
    for view in (online, offline):
        expected = ("INDETERMINATE", "TRY_LATER") if state is LicenceStatus.SUSPENDED else (
            "TOTAL_FAILED", "REVOKED")
        assert (view["indication"], view["sub_indication"]) == expected, view
        assert words[0] in view["message_en"] and words[1] in view["message_zh"], view
