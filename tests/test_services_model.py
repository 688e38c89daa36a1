"""Service definitions (issue 14): loading, scope, fill_form and its fail-closed rules."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from api.services import (
    ServiceDefinitionError,
    SourcedLicence,
    fill_form,
    load_services,
    parse_service,
)
from signing.types import builtin_types
from trust.errors import InputError, NotFoundError

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
TYPES = builtin_types()


def _licence(type_code: str, index: int = 0, indication: str = "TOTAL_PASSED",
             licence_id: str | None = None) -> SourcedLicence:
    return SourcedLicence(licence_id or f"{type_code}-{index}", type_code,
                          TYPES.get(type_code).example(index), NOW, indication)


def _definition(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": "T-SVC", "version": 1, "name": {"zh": "测试事项", "en": "Test service"},
        "needs": {"all_of": ["RIC"]},
        "form": {"type": "object", "additionalProperties": False,
                 "properties": {"name": {"type": "string"}, "born": {"type": "string"}}},
        "mapping": {"name": {"copy": "RIC.name"},
                    "born": {"date": {"copy": "RIC.birth_date"}, "format": "YYYY年MM月DD日"}},
    }
    base.update(changes)
    return base


def test_shipped_catalogue_loads_and_lists_codes() -> None:
    catalogue = load_services(TYPES)
    assert "PENSION-CLAIM" in catalogue
    assert catalogue.codes() == tuple(sorted(catalogue.codes()))
    assert catalogue.get("pension-claim").code == "PENSION-CLAIM"
    with pytest.raises(NotFoundError):
        catalogue.get("NO-SUCH-SERVICE")


def test_scope_is_exactly_the_fields_the_mapping_reads() -> None:
    service = parse_service(_definition(), TYPES)
    assert service.scope() == {"RIC": frozenset({"name", "birth_date"})}


def test_fill_form_values_and_provenance() -> None:
    service = parse_service(_definition(), TYPES)
    ric = _licence("RIC", 3)
    filled = fill_form(service, [ric]).to_json()
    y, m, d = ric.record["birth_date"].split("-")
    assert filled["form"] == {"name": ric.record["name"], "born": f"{y}年{m}月{d}日"}
    assert filled["provenance"]["born"] == {
        "licence_id": "RIC-3", "type": "RIC", "field": "birth_date",
        "verified_at": NOW.isoformat(), "indication": "TOTAL_PASSED"}
    assert filled["missing"] == []
    assert filled["service"] == "T-SVC"


@pytest.mark.parametrize("indication", ["INDETERMINATE", "TOTAL_FAILED", "total_passed", ""])
def test_only_total_passed_feeds_the_form(indication: str) -> None:
    service = parse_service(_definition(), TYPES)
    filled = fill_form(service, [_licence("RIC", indication=indication)]).to_json()
    assert filled["form"] == {}
    assert filled["provenance"] == {}
    assert filled["missing"] == ["RIC"]
    assert filled["unused"] == [{"licence_id": "RIC-0", "type": "RIC",
                                 "indication": indication, "reason": "not_verified"}]


def test_unneeded_licence_is_never_read() -> None:
    service = parse_service(_definition(), TYPES)
    filled = fill_form(service, [_licence("DL"), _licence("RIC")]).to_json()
    assert {p["type"] for p in filled["provenance"].values()} == {"RIC"}
    assert filled["unused"][0]["reason"] == "not_needed"


def test_one_of_group_missing_names_every_alternative() -> None:
    service = load_services(TYPES).get("RESIDENCE-PERMIT")
    assert fill_form(service, []).missing == ["RIC", "DL"]
    filled = fill_form(service, [_licence("DL", 2)])
    assert filled.missing == []
    assert filled.form["applicant_id_number"] == TYPES.get("DL").example(2)["license_number"]


def test_value_refused_by_form_schema_is_left_empty() -> None:
    definition = _definition()
    definition["form"]["properties"]["name"] = {"type": "string", "maxLength": 1}
    filled = fill_form(parse_service(definition, TYPES), [_licence("RIC")]).to_json()
    assert "name" not in filled["form"] and "name" not in filled["provenance"]
    assert filled["invalid"] == [{"field": "name", "message": "breaks the form's maxLength rule"}]
    assert TYPES.get("RIC").example(0)["name"] not in json.dumps(filled, ensure_ascii=False)


def test_naive_verified_at_is_refused() -> None:
    service = parse_service(_definition(), TYPES)
    naive = SourcedLicence("x", "RIC", {}, datetime(2026, 1, 1), "TOTAL_PASSED")
    with pytest.raises(InputError, match="timezone-aware"):
        fill_form(service, [naive])


@pytest.mark.parametrize(("change", "message"), [
    ({"needs": {"all_of": ["NOPE"]}}, "unknown licence type 'NOPE'"),
    ({"mapping": {"name": {"copy": "RIC.nope"}}}, "mapping.name: RIC.nope: unknown field 'nope'"),
    ({"mapping": {"name": {"eval": "1+1"}}}, "mapping.name: unknown function (eval)"),
    ({"mapping": {"name": {"copy": "DL.name"}}},
     "mapping.name: DL.name: type DL is not in the service's needs"),
    ({"mapping": {"surname": {"copy": "RIC.name"}}},
     "mapping.surname: form field 'surname' is not in the form schema"),
    ({"mapping": {"name": {"copy": "ZZ.name"}}}, "unknown licence type 'ZZ'"),
    ({"mapping": {"name": {"lookup": {"copy": "RIC.sex"}, "table": "nope"}}},
     "mapping.name.table: unknown table 'nope'"),
    ({"mapping": {"born": {"date": {"copy": "RIC.birth_date"}, "format": "%Y"}}},
     "mapping.born.format"),
    ({"produces": ["XX"]}, "produces: unknown licence type 'XX'"),
    ({"extra": 1}, "Additional properties are not allowed"),
])
def test_bad_definitions_are_refused_naming_service_and_expression(
        change: dict[str, Any], message: str) -> None:
    definition = _definition()
    definition.update(copy.deepcopy(change))
    with pytest.raises(ServiceDefinitionError) as caught:
        parse_service(definition, TYPES)
    assert caught.value.message.startswith("service T-SVC: ")
    assert message in caught.value.message
    assert caught.value.code == "service.definition_invalid"


def test_open_form_is_refused() -> None:
    definition = _definition()
    del definition["form"]["additionalProperties"]
    with pytest.raises(ServiceDefinitionError, match=r"\$\.form: 'additionalProperties' is a"):
        parse_service(definition, TYPES)
    definition["form"]["additionalProperties"] = True
    with pytest.raises(ServiceDefinitionError, match="False was expected"):
        parse_service(definition, TYPES)


@pytest.mark.parametrize(("form_change", "message"), [
    ({"required": ["nope"]}, "form.required: 'nope' is not a form field"),
    ({"properties": {"name": {"type": "string", "pattern": "("}, "born": {"type": "string"}}},
     "form.properties.name.pattern: not a regular expression"),
    ({"properties": {"name": {"type": "object"}, "born": {"type": "string"}}},
     "$.form.properties.name.type"),
])
def test_bad_forms_are_refused(form_change: dict[str, Any], message: str) -> None:
    definition = _definition()
    definition["form"].update(form_change)
    with pytest.raises(ServiceDefinitionError) as caught:
        parse_service(definition, TYPES)
    assert message in caught.value.message


def test_extra_dir_services_join_and_duplicates_are_refused(tmp_path: Any) -> None:
    (tmp_path / "T-SVC.service.json").write_text(json.dumps(_definition()))
    assert "T-SVC" in load_services(TYPES, tmp_path)
    clash = _definition(code="PENSION-CLAIM")
    (tmp_path / "PENSION-CLAIM.service.json").write_text(json.dumps(clash))
    with pytest.raises(ServiceDefinitionError, match="defined twice"):
        load_services(TYPES, tmp_path)


def test_file_name_must_match_code(tmp_path: Any) -> None:
    (tmp_path / "OTHER.service.json").write_text(json.dumps(_definition()))
    with pytest.raises(ServiceDefinitionError, match="defines service T-SVC"):
        load_services(TYPES, tmp_path)


def test_shipped_catalogue_has_200_distinct_services_over_shipped_types() -> None:
    catalogue = load_services(TYPES)
    services = catalogue.all()
    assert len(services) >= 200
    assert len({s.name["zh"] for s in services}) == len(services)
    used = {t for s in services for t in s.needs()}
    assert used <= set(TYPES.codes())
    for service in services:
        assert service.mapping, service.code
        assert set(service.mapping) <= set(service.form_schema["properties"])
        assert service.subject in ("person", "organisation")
        assert set(service.produces) <= set(TYPES.codes())


def test_cli_list_and_validate(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from api.cli import cli

    result = CliRunner().invoke(cli, ["services", "list", "--json", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["code"] for r in rows] == list(load_services(TYPES).codes())
    assert next(r for r in rows if r["code"] == "DL-REISSUE")["types"] == ["RIC", "DL"]
    ok = CliRunner().invoke(cli, ["services", "validate", "--json", "--home", str(tmp_path)])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["valid"] is True
    bad = tmp_path / "bad.service.json"
    bad.write_text(json.dumps(_definition(mapping={"name": {"copy": "RIC.nope"}})))
    refused = CliRunner().invoke(cli, ["services", "validate", str(bad), "--json",
                                       "--home", str(tmp_path)])
    assert refused.exit_code == 1
    assert "RIC.nope: unknown field" in json.loads(refused.stdout)["error"]["message"]
    shown = CliRunner().invoke(cli, ["services", "show", "PENSION-CLAIM", "--home",
                                     str(tmp_path)])
    assert json.loads(shown.stdout)["scope"]["SSC"] == ["card_number", "social_security_number"]
