"""A fill reads its granted files in one registry statement and verifies them as one bulk
chunk (``verification.verify_pdfs``), with the verdicts one-at-a-time verification gives.

Three persons hold RIC, DL and SSC: one untouched, one whose DL is revoked, one whose
stored SSC file is tampered with (a byte of its page stream flipped, re-sealed under a new
data key as issuance would store it). Each licence's indication, sub-indication, summary
and time, and each form's provenance, must be what ``verify_pdf`` of the same stored bytes
gives; the SM2 signatures of all nine files go through one ``trust.sm2.verify_many`` call.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from gmssl import func as gm_func
from gmssl import sm3 as gm_sm3
from sqlalchemy import event, update
from sqlalchemy.engine import Engine

from api.counter_fill import verify_granted
from api.deployment import Deployment, Home, load_config
from api.routes.counter import service_catalogue
from api.routes.verification import deployment_policy
from api.services import SourcedLicence, fill_form
from tests.api_support import Api
from tests.counter_support import SERVICE, Person, counter_api, issue_person
from tests.pdf_corpus import flip_inside
from trust import sm2
from trust.indications import Indication
from trust.registry.models import Licence, LicenceFile
from trust.registry.sealed import licence_file, licence_record, seal_for_storage
from trust.registry.service_grants import RedeemedLicence
from verification import FileReport, verify_pdf

_seeds = itertools.count(7900)
TYPES = ("RIC", "DL", "SSC")


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Api]:
    yield from counter_api(request, tmp_path_factory.mktemp("fill-chunk") / "home")


def _tamper_stored_file(dep: Deployment, licence_id: str) -> bytes:
    """Replace the stored file by a tampered copy, sealed the way issuance stores files."""
    with dep.registry.session() as s:
        holder = licence_record(s, s.get(Licence, licence_id))
        bad = flip_inside(licence_file(s, licence_id))
        row = seal_for_storage(s, licence_id, holder.holder_name, holder.holder, bad)
        s.execute(update(Licence).where(Licence.id == licence_id).values(**row.licence))
        s.execute(update(LicenceFile).where(LicenceFile.licence_id == licence_id)
                  .values(pdf=row.pdf))
        s.commit()
    return bad


def _expected(item: RedeemedLicence, report: FileReport) -> tuple[str, str | None]:
    """The verdict the fill gave before the chunk path: verify_pdf's, then the fill's rules."""
    indication = report.indication.value
    sub = None if report.sub_indication is None else report.sub_indication.value
    ids = {s.facts.licence_id for s in report.signatures if s.facts.licence_id}
    if indication == Indication.TOTAL_PASSED and ids != {item.licence_id}:
        return Indication.TOTAL_FAILED.value, "SIG_CONSTRAINTS_FAILURE"
    return indication, sub



def _count_verify_many(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the ``sm2.verify_many`` calls made from now on (the calls still run)."""
    batches: list[int] = []
    real_verify_many = sm2.verify_many

    def spy(batch: Any) -> list[bool]:
        batch = list(batch)
        batches.append(len(batch))
        return real_verify_many(batch)

    monkeypatch.setattr(sm2, "verify_many", spy)
    return batches


def _three_holders(api: Api) -> tuple[Person, Person, Person, Deployment, bytes]:
    """Holders untouched, with a revoked DL, and with a tampered stored SSC; a deployment
    on the same home (the caller closes it) and the tampered bytes."""
    good, revoked, tampered = (issue_person(api, next(_seeds)) for _ in range(3))
    answer = api.client.post(f"/v1/licences/{revoked.licences['DL']}/revoke",
                             json={"reason": "test"}, headers=api.headers("issuer"))
    assert answer.status_code == 200, answer.text
    home = Home(api.home)
    dep = Deployment(home, load_config(home))
    try:
        bad = _tamper_stored_file(dep, tampered.licences["SSC"])
    except BaseException:
        dep.close()
        raise
    return good, revoked, tampered, dep, bad


