"""A deployment for the counter flow: one person's RIC, DL and SSC from two departments,
and a service needing all three (in the deployment's own ``services/`` directory)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from signing.types import builtin_types
from tests.api_support import OTHER_DEPARTMENT, Api, build_api

TYPES = builtin_types()
SERVICE = "TEST-CTR3"

SERVICE_JSON: dict[str, Any] = {
    "$schema": "https://sealtrust.example/schemas/service-definition/v1",
    "code": SERVICE, "version": 1,
    "name": {"zh": "测试：驾驶人社保信息登记", "en": "Test: driver social security registration"},
    "description": "", "authority_class": "transport", "subject": "person",
    "needs": {"all_of": ["RIC", "DL", "SSC"]}, "produces": [],
    "form": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "测试",
        "type": "object", "additionalProperties": False,
        "required": ["applicant_name", "applicant_id_number"],
        "properties": {
            "applicant_name": {"title": "申请人姓名", "type": "string", "maxLength": 40,
                               "x-label": {"zh": "申请人姓名", "en": "Applicant name"}},
            "applicant_id_number": {"title": "公民身份号码", "type": "string", "maxLength": 18,
                                    "x-label": {"zh": "公民身份号码", "en": "ID number"}},
            "birth_date": {"title": "出生日期", "type": "string", "maxLength": 20,
                           "x-label": {"zh": "出生日期", "en": "Date of birth"}},
            "vehicle_class": {"title": "准驾车型", "type": "string", "maxLength": 8,
                              "x-label": {"zh": "准驾车型", "en": "Vehicle class"}},
            "social_security_card": {"title": "社会保障卡号", "type": "string", "maxLength": 20,
                                     "x-label": {"zh": "社会保障卡号",
                                                 "en": "Social security card number"}},
        },
    },
    "mapping": {
        "applicant_name": {"copy": "RIC.name"},
        "applicant_id_number": {"copy": "RIC.id_number"},
        "birth_date": {"date": {"copy": "RIC.birth_date"}, "format": "YYYY年MM月DD日"},
        "vehicle_class": {"copy": "DL.vehicle_class"},
        "social_security_card": {"copy": "SSC.card_number"},
    },
}


def person_records(seed: int) -> dict[str, dict[str, Any]]:
    """RIC, DL and SSC records of one person (same ID number, name, sex, birth date)."""
    ric = TYPES.get("RIC").example(seed)
    dl = TYPES.get("DL").example(seed)
    ssc = TYPES.get("SSC").example(seed)
    today = date.today()
    dl.update(license_number=ric["id_number"], name=ric["name"], sex=ric["sex"],
              birth_date=ric["birth_date"], address=ric["address"],
              valid_from=(today - timedelta(days=30)).isoformat(),
              valid_until=(today + timedelta(days=365 * 5)).isoformat())
    ssc.update(social_security_number=ric["id_number"], name=ric["name"], sex=ric["sex"])
    return {"RIC": ric, "DL": dl, "SSC": ssc}


@dataclass
class Person:
    id_number: str
    records: dict[str, dict[str, Any]]
    licences: dict[str, str]  # type -> licence id


def issue_person(api: Api, seed: int, types: tuple[str, ...] = ("RIC", "DL", "SSC")) -> Person:
    """Issue the person's licences: RIC by the other department, the rest by the demo one."""
    records = person_records(seed)
    ids: dict[str, str] = {}
    for code in types:
        who = "other_issuer" if code == "RIC" else "issuer"
        response = api.client.post("/v1/licences", json={"type": code, "record": records[code]},
                                   headers=api.headers(who))
        assert response.status_code == 201, response.text
        ids[code] = response.json()["licence_id"]
    return Person(records["RIC"]["id_number"], records, ids)


def write_service(home: Path) -> None:
    (home / "services").mkdir(parents=True, exist_ok=True)
    (home / "services" / f"{SERVICE}.service.json").write_text(
        json.dumps(SERVICE_JSON, ensure_ascii=False, indent=1), encoding="utf-8")


def _with_other_seal(apis: Iterator[Api]) -> Iterator[Api]:
    for api in apis:
        made = api.client.post("/v1/seals", json={"department": OTHER_DEPARTMENT},
                               headers=api.headers("other_seal_admin"))
        assert made.status_code == 201, made.text
        yield api


def counter_api(request: pytest.FixtureRequest, root: Path) -> Iterator[Api]:
    """The app on SQLite, or on a fresh PostgreSQL database (param "postgres")."""
    if request.param == "sqlite":
        write_service(root)
        yield from _with_other_seal(build_api(root))
        return
    from tests.db_support import fresh_postgres_url

    for url in fresh_postgres_url():
        patch = pytest.MonkeyPatch()
        patch.setenv("SEALTRUST_DATABASE_URL", url)
        try:
            write_service(root)
            yield from _with_other_seal(build_api(root))
        finally:
            patch.undo()
