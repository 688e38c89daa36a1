"""一证通办 through the API on SQLite and PostgreSQL: consent, service grants, fill, wallet.

One person holds RIC (issued by one department), DL and SSC (another); the
test service needs all three. Each test makes its own person so tests stay
independent while sharing one deployment per database.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gmssl import func as gm_func
from gmssl import sm3 as gm_sm3
from sqlalchemy import select, update

from api.deployment import Deployment, Home, load_config
from tests.api_support import Api
from tests.counter_support import SERVICE, SERVICE_JSON, Person, counter_api, issue_person
from trust.registry.models import AuditEntry, Grant, GrantLicence, Licence

_seeds = itertools.count(7100)


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Api]:
    yield from counter_api(request, tmp_path_factory.mktemp("counter") / "home")


def _client_id(api: Api, who: str) -> str:
    return api.tokens[who].split("_", 2)[1]


def _consent(api: Api, holder: dict[str, str], *, service: str = SERVICE,
             counter: str = "verifier", ttl_s: int = 600) -> dict[str, Any]:
    response = api.client.get(f"/v1/services/{service}/consent", headers=holder,
                              params={"verifier_id": _client_id(api, counter), "ttl_s": ttl_s})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _grant(api: Api, person: Person, *, service: str = SERVICE, counter: str = "verifier",
           ttl_s: int = 600) -> dict[str, Any]:
    holder = api.holder_headers(person.id_number)
    view = _consent(api, holder, service=service, counter=counter, ttl_s=ttl_s)
    response = api.client.post(f"/v1/services/{service}/grants", headers=holder, json={
        "verifier_id": _client_id(api, counter), "ttl_s": ttl_s, "consent": view["consent"]})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _fill(api: Api, code: str, *, service: str = SERVICE, counter: str = "verifier") -> Any:
    return api.client.post(f"/v1/services/{service}/fill", json={"grant": code},
                           headers=api.headers(counter))


def _deployment(api: Api) -> Deployment:
    home = Home(api.home)
    return Deployment(home, load_config(home))


def test_consent_view_shows_licences_fields_counter_and_lifetime_in_both_languages(
        api: Api) -> None:
    person = issue_person(api, next(_seeds))
    view = _consent(api, api.holder_headers(person.id_number), ttl_s=900)
    assert view["service"]["code"] == SERVICE
    assert view["service"]["name"] == SERVICE_JSON["name"]
    assert view["counter"] == {"client_id": _client_id(api, "verifier"), "name": "verifier"}
    assert view["ttl_s"] == 900 and view["duration"] == {"zh": "15 分钟", "en": "15 min"}
    got = {lic["type"]: lic for lic in view["licences"]}
    assert {t: got[t]["licence_id"] for t in got} == person.licences
    # exactly the fields the form reads, each labelled in Chinese and English
    assert {t: [f["field"] for f in lic["fields"]] for t, lic in got.items()} == {
        "RIC": ["birth_date", "id_number", "name"], "DL": ["vehicle_class"],
        "SSC": ["card_number"]}
    assert got["RIC"]["fields"][2]["label"] == {"zh": "姓名", "en": "Name"}
    assert got["RIC"]["type_name"]["zh"] and got["RIC"]["department"] == "杭州市公安局"
    assert view["missing"] == []
    assert "verifier" in view["text"]["zh"] and "15 分钟" in view["text"]["zh"]
    assert "usable once" in view["text"]["en"]
    # the view carries labels, never the holder's values
    assert person.records["RIC"]["name"] not in json.dumps(view, ensure_ascii=False)


def test_the_counter_fills_the_form_once_with_provenance(api: Api) -> None:
    person = issue_person(api, next(_seeds))
    granted = _grant(api, person)
    assert granted["code"] == "SG1:" + granted["grant_id"]
    assert granted["png"].startswith("data:image/png;base64,")
    before = datetime.now(UTC) - timedelta(seconds=5)
    response = _fill(api, granted["code"])
    assert response.status_code == 200, response.text
    out = response.json()
    ric = person.records["RIC"]
    y, m, d = ric["birth_date"].split("-")
    assert out["service"] == SERVICE
    assert out["form"] == {"applicant_name": ric["name"], "applicant_id_number": ric["id_number"],
                           "birth_date": f"{y}年{m}月{d}日",
                           "vehicle_class": person.records["DL"]["vehicle_class"],
                           "social_security_card": person.records["SSC"]["card_number"]}
    assert out["missing"] == []
    prov = out["provenance"]
    assert prov["vehicle_class"]["licence_id"] == person.licences["DL"]
    assert prov["vehicle_class"]["type"] == "DL" and prov["vehicle_class"]["field"] == (
        "vehicle_class")
    assert {p["indication"] for p in prov.values()} == {"TOTAL_PASSED"}
    assert all(datetime.fromisoformat(p["verified_at"]) >= before for p in prov.values())
    assert {lic["licence_id"]: lic["indication"] for lic in out["licences"]} == dict.fromkeys(person.licences.values(), "TOTAL_PASSED")
    # only fields of the scope: nothing of the address, sex, ethnicity...
    text = json.dumps(out, ensure_ascii=False)
    assert ric["address"] not in text and person.records["DL"]["file_number"] not in text

    again = _fill(api, granted["code"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "grant.redeemed"


def test_only_the_named_counter_for_the_named_service_can_redeem(api: Api) -> None:
    person = issue_person(api, next(_seeds))
    granted = _grant(api, person)
    other = _fill(api, granted["code"], counter="auditor")
    assert other.status_code == 403  # not a counter at all
    dep = _deployment(api)
    try:
        from api.auth import Role, create_client

        with dep.registry.session() as s:
            _, token = create_client(s, "counter-2", frozenset({Role.VERIFIER}))
    finally:
        dep.close()
    api.tokens["counter2"] = token
    wrong = _fill(api, granted["code"], counter="counter2")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "grant.wrong_verifier"
    wrong_service = _fill(api, granted["code"], service="PENSION-CLAIM")
    assert wrong_service.status_code == 409
    assert wrong_service.json()["error"]["code"] == "grant.wrong_service"
    # a service grant is not redeemable as raw fields either
    raw = api.client.post(f"/v1/grants/{granted['grant_id']}/redeem",
                          headers=api.headers("verifier"))
    assert raw.status_code == 409 and raw.json()["error"]["code"] == "grant.service_grant"
    # the refusals did not spend it
    assert _fill(api, granted["code"]).status_code == 200
    dep = _deployment(api)
    try:
        with dep.registry.session() as s:
            kinds = [k for k, in s.execute(select(AuditEntry.kind).where(
                AuditEntry.kind == "grant.refused"))]
    finally:
        dep.close()
    assert len(kinds) >= 3


def test_a_grant_expires(api: Api) -> None:
    person = issue_person(api, next(_seeds))
    granted = _grant(api, person, ttl_s=60)
    dep = _deployment(api)
    try:
        with dep.registry.session() as s:
            s.execute(update(Grant).where(Grant.id == granted["grant_id"]).values(
                expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        dep.close()
    response = _fill(api, granted["code"])
    assert response.status_code == 409 and response.json()["error"]["code"] == "grant.expired"


def test_consent_must_match_what_is_granted(api: Api) -> None:
    person = issue_person(api, next(_seeds), types=("RIC", "DL"))
    holder = api.holder_headers(person.id_number)
    view = _consent(api, holder)
    assert view["missing"] == ["SSC"]
    # a licence issued after the view was shown: the holder must look again
    records = issue_person(api, 0).records  # any person; we only need an SSC of this one
    ssc = {**records["SSC"], "social_security_number": person.id_number,
           "name": person.records["RIC"]["name"], "sex": person.records["RIC"]["sex"]}
    assert api.client.post("/v1/licences", json={"type": "SSC", "record": ssc},
                           headers=api.headers("issuer")).status_code == 201
    stale = api.client.post(f"/v1/services/{SERVICE}/grants", headers=holder, json={
        "verifier_id": _client_id(api, "verifier"), "consent": view["consent"]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "grant.consent_stale"
    other_ttl = api.client.post(f"/v1/services/{SERVICE}/grants", headers=holder, json={
        "verifier_id": _client_id(api, "verifier"), "ttl_s": 601,
        "consent": _consent(api, holder)["consent"]})
    assert other_ttl.status_code == 409
    unknown = api.client.get(f"/v1/services/{SERVICE}/consent", headers=holder,
                             params={"verifier_id": _client_id(api, "holder_app")})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == (
        "grant.unknown_counter")


def test_missing_licences_are_named_and_fill_nothing(api: Api) -> None:
    person = issue_person(api, next(_seeds), types=("RIC",))
    granted = _grant(api, person)
    assert [i["type"] for i in granted["licences"]] == ["RIC"]
    out = _fill(api, granted["code"]).json()
    assert sorted(out["missing"]) == ["DL", "SSC"]
    assert "vehicle_class" not in out["form"] and "social_security_card" not in out["form"]
    assert out["form"]["applicant_name"] == person.records["RIC"]["name"]


def test_a_licence_revoked_after_the_grant_is_named_but_feeds_nothing(api: Api) -> None:
    person = issue_person(api, next(_seeds))
    granted = _grant(api, person)
    revoked = api.client.post(f"/v1/licences/{person.licences['DL']}/revoke",
                              json={"reason": "test"}, headers=api.headers("issuer"))
    assert revoked.status_code == 200, revoked.text
    out = _fill(api, granted["code"]).json()
    verdicts = {lic["type"]: lic["indication"] for lic in out["licences"]}
    assert verdicts["DL"] != "TOTAL_PASSED" and verdicts["RIC"] == "TOTAL_PASSED"
    assert "DL" in out["missing"] and "vehicle_class" not in out["form"]
    assert person.records["DL"]["vehicle_class"] not in {
        str(v) for v in out["form"].values()} or out["form"].get("vehicle_class") is None


def test_one_licence_grants_keep_working(api: Api) -> None:
    person = issue_person(api, next(_seeds), types=("RIC",))
    holder = api.holder_headers(person.id_number)
    created = api.client.post("/v1/grants", headers=holder, json={
        "licence_id": person.licences["RIC"], "verifier_id": _client_id(api, "verifier"),
        "scope": ["name"]})
    assert created.status_code == 201, created.text
    grant_id = created.json()["grant"]["grant_id"]
    redeemed = api.client.post(f"/v1/grants/{grant_id}/redeem", headers=api.headers("verifier"))
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["fields"] == {"name": person.records["RIC"]["name"]}
    # and it is not a service grant
    assert _fill(api, grant_id).json()["error"]["code"] == "grant.not_a_service_grant"


def test_grant_scope_is_exactly_the_service_scope_for_every_service_the_holder_can_use(
        api: Api) -> None:
    """Over the whole catalogue: what a grant records is service.scope() on the held types."""
    from api.routes.counter import service_catalogue

    person = issue_person(api, next(_seeds))
    dep = _deployment(api)
    try:
        catalogue = service_catalogue(dep, type("Cache", (), {})())
    finally:
        dep.close()
    holder = api.holder_headers(person.id_number)
    checked = 0
    for service in catalogue.all():
        scope = service.scope()
        held = set(scope) & set(person.licences)
        if not held:
            continue
        view = _consent(api, holder, service=service.code)
        assert {lic["type"]: sorted(f["field"] for f in lic["fields"])
                for lic in view["licences"]} == {t: sorted(scope[t]) for t in held}, service.code
        granted = api.client.post(f"/v1/services/{service.code}/grants", headers=holder, json={
            "verifier_id": _client_id(api, "verifier"), "consent": view["consent"]})
        assert granted.status_code == 201, granted.text
        dep = _deployment(api)
        try:
            with dep.registry.session() as s:
                rows = s.execute(select(GrantLicence).where(
                    GrantLicence.grant_id == granted.json()["grant_id"])).scalars().all()
                stored = {r.type_code: sorted(f for f in r.scope.split(",") if f) for r in rows}
        finally:
            dep.close()
        assert stored == {t: sorted(scope[t]) for t in held}, service.code
        checked += 1
    assert checked >= 2


def test_the_wallet_lists_downloads_presents_and_shows_fetches_of_its_holder_only(
        api: Api) -> None:
    person = issue_person(api, next(_seeds))
    other = issue_person(api, next(_seeds))
    holder = api.holder_headers(person.id_number)
    listed = api.client.get("/v1/wallet/licences", headers=holder)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert {i["licence_id"] for i in items} == set(person.licences.values())
    assert {i["department"] for i in items} == {"demo", "other-dept"} or len(
        {i["department"] for i in items}) == 2
    dep = _deployment(api)
    try:
        with dep.registry.session() as s:
            registered = {i: s.get(Licence, i).file_sm3 for i in person.licences.values()}
    finally:
        dep.close()
    for item in items:
        pdf = api.client.get(item["download"], headers=holder)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        # the file exactly as issued: SM3 by gmssl (independent of trust.sm3) = the registry's
        assert gm_sm3.sm3_hash(gm_func.bytes_to_list(pdf.content)) == registered[
            item["licence_id"]]
    shown = api.client.post("/v1/presentations", headers=holder,
                            json={"licence_id": person.licences["DL"]})
    assert shown.status_code == 201 and shown.json()["token"].startswith("LZ1:")
    # a revoked licence leaves the wallet
    api.client.post(f"/v1/licences/{person.licences['SSC']}/revoke", json={"reason": "t"},
                    headers=api.headers("issuer"))
    assert person.licences["SSC"] not in {i["licence_id"] for i in api.client.get(
        "/v1/wallet/licences", headers=holder).json()["items"]}

    mine = _grant(api, person)
    assert _fill(api, mine["code"]).status_code == 200
    theirs = _grant(api, other)
    assert _fill(api, theirs["code"]).status_code == 200
    history = api.client.get("/v1/wallet/fetches", headers=holder).json()["items"]
    fetched = [h for h in history if h["kind"] == "grant.redeemed"]
    assert [h["grant_id"] for h in fetched] == [mine["grant_id"]]
    entry = fetched[0]
    assert entry["counter"] == _client_id(api, "verifier") and entry["counter_name"] == "verifier"
    assert entry["service"] == SERVICE
    assert {lic["licence_id"] for lic in entry["licences"]} == {
        person.licences["RIC"], person.licences["DL"]}
    text = json.dumps(history, ensure_ascii=False)
    assert theirs["grant_id"] not in text
    assert all(i not in text for i in other.licences.values())


def test_grant_audit_entries_carry_no_personal_values(api: Api) -> None:
    person = issue_person(api, next(_seeds))
    assert _fill(api, _grant(api, person)["code"]).status_code == 200
    dep = _deployment(api)
    try:
        with dep.registry.session() as s:
            bodies = [b.decode() for b, in s.execute(select(AuditEntry.canonical).where(
                AuditEntry.kind.like("grant.%")))]
    finally:
        dep.close()
    text = "\n".join(bodies)
    assert person.id_number not in text and person.records["RIC"]["name"] not in text
    assert person.records["SSC"]["card_number"] not in text


def test_a_stored_file_of_another_licence_or_an_unreadable_one_fails_closed(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plaintext-era row whose file was swapped for another holder's genuine licence, and a
    file that cannot be decrypted: neither may feed the form."""
    import api.counter_fill as counter_fill
    from api.routes.counter import service_catalogue
    from api.routes.verification import deployment_policy
    from trust.registry.sealed import SealedDataError, licence_file
    from trust.registry.service_grants import RedeemedLicence

    person, other = issue_person(api, next(_seeds)), issue_person(api, next(_seeds))
    dep = _deployment(api)
    try:
        service = service_catalogue(dep, type("Cache", (), {})()).get(SERVICE)
        policy = deployment_policy(dep)
        with dep.registry.session() as s:
            swapped = licence_file(s, other.licences["DL"])
            items = [RedeemedLicence(person.licences["DL"], "DL", True,
                                     {"vehicle_class": person.records["DL"]["vehicle_class"]}),
                     RedeemedLicence(person.licences["SSC"], "SSC", True,
                                     {"card_number": person.records["SSC"]["card_number"]}),
                     # the registry said "not valid" at redemption; the file still verifies
                     RedeemedLicence(person.licences["RIC"], "RIC", False, {})]

            def stored(session: Any, licence_id: str) -> bytes:
                if licence_id == person.licences["DL"]:
                    return swapped
                if licence_id == person.licences["RIC"]:
                    return licence_file(session, licence_id)
                raise SealedDataError("cannot open", code="data.missing")

            monkeypatch.setattr(counter_fill, "licence_file", stored)
            verdicts = counter_fill.verify_granted(s, items, policy, datetime.now(UTC), service)
    finally:
        dep.close()
    by_type = {v.source.type_code: v for v in verdicts}
    assert by_type["DL"].source.indication == "TOTAL_FAILED"
    assert by_type["DL"].sub_indication == "SIG_CONSTRAINTS_FAILURE"
    assert by_type["SSC"].source.indication == "TOTAL_FAILED"
    assert by_type["SSC"].sub_indication == "FORMAT_FAILURE"
    assert by_type["RIC"].source.indication == "INDETERMINATE"
    assert by_type["RIC"].sub_indication == "TRY_LATER"
    from api.services import fill_form

    out = fill_form(service, [v.source for v in verdicts]).to_json()
    assert out["form"] == {} and out["missing"] == ["RIC", "DL", "SSC"]


