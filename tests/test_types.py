"""Licence types as data: shipped definitions, validation errors, examples, new types.

Check characters inside the schemas' formats are compared with published
values (GB 11643 and GB 32100 worked examples, the ISO 3779 VIN example).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from api.cli import cli
from api.cli.types import registry_for
from signing.types import (
    LicenceType,
    LicenceTypeDefinitionError,
    RecordValidationError,
    UnknownLicenceTypeError,
    builtin_types,
    get_type,
    load_types_from,
)
from signing.types._formats import (
    is_valid_resident_id,
    is_valid_vin,
    org_code_check_char,
    resident_id_check_char,
    vin_check_char,
)
from trust.licence_id import is_valid_uscc

DEFINITIONS = Path(__file__).parent.parent / "signing" / "types" / "definitions"
REQUIRED_TYPES = {"BL", "DL", "VL", "SSC", "RIC", "APR"}
ALL_CODES = sorted(builtin_types().codes())


def test_shipped_types() -> None:
    assert set(ALL_CODES) >= REQUIRED_TYPES
    names = {t.code: t.name_zh for t in builtin_types()}
    assert names["BL"] == "营业执照"
    assert names["DL"] == "机动车驾驶证"
    assert names["VL"] == "机动车行驶证"
    assert names["SSC"] == "社会保障卡"
    assert names["RIC"] == "居民身份证"
    card = get_type("RIC").layout
    assert (card.width_mm, card.height_mm) == (85.6, 54)  # ISO/IEC 7810 ID-1
    assert get_type("bl").code == "BL"  # codes are case-insensitive


def test_published_check_characters() -> None:
    assert resident_id_check_char("11010519491231002") == "X"  # GB 11643 example
    assert is_valid_resident_id("11010519491231002X")
    assert not is_valid_resident_id("110105194912310021")
    assert not is_valid_resident_id("11010519490231002X")  # 31 February... wrong date
    assert vin_check_char("1M8GDM9A0KP042788") == "X"  # ISO 3779 / FMVSS 565 example
    assert is_valid_vin("1M8GDM9AXKP042788")
    assert not is_valid_vin("1M8GDM9AXKP042789")
    assert not is_valid_vin("1M8GDM9AXKP04278O")  # letter O is not allowed
    assert org_code_check_char("M000100Y") == "4"  # inside the GB 32100 example


@pytest.mark.parametrize("code", ALL_CODES)
def test_examples_are_valid_distinct_and_deterministic(code: str) -> None:
    licence_type = get_type(code)
    records = [licence_type.example(i) for i in range(300)]
    for record in records:
        assert licence_type.validate(record) is record
        assert licence_type.holder_name(record)
    assert len({json.dumps(r, sort_keys=True) for r in records}) == len(records)
    if licence_type.holder_id_field:
        assert len({r[licence_type.holder_id_field] for r in records}) == len(records)
    assert licence_type.example(7) == records[7]
    assert licence_type.example(7, seed=1) != records[7]


def test_example_identifiers_carry_valid_check_characters() -> None:
    dl, bl, vl = get_type("DL").example(3), get_type("BL").example(3), get_type("VL").example(3)
    assert is_valid_resident_id(dl["license_number"])
    assert dl["birth_date"].replace("-", "") == dl["license_number"][6:14]
    assert (int(dl["license_number"][16]) % 2 == 1) == (dl["sex"] == "男")
    assert is_valid_uscc(bl["uscc"])
    assert is_valid_vin(vl["vin"])


def test_ten_thousand_examples_are_distinct() -> None:
    licence_type = get_type("RIC")
    ids = {licence_type.example(i)["id_number"] for i in range(10_000)}
    assert len(ids) == 10_000


def test_bad_record_lists_every_field_error_with_its_path() -> None:
    dl = get_type("DL")
    record = dl.example(0)
    record["license_number"] = record["license_number"][:-1] + (
        "0" if record["license_number"][-1] != "0" else "1"
    )
    record["sex"] = "M"
    record["valid_until"] = "2099-13-01"
    record["shoe_size"] = 42
    del record["name"]
    with pytest.raises(RecordValidationError) as info:
        dl.validate(record)
    error = info.value
    paths = {e.path for e in error.errors}
    assert paths == {"$.license_number", "$.sex", "$.valid_until", "$.shoe_size", "$.name"}
    assert error.code == "licence.record_invalid"
    as_json = error.to_dict()
    assert {e["path"] for e in as_json["errors"]} == paths
    assert "resident ID number" in next(
        e.message for e in error.errors if e.path == "$.license_number"
    )


def test_validity_rules() -> None:
    ric = get_type("RIC")
    record = ric.example(1)
    record["valid_until"] = "长期"
    ric.validate(record)  # long-term is allowed for identity cards
    record["valid_until"] = "2001-01-01"
    record["valid_from"] = "2010-01-01"
    with pytest.raises(RecordValidationError, match="ends before"):
        ric.validate(record)
    record["valid_until"] = "2040-01-02"  # 30 years > 20
    with pytest.raises(RecordValidationError, match="longer than 20 years"):
        ric.validate(record)
    ssc = get_type("SSC").example(0)
    ssc["valid_until"] = "长期"  # not allowed for social security cards
    with pytest.raises(RecordValidationError):
        get_type("SSC").validate(ssc)


@pytest.mark.parametrize("record", [None, [], "text", 42, {"a": {"b": [1] * 10}}])
def test_non_object_records_are_typed_errors(record: object) -> None:
    with pytest.raises(RecordValidationError):
        get_type("BL").validate(record)


def test_masking_follows_the_type_data() -> None:
    ric = get_type("RIC")
    record = ric.example(2)
    masked = ric.masked(record)
    assert masked["id_number"] == "*" * 14 + record["id_number"][-4:]
    assert masked["name"][0] == record["name"][0] and "*" in masked["name"]
    assert set(masked["address"]) == {"*"}
    assert masked["birth_date"][:4] == record["birth_date"][:4]
    assert masked["ethnicity"] == record["ethnicity"]  # not declared sensitive


def test_unknown_type() -> None:
    with pytest.raises(UnknownLicenceTypeError) as info:
        get_type("NOPE")
    assert info.value.code == "licence_type.unknown"


def _copy_type(tmp_path: Path, code: str, new_code: str) -> tuple[Path, Path]:
    definition = json.loads((DEFINITIONS / f"{code}.type.json").read_text())
    definition["code"] = new_code
    type_path = tmp_path / f"{new_code}.type.json"
    type_path.write_text(json.dumps(definition, ensure_ascii=False))
    schema_path = tmp_path / f"{new_code}.schema.json"
    shutil.copy(DEFINITIONS / f"{code}.schema.json", schema_path)
    return type_path, schema_path


def test_a_new_type_is_data_only(tmp_path: Path) -> None:
    _copy_type(tmp_path, "DL", "DLX")
    (new_type,) = load_types_from(tmp_path)
    assert isinstance(new_type, LicenceType)
    new_type.validate(new_type.example(5))
    registry = builtin_types().with_types([new_type])
    assert "DLX" in registry and len(registry) == len(builtin_types()) + 1
    with pytest.raises(LicenceTypeDefinitionError, match="twice"):
        registry.with_types([new_type])


def _mutate(tmp_path: Path, mutate_type=None, mutate_schema=None) -> None:
    type_path, schema_path = _copy_type(tmp_path, "DL", "DLX")
    if mutate_type:
        data = json.loads(type_path.read_text())
        mutate_type(data)
        type_path.write_text(json.dumps(data, ensure_ascii=False))
    if mutate_schema:
        data = json.loads(schema_path.read_text())
        mutate_schema(data)
        schema_path.write_text(json.dumps(data, ensure_ascii=False))


@pytest.mark.parametrize(
    ("mutate_type", "mutate_schema", "message"),
    [
        (lambda d: d["layout"]["fields"][0].update(field="nope"), None, "does not define"),
        (lambda d: d["mask"].update(nope="full"), None, "does not define"),
        (lambda d: d["mask"].update(name="rot13"), None, "bad type definition"),
        (lambda d: d.update(holder_field="missing"), None, "does not define"),
        (lambda d: d["layout"].pop("seal"), None, "'seal' is a required property"),
        (lambda d: d["layout"].update(colour="red"), None, "Additional properties"),
        (lambda d: d["layout"]["title"].update(size=-1), None, "bad type definition"),
        (lambda d: d.update(code="DLY"), None, "defines code DLY"),
        (lambda d: d["validity"].update(example_years=[6, 12]), None, "exceeds max_years"),
        (None, lambda s: s["properties"]["name"].update(type="strnig"), "not valid JSON Schema"),
        (None, lambda s: s["properties"]["name"].pop("x-example"), "no x-example"),
        (None, lambda s: s["properties"]["name"].update({"x-example": "magic"}), "unknown"),
        (None, lambda s: s["properties"]["file_number"].update({"x-example": "serial:x"}), "width"),
        (None, lambda s: s.update(type="array"), "must describe an object"),
        (lambda d: d["labels"].pop("file_number"), None, "labels has no entry for field"),
        (lambda d: d["labels"].update(nope={"zh": "无", "en": "None"}), None, "does not define"),
        (lambda d: d["labels"]["name"].pop("en"), None, "'en' is a required property"),
        (lambda d: d.pop("holder_kind"), None, "'holder_kind' is a required property"),
        (lambda d: d.update(holder_kind="robot"), None, "bad type definition"),
        (lambda d: d.update(authority_class="ministry_of_magic"), None, "bad type definition"),
    ],
)
def test_bad_definitions_are_refused_at_load(tmp_path, mutate_type, mutate_schema, message) -> None:
    _mutate(tmp_path, mutate_type, mutate_schema)
    with pytest.raises(LicenceTypeDefinitionError, match=message):
        load_types_from(tmp_path)


def test_broken_files_are_refused(tmp_path: Path) -> None:
    _type_path, schema_path = _copy_type(tmp_path, "DL", "DLX")
    schema_path.write_text("{not json")
    with pytest.raises(LicenceTypeDefinitionError, match="not valid JSON"):
        load_types_from(tmp_path)
    schema_path.unlink()
    with pytest.raises(LicenceTypeDefinitionError, match=r"no DLX\.schema\.json"):
        load_types_from(tmp_path)
    with pytest.raises(LicenceTypeDefinitionError, match="not a directory"):
        load_types_from(tmp_path / "absent")


# -- the CLI -----------------------------------------------------------------


def _run(*args: str, home: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["types", *args, "--home", str(home)])
    return result.exit_code, result.stdout, result.stderr


def test_every_type_labels_every_field_in_both_languages() -> None:
    for licence_type in builtin_types():
        fields = set(licence_type.schema["properties"])
        assert set(licence_type.labels) == fields, licence_type.code
        for name in fields:
            label = licence_type.label(name)
            assert label["zh"] and label["en"], (licence_type.code, name)
        assert licence_type.holder_kind in {"person", "organisation"}
        assert licence_type.authority_class
    assert get_type("BL").holder_kind == "organisation"
    assert get_type("RIC").authority_class == "public_security"
    assert dict(get_type("RIC").label("id_number")) == {"zh": "公民身份号码",
                                                         "en": "Citizen identity number"}
    with pytest.raises(KeyError):
        get_type("RIC").label("nope")


def test_cli_list_show_example(tmp_path: Path) -> None:
    code, out, _ = _run("list", "--json", home=tmp_path)
    assert code == 0
    rows = json.loads(out)
    assert {row["code"] for row in rows} >= REQUIRED_TYPES
    bl = next(row for row in rows if row["code"] == "BL")
    assert bl["holder_kind"] == "organisation" and bl["authority_class"] == "market_regulation"
    assert bl["name"] == {"zh": "营业执照", "en": "Business licence"} and bl["version"] >= 1
    code, out, _ = _run("show", "VL", home=tmp_path)
    assert code == 0 and json.loads(out)["definition"]["code"] == "VL"
    code, out, _ = _run("example", "SSC", home=tmp_path)
    assert code == 0 and json.loads(out) == get_type("SSC").example(0)
    code, out, _ = _run("example", "BL", "--count", "50", "--seed", "3", home=tmp_path)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 50 and len(set(lines)) == 50
    assert json.loads(lines[49]) == get_type("BL").example(49, seed=3)
    code, _, err = _run("example", "NOPE", home=tmp_path)
    assert code == 2 and "licence_type.unknown" in err


def test_cli_validate_reports_fields(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(get_type("APR").example(i)) for i in range(3)))
    code, _, err = _run("validate", "APR", str(good), home=tmp_path)
    assert code == 0 and "3 of 3 records valid" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"applicant_code": "91350100M000100Y44"}))
    code, out, _ = _run("validate", "APR", str(bad), "--json", home=tmp_path)
    assert code == 2
    report = json.loads(out)
    paths = {e["path"] for e in report["results"][0]["errors"]}
    assert {"$.applicant_code", "$.applicant_name", "$.content"} <= paths


def test_cli_uses_types_from_home(tmp_path: Path) -> None:
    (tmp_path / "types").mkdir()
    _copy_type(tmp_path / "types", "VL", "VLX")
    code, out, _ = _run("example", "VLX", home=tmp_path)
    assert code == 0
    registry = registry_for(tmp_path)
    registry.get("VLX").validate(json.loads(out))
    assert "VLX" in registry and "VLX" not in builtin_types()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(code=st.sampled_from(ALL_CODES), record=json_values)
def test_any_json_gets_a_verdict_never_a_crash(code: str, record: object) -> None:
    licence_type = get_type(code)
    errors = list(licence_type.iter_errors(record))
    if errors:
        assert all(e.path.startswith("$") and e.message for e in errors)
        with pytest.raises(RecordValidationError):
            licence_type.validate(record)


@settings(max_examples=60, deadline=None)
@given(code=st.sampled_from(ALL_CODES), index=st.integers(0, 2**40), seed=st.integers(0, 2**31))
def test_examples_valid_for_any_index_and_seed(code: str, index: int, seed: int) -> None:
    licence_type = get_type(code)
    licence_type.validate(licence_type.example(index, seed=seed))


@pytest.mark.parametrize("code", sorted(REQUIRED_TYPES))
def test_cli_examples_are_valid_today_for_every_type(tmp_path: Path, code: str) -> None:
    """Issue 12: ``types example TYPE --count N`` gives records whose licences are valid
    today (APR's example used to have expired in 2019), reproducible with --as-of."""
    from datetime import date, timedelta

    from signing.types._examples import today_cst

    licence_type = get_type(code)
    exit_code, out, _ = _run("example", code, "--count", "60", home=tmp_path)
    assert exit_code == 0
    today = today_cst()
    for line in out.splitlines():
        record = json.loads(line)
        licence_type.validate(record)
        if licence_type.validity is not None:
            start = date.fromisoformat(record[licence_type.validity.start])
            end = record[licence_type.validity.end]
            assert start < today
            assert end == "长期" or date.fromisoformat(end) > today + timedelta(days=300)
    _, first, _ = _run("example", code, "--as-of", "2031-05-01", home=tmp_path)
    _, again, _ = _run("example", code, "--as-of", "2031-05-01", home=tmp_path)
    assert first == again
    assert json.loads(first) == licence_type.example(0, as_of=date(2031, 5, 1))
