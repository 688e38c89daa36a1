"""GET /v1/services and /v1/services/{code}: public, read-only, the scope visible to all."""

from __future__ import annotations

from pathlib import Path

from api.services import load_services
from signing.types import builtin_types
from tests.api_support import Api


def test_list_is_public_one_entry_per_service_with_types(api: Api) -> None:
    response = api.client.get("/v1/services")
    assert response.status_code == 200
    rows = response.json()
    catalogue = load_services(builtin_types())
    assert [r["code"] for r in rows] == list(catalogue.codes())
    pension = next(r for r in rows if r["code"] == "PENSION-CLAIM")
    assert pension["types"] == ["RIC", "SSC"]
    assert pension["name"]["zh"] == "基本养老保险待遇申领"


def test_show_gives_scope_form_and_mapping(api: Api) -> None:
    response = api.client.get("/v1/services/pension-claim", headers=api.headers("verifier"))
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == {"RIC": ["birth_date", "id_number", "name", "sex"],
                             "SSC": ["card_number", "social_security_number"]}
    assert body["form"]["additionalProperties"] is False
    assert body["mapping"]["applicant_sex_code"] == {"lookup": {"copy": "RIC.sex"},
                                                     "table": "sex_code"}


def test_unknown_and_malformed_codes(api: Api) -> None:
    missing = api.client.get("/v1/services/NO-SUCH")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "service.not_found"
    assert api.client.get("/v1/services/" + "A" * 80).status_code == 422
    assert api.client.get("/v1/services/%00x").status_code in (404, 422)


def test_a_bad_deployment_service_stops_start_up(tmp_path: Path) -> None:
    import json

    import pytest
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.deployment import init_deployment
    from api.services import ServiceDefinitionError
    from api.settings import Settings

    init_deployment(tmp_path / "home")
    (tmp_path / "home" / "services").mkdir()
    (tmp_path / "home" / "services" / "X-BAD.service.json").write_text(json.dumps({
        "code": "X-BAD", "version": 1, "name": {"zh": "坏", "en": "bad"},
        "needs": {"all_of": ["RIC"]},
        "form": {"type": "object", "additionalProperties": False,
                 "properties": {"a": {"type": "string"}}},
        "mapping": {"a": {"copy": "RIC.no_such_field"}}}))
    with pytest.raises(ServiceDefinitionError, match=r"X-BAD: mapping\.a: RIC\.no_such_field"), \
            TestClient(create_app(Settings(home=tmp_path / "home"))):
        pass