def test_concurrent_fills_spend_a_grant_once(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    person = issue_person(api, next(_seeds))
    code = _grant(api, person)["code"]
    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda _: _fill(api, code).status_code, range(4)))
    assert statuses == [200, 409, 409, 409]


def test_the_grant_can_ride_in_a_presentation_code_of_a_granted_licence(api: Api) -> None:
    from trust.token import decode_token

    person = issue_person(api, next(_seeds))
    other = issue_person(api, next(_seeds))
    holder = api.holder_headers(person.id_number)
    view = _consent(api, holder)
    body = {"verifier_id": _client_id(api, "verifier"), "consent": view["consent"]}
    # only a licence of this grant may be shown with it
    refused = api.client.post(f"/v1/services/{SERVICE}/grants", headers=holder,
                              json={**body, "present": other.licences["RIC"]})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "grant.present"
    granted = api.client.post(f"/v1/services/{SERVICE}/grants", headers=holder,
                              json={**body, "present": person.licences["RIC"]})
    assert granted.status_code == 201, granted.text
    token = granted.json()["presentation"]
    claims = decode_token(token).claims
    assert claims.licence_id == person.licences["RIC"] and claims.grant is not None
    assert claims.grant.grant_id.hex() == granted.json()["grant_id"]
    assert list(claims.grant.scope) == ["birth_date", "id_number", "name"]
    # the public QR check shows the grant, masked holder, valid
    shown = api.client.post("/v1/qr/verify", json={"token": token})
    assert shown.status_code == 200 and shown.json()["indication"] == "TOTAL_PASSED"
    # the counter may scan the 亮证 code instead of the SG1 code
    out = _fill(api, token)
    assert out.status_code == 200, out.text
    assert out.json()["form"]["applicant_name"] == person.records["RIC"]["name"]
    plain = api.client.post("/v1/presentations", headers=holder,
                            json={"licence_id": person.licences["RIC"]}).json()["token"]
    no_grant = _fill(api, plain)
    assert no_grant.status_code == 422 and no_grant.json()["error"]["code"] == "grant.code"
