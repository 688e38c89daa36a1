"""``verify_pdfs``: a few files in memory judged as one bulk chunk give, in input order,
the reports ``verify_pdf`` gives each (compared as JSON, byte for byte).

The mix: genuine SM2, RSA and dual-signed licences, an OFD licence, a revoked licence,
the licence-binding attacks (another department's signature, a re-signed copy, expired,
not yet valid), the tampered files of the attack corpus and bytes that are no PDF; under
the online and the offline policy, now and before issuance.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from api.deployment import DEMO_DEPARTMENT
from api.issuance import issue_one
from tests import pdf_corpus as corpus
from tests.licence_corpus import TYPES, Licences, open_licences
from trust import sm2
from trust.registry.lifecycle import LicenceStatus, change_status
from verification import verify_pdf, verify_pdfs


@pytest.fixture(scope="module")
def mix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Licences, list[tuple[str, bytes]]]]:
    for lic in open_licences(tmp_path_factory.mktemp("verify-pdfs") / "home"):
        files = {f"sm2_{i}": lic.issue(f"sm2_{i}", "sm2", number=i + 1) for i in range(3)}
        files["rsa"] = lic.issue("rsa", "rsa", number=10)
        files["dual"] = lic.issue("dual", "sm2+rsa", number=11)
        files["revoked"] = lic.issue("revoked", "sm2", number=12)
        with lic.deployment.registry.session() as s:
            change_status(s, lic.ids["revoked"], LicenceStatus.REVOKED, reason="test",
                          at=datetime.now(UTC), actor="test")
            issued = issue_one(lic.deployment, s, type_code="DL",
                               record=TYPES.get("DL").example(13), department=DEMO_DEPARTMENT,
                               actor="test", file_format="ofd")
        files["ofd"] = issued.pdf
        files.update(lic.make_attacks())
        files.update({f"tampered_{k}": attack(files["sm2_0"])
                      for k, attack in corpus.ATTACKS.items()})
        files["not_a_pdf"] = b"%PDF-1.7\nnot really"
        files["empty"] = b""
        yield lic, list(files.items())


@pytest.mark.parametrize("offline", [False, True])
def test_verify_pdfs_gives_the_one_at_a_time_reports_in_order(
        mix: tuple[Licences, list[tuple[str, bytes]]], offline: bool) -> None:
    lic, files = mix
    policy = lic.offline() if offline else lic.online()
    for at in (datetime.now(UTC), datetime.now(UTC) - timedelta(days=3)):
        together = verify_pdfs(files, policy, at)
        assert [r.facts.name for r in together] == [name for name, _ in files]
        for (name, data), report in zip(files, together, strict=True):
            assert report.to_json() == verify_pdf(data, policy, at, name=name).to_json(), name
    # the verdicts are not all one answer
    reports = {r.facts.name: r for r in verify_pdfs(files, policy, datetime.now(UTC))}
    assert reports["sm2_0"].passed and reports["dual"].passed and reports["ofd"].passed
    assert not reports["revoked"].passed and not reports["tampered_flip_inside_range"].passed
    assert reports["not_a_pdf"].sub_indication is not None
    assert reports["not_a_pdf"].sub_indication.value == "FORMAT_FAILURE"


def test_the_sm2_signatures_of_the_files_are_verified_in_one_batch(
        mix: tuple[Licences, list[tuple[str, bytes]]], monkeypatch: pytest.MonkeyPatch) -> None:
    lic, files = mix
    genuine = [(n, d) for n, d in files if n.startswith("sm2_")]
    seen: list[int] = []
    real = sm2.verify_many

    def spy(items: list[sm2.VerifyItem]) -> list[bool]:
        seen.append(len(items))
        return real(items)

    monkeypatch.setattr(sm2, "verify_many", spy)
    assert all(r.passed for r in verify_pdfs(genuine, lic.online(), datetime.now(UTC)))
    assert seen == [2 * len(genuine)]  # the CMS signature and the time-stamp token of each
    assert verify_pdfs([], lic.online()) == []