@contextmanager
def _statements(keep: Callable[[str], bool] = lambda _: True) -> Iterator[list[str]]:
    """The SQL statements this thread runs inside the block (not the app's workers')."""
    statements: list[str] = []
    me = threading.get_ident()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == me and keep(statement):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def test_a_fill_verifies_its_files_as_one_chunk_with_the_one_at_a_time_verdicts(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    good, revoked, tampered, dep, bad = _three_holders(api)
    try:
        service = service_catalogue(dep, type("Cache", (), {})()).get(SERVICE)
        scope = service.scope()
        policy = deployment_policy(dep)
        persons: list[Person] = [good, revoked, tampered]
        items = [RedeemedLicence(p.licences[t], t, True,
                                 {f: v for f, v in p.records[t].items() if f in scope[t]})
                 for p in persons for t in TYPES]
        real_verify_many = sm2.verify_many
        batches = _count_verify_many(monkeypatch)
        at = datetime.now(UTC)
        with dep.registry.session() as s:
            stored = [licence_file(s, i.licence_id) for i in items]
            registered = {i.licence_id: s.get(Licence, i.licence_id).file_sm3 for i in items}
            verify_granted(s, items[:1], policy, at, service)  # status engine opened
            with _statements() as statements:
                chunked = verify_granted(s, items, policy, at, service)
        monkeypatch.setattr(sm2, "verify_many", real_verify_many)
        singles = [verify_pdf(data, policy, at, name=i.licence_id)
                   for i, data in zip(items, stored, strict=True)]
    finally:
        dep.close()
    # the files read in one statement, the registry's status rows in one more, and every
    # SM2 signature (CMS and time-stamp token of each of the 9 files) in one batch
    assert len([q for q in statements if "licence_files" in q]) == 1, statements
    assert len(statements) <= 3, statements
    assert batches[-1] == 2 * len(items) and len(batches) == 2
    # the verdicts, summaries and times one-at-a-time verification gives
    for item, got, report in zip(items, chunked, singles, strict=True):
        assert (got.source.indication, got.sub_indication) == _expected(item, report)
        assert got.summary == {"zh": report.summary("zh"), "en": report.summary("en")}
        assert got.source.verified_at == report.at == at
    verdicts = {(v.source.licence_id): (v.source.indication, v.sub_indication)
                for v in chunked}
    assert all(verdicts[good.licences[t]] == ("TOTAL_PASSED", None) for t in TYPES)
    assert verdicts[revoked.licences["DL"]] == ("TOTAL_FAILED", "REVOKED")
    assert verdicts[tampered.licences["SSC"]][0] == "TOTAL_FAILED"
    assert verdicts[tampered.licences["RIC"]] == ("TOTAL_PASSED", None)
    # independently (gmssl): the tampered bytes are not the registered file, the others are
    assert gm_sm3.sm3_hash(gm_func.bytes_to_list(bad)) != registered[tampered.licences["SSC"]]
    assert gm_sm3.sm3_hash(gm_func.bytes_to_list(stored[0])) == registered[items[0].licence_id]
    # each form: the same values and provenance as from one-at-a-time verdicts
    for n, person in enumerate(persons):
        own = slice(3 * n, 3 * n + 3)
        expected = [SourcedLicence(i.licence_id, i.type_code,
                                   dict(i.record) if _expected(i, r)[0] == "TOTAL_PASSED"
                                   else {}, at, _expected(i, r)[0])
                    for i, r in zip(items[own], singles[own], strict=True)]
        filled = fill_form(service, [v.source for v in chunked[own]]).to_json()
        assert filled == fill_form(service, expected).to_json()
        assert filled["missing"] == {0: [], 1: ["DL"], 2: ["SSC"]}[n], filled
        assert {p["licence_id"] for p in filled["provenance"].values()} <= {
            person.licences[t] for t in TYPES}


def test_the_operators_local_fill_reads_and_verifies_its_licences_as_one_chunk(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sealtrust services fill --licence ...``: the same one statement and one batch,
    the same verdicts (a revoked DL and a tampered SSC never fill the form)."""
    from api.services import fill_from_registry

    person, revoked, tampered, dep, _ = _three_holders(api)
    try:
        service = service_catalogue(dep, type("Cache", (), {})()).get(SERVICE)
        policy = deployment_policy(dep)
        at = datetime.now(UTC)
        with dep.registry.session() as s:
            singles = {lic: verify_pdf(licence_file(s, lic), policy, at, name=lic)
                       for p in (person, revoked, tampered) for lic in p.licences.values()}
        batches = _count_verify_many(monkeypatch)
        mixed = [revoked.licences["DL"], tampered.licences["SSC"], person.licences["RIC"],
                 person.licences["DL"], person.licences["SSC"]]
        with _statements(lambda q: "licence_files" in q) as statements:
            filled = fill_from_registry(dep, service, mixed, at=at, actor="clerk-7").to_json()
    finally:
        dep.close()
    assert len(statements) == 1, statements
    assert batches == [2 * len(mixed)]
    assert filled["missing"] == [] and {p["licence_id"] for p in filled["provenance"].values()
                                        } == set(person.licences.values())
    unused = {u["licence_id"]: u for u in filled["unused"]}
    for lic in (revoked.licences["DL"], tampered.licences["SSC"]):
        assert unused[lic]["reason"] == "not_verified"
        assert unused[lic]["indication"] == singles[lic].indication.value == "TOTAL_FAILED"
    assert all(singles[lic].passed for lic in person.licences.values())
