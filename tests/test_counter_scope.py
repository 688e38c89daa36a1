"""A grant never returns a field outside the service's needs (property over the catalogue),
and ``sealtrust services fill --grant`` answers the issue's JSON once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.counter_fill import missing_types, scoped_source
from api.services import ServiceDefinition, fill_form, load_services
from signing.types import builtin_types
from tests.api_support import Api
from tests.counter_support import SERVICE, counter_api, issue_person
from trust.indications import Indication
from trust.registry.service_grants import RedeemedLicence

TYPES = builtin_types()
CATALOGUE = load_services(TYPES)
SENTINEL = "泄露SENTINEL"
_FIELD = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)


@st.composite
def _granted(draw: st.DrawFn) -> tuple[ServiceDefinition, list[RedeemedLicence]]:
    """A service, and licences of any types (needed or not) whose records hold every field
    of their type plus arbitrary extra ones, each extra value a sentinel."""
    service = draw(st.sampled_from(CATALOGUE.all()))
    codes = draw(st.lists(st.sampled_from([*service.needs(), *TYPES.codes()[:8]]),
                          min_size=1, max_size=6))
    licences = []
    for n, code in enumerate(codes):
        record: dict[str, Any] = dict(TYPES.get(code).example(n))
        outside = set(record) - service.scope().get(code, frozenset())
        for name in outside:
            record[name] = f"{SENTINEL}{n}{name}"
        for extra in draw(st.lists(_FIELD, max_size=4)):
            if extra not in record:
                record[extra] = f"{SENTINEL}{n}{extra}"
        licences.append(RedeemedLicence(f"L{n}", code, draw(st.booleans()), record))
    return service, licences


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_granted(), st.sampled_from([i.value for i in Indication]))
def test_a_grant_never_returns_a_field_outside_the_services_needs(
        granted: tuple[ServiceDefinition, list[RedeemedLicence]], indication: str) -> None:
    service, licences = granted
    scope = service.scope()
    at = datetime(2026, 12, 6, tzinfo=UTC)
    sources = [scoped_source(scope, item, indication, at) for item in licences]
    for source in sources:
        assert set(source.record) <= scope.get(source.type_code, frozenset())
    out = fill_form(service, sources).to_json()
    assert SENTINEL not in json.dumps(out, ensure_ascii=False)
    assert set(out["form"]) <= set(service.mapping)
    for field, origin in out["provenance"].items():
        assert field in service.mapping
        if origin.get("type") is not None:
            assert origin["field"] in scope[origin["type"]], (service.code, origin)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CATALOGUE.all()), st.data())
def test_missing_names_each_unmet_need(service: ServiceDefinition, data: st.DataObject) -> None:
    """All-of types not held, and every alternative of a one-of group none of which is held."""
    held = set(data.draw(st.lists(st.sampled_from(service.needs()), unique=True)))
    missing = missing_types(service, held)
    assert not held & set(missing)
    unmet = [g for g in service.one_of if not held & set(g)]
    for code in service.all_of:
        assert (code in missing) == (code not in held)
    for group in unmet:
        assert set(group) <= set(missing)
    for code in missing:
        assert code in service.all_of or any(code in g for g in unmet)
    assert len(missing) == len(set(missing))
    assert missing_types(service, service.needs()) == []


def test_the_property_sees_every_kind_of_service() -> None:
    assert len(CATALOGUE.all()) >= 6
    assert any(s.one_of for s in CATALOGUE.all()) and any(len(s.all_of) >= 2
                                                          for s in CATALOGUE.all())


@pytest.fixture(scope="module", params=["sqlite"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Api]:
    yield from counter_api(request, tmp_path_factory.mktemp("counter-cli") / "home")


def _cli(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args, "--home", str(api.home)],
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "SEALTRUST_OPERATOR": "clerk-7"})


def test_services_fill_with_a_grant_prints_the_json_contract_once(api: Api) -> None:
    person = issue_person(api, 7300)
    holder = api.holder_headers(person.id_number)
    verifier = api.tokens["verifier"].split("_", 2)[1]
    view = api.client.get(f"/v1/services/{SERVICE}/consent", headers=holder,
                          params={"verifier_id": verifier}).json()
    code = api.client.post(f"/v1/services/{SERVICE}/grants", headers=holder, json={
        "verifier_id": verifier, "consent": view["consent"]}).json()["code"]
    done = _cli(api, "services", "fill", SERVICE, "--grant", code, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert {"service", "form", "provenance", "missing"} <= set(out)
    assert out["service"] == SERVICE and out["missing"] == []
    assert out["form"]["applicant_name"] == person.records["RIC"]["name"]
    assert {p["indication"] for p in out["provenance"].values()} == {"TOTAL_PASSED"}
    assert set(out["provenance"]["vehicle_class"]) >= {"licence_id", "type", "field",
                                                       "verified_at", "indication"}
    again = _cli(api, "services", "fill", SERVICE, "--grant", code, "--json")
    assert again.returncode == 1 and "grant.redeemed" in again.stdout + again.stderr
    history = api.client.get("/v1/wallet/fetches", headers=holder).json()["items"]
    assert history[0]["kind"] == "grant.refused"
    assert [h["counter"] for h in history if h["kind"] == "grant.redeemed"] == [verifier]
    both = _cli(api, "services", "fill", SERVICE, "--grant", code, "--licence", "x")
    assert both.returncode == 2
