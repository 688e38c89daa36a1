"""``sealtrust services fill --licence`` end to end on a fresh deployment (SQLite, PostgreSQL).

Licences are issued for real, the form is filled through the CLI and compared
with the issued records (expected values computed here, independently of the
mapping code); a revoked, a tampered and an unreadable licence are never used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from api.cli import cli as sealtrust
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.types import builtin_types
from trust.registry.models import AuditEntry, LicenceFile

TYPES = builtin_types()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dep(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    urls: Iterator[str | None]
    if request.param == "postgres":
        from tests.db_support import fresh_postgres_url
        urls = fresh_postgres_url()
    else:
        urls = iter([None])
    for url in urls:
        if url is not None:
            monkeypatch.setenv("SEALTRUST_DATABASE_URL", url)
        init_deployment(tmp_path / "home")
        home = Home(tmp_path / "home")
        deployment = Deployment(home, load_config(home))
        try:
            yield deployment
        finally:
            deployment.close()


def _issue(dep: Deployment, type_code: str, index: int, *, plaintext: bool = False,
           file_format: str = "pdf") -> str:
    keys = dep.registry.data_keys
    if plaintext:  # a row from before encryption at rest: the file is stored as is
        dep.registry.data_keys = None
    try:
        with dep.registry.session() as s:
            return issue_one(dep, s, type_code=type_code, record=TYPES.get(type_code).example(index),
                             department=DEMO_DEPARTMENT, actor="test",
                             file_format=file_format).licence_id
    finally:
        dep.registry.data_keys = keys


def _fill(dep: Deployment, code: str, *ids: str) -> tuple[int, dict[str, Any]]:
    args = ["services", "fill", code, *(a for i in ids for a in ("--licence", i)),
            "--json", "--home", str(dep.home.root), "--operator", "clerk-7"]
    result = CliRunner().invoke(sealtrust, args, catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def _cn(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def test_fill_matches_the_issued_records_and_is_audited_without_values(dep: Deployment) -> None:
    ric_id, ssc_id = _issue(dep, "RIC", 4), _issue(dep, "SSC", 4)
    ric, ssc = TYPES.get("RIC").example(4), TYPES.get("SSC").example(4)
    code, filled = _fill(dep, "PENSION-CLAIM", ric_id, ssc_id)
    assert code == 0
    assert filled["service"] == "PENSION-CLAIM"
    assert filled["form"] == {
        "applicant_name": ric["name"], "applicant_id_number": ric["id_number"],
        "applicant_sex_code": {"男": "1", "女": "2"}[ric["sex"]],
        "applicant_birth_date": _cn(ric["birth_date"]),
        "social_security_number": ssc["social_security_number"],
        "social_security_card": ssc["card_number"],
    }
    assert filled["missing"] == [] and filled["unused"] == []
    origin = filled["provenance"]["social_security_card"]
    assert (origin["licence_id"], origin["type"], origin["field"], origin["indication"]) == (
        ssc_id, "SSC", "card_number", "TOTAL_PASSED")
    with dep.registry.session() as s:
        entries = [json.loads(c) for c in s.execute(
            select(AuditEntry.canonical).where(AuditEntry.kind == "services.fill")).scalars()]
    assert len(entries) == 1
    text = json.dumps(entries[0], ensure_ascii=False)
    assert ric_id in text and ssc_id in text and "clerk-7" in text
    for value in (ric["name"], ric["id_number"], ssc["card_number"], ric["birth_date"]):
        assert value not in text  # licence ids only, never values


def test_revoked_licence_is_not_used_and_named_missing(dep: Deployment) -> None:
    ric_id, ssc_id = _issue(dep, "RIC", 5), _issue(dep, "SSC", 5)
    revoke = CliRunner().invoke(sealtrust, ["licence", "revoke", ssc_id, "--reason", "test",
                                            "--home", str(dep.home.root)])
    assert revoke.exit_code == 0, revoke.output
    code, filled = _fill(dep, "PENSION-CLAIM", ric_id, ssc_id)
    assert code == 1
    assert filled["missing"] == ["SSC"]
    assert filled["unused"] == [{"licence_id": ssc_id, "type": "SSC",
                                 "indication": "TOTAL_FAILED", "reason": "not_verified"}]
    assert {p["type"] for p in filled["provenance"].values()} == {"RIC"}
    assert TYPES.get("SSC").example(5)["card_number"] not in json.dumps(filled)


def test_tampered_file_is_not_used(dep: Deployment) -> None:
    ric_id, ssc_id = _issue(dep, "RIC", 6, plaintext=True), _issue(dep, "SSC", 6)
    with dep.registry.session() as s:
        pdf = bytearray(s.get(LicenceFile, ric_id).pdf)  # type: ignore[union-attr]
        at = pdf.index(b"/Producer")  # inside the signed byte range
        pdf[at + 1] ^= 0x20
        s.execute(update(LicenceFile).where(LicenceFile.licence_id == ric_id)
                  .values(pdf=bytes(pdf)))
    code, filled = _fill(dep, "PENSION-CLAIM", ric_id, ssc_id)
    assert code == 1
    assert filled["missing"] == ["RIC"]
    [unused] = filled["unused"]
    assert unused["licence_id"] == ric_id and unused["indication"] != "TOTAL_PASSED"
    assert set(filled["form"]) == {"social_security_number", "social_security_card"}


def test_unreadable_sealed_file_fails_closed(dep: Deployment) -> None:
    ric_id = _issue(dep, "RIC", 7)
    with dep.registry.session() as s:
        stored = bytearray(s.get(LicenceFile, ric_id).pdf)  # type: ignore[union-attr]
        stored[-5] ^= 0x01  # the AEAD tag no longer matches
        s.execute(update(LicenceFile).where(LicenceFile.licence_id == ric_id)
                  .values(pdf=bytes(stored)))
    code, filled = _fill(dep, "GTGSH-SETUP", ric_id)
    assert code == 1
    assert filled["form"] == {} and filled["missing"] == ["RIC"]
    assert filled["unused"][0]["indication"] == "TOTAL_FAILED"


def test_unknown_licence_is_a_usage_error_and_unneeded_type_is_not_opened(
        dep: Deployment) -> None:
    result = CliRunner().invoke(sealtrust, ["services", "fill", "GTGSH-SETUP", "--licence",
                                            "L1-NOPE", "--json", "--home", str(dep.home.root)])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "licence.not_found"
    dl_id, ric_id = _issue(dep, "DL", 1), _issue(dep, "RIC", 1)
    code, filled = _fill(dep, "GTGSH-SETUP", dl_id, ric_id)
    assert code == 0
    assert filled["unused"] == [{"licence_id": dl_id, "type": "DL",
                                 "indication": "NOT_VERIFIED", "reason": "not_needed"}]


def test_fill_from_catalogue_types_household_register(dep: Deployment) -> None:
    """内地居民结婚登记 reads the 居民户口簿 (a template type of the catalogue) as issued."""
    ric_id, hhr_id = _issue(dep, "RIC", 8), _issue(dep, "HHR", 8)
    hhr = TYPES.get("HHR").example(8)
    code, filled = _fill(dep, "MZ-001", ric_id, hhr_id)
    assert code == 0, filled
    for field in ("household_number", "household_head", "relation_to_head", "native_place",
                  "address", "issuing_authority"):
        assert filled["form"][f"hhr_{field}"] == hhr[field]
        assert filled["provenance"][f"hhr_{field}"]["licence_id"] == hhr_id
    assert filled["form"]["applicant_name"] == TYPES.get("RIC").example(8)["name"]


def test_fill_from_an_ofd_licence(dep: Deployment) -> None:
    ric_id = _issue(dep, "RIC", 9, file_format="ofd")
    code, filled = _fill(dep, "GTGSH-SETUP", ric_id)
    assert code == 0, filled
    ric = TYPES.get("RIC").example(9)
    assert filled["form"] == {"applicant_name": ric["name"], "applicant_id_number": ric["id_number"],
                              "applicant_sex": ric["sex"], "applicant_ethnicity": ric["ethnicity"],
                              "applicant_address": ric["address"]}
    assert {p["indication"] for p in filled["provenance"].values()} == {"TOTAL_PASSED"}
