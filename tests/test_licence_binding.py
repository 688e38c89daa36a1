"""Licence binding (issue 12): one department, valid now, the registered file.

Every attack file is made through the library (``tests.licence_corpus``): a
department's genuine key and seal, another department's genuine licence id.
Each signature, chain and seal in them is valid on its own, so only the
binding checks can refuse them.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import core
from sqlalchemy import select

from api.deployment import DEMO_DEPARTMENT
from api.issuance import issue_one
from signing.issue import ValidityEndedError
from tests import pdf_corpus as corpus
from tests.licence_corpus import (
    BINDING_ATTACKS,
    OTHER_USCC,
    TYPES,
    Licences,
    dated,
    open_licences,
)
from tests.support import TYPE_SAMPLE
from trust.indications import Indication, SubIndication
from trust.pki.oids import ATTR_LICENCE_VALIDITY
from trust.registry.models import AuditEntry, Department
from verification import extract_facts, judge, verify_pdf
from verification.report import FileReport

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "verification" / "report.schema.json").read_text()
)


class _Times(core.SequenceOf):  # LicenceValidity read as "a sequence of times", nothing more
    _child_spec = core.GeneralizedTime


PASSED, FAILED, UNSURE = Indication.TOTAL_PASSED, Indication.TOTAL_FAILED, Indication.INDETERMINATE


@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    for licences in open_licences(tmp_path_factory.mktemp("binding") / "home"):
        licences.issue("genuine", "sm2", number=1)
        licences.issue("dual", "sm2+rsa", number=2)
        licences.pdfs.update(licences.make_attacks())
        yield licences


def _deciding(report: FileReport) -> str:
    for sig in report.signatures:
        for check in sig.checks:
            if check.indication is report.indication and not check.passed:
                return check.name
    return ""


def _check(report: FileReport, name: str) -> list[str]:
    return [c.detail for s in report.signatures for c in s.checks if c.name == name]


def _demo_uscc(lic: Licences) -> str:
    with lic.deployment.registry.session() as s:
        dept = s.get(Department, DEMO_DEPARTMENT)
        assert dept is not None
        return dept.uscc


@pytest.mark.parametrize("attack", BINDING_ATTACKS, ids=lambda a: a.name)
def test_attack_corpus_verdicts(lic: Licences, attack: object) -> None:
    """Every binding attack gets its expected verdict online and offline, and the JSON
    report stays inside the schema."""
    from tests.licence_corpus import Attack

    assert isinstance(attack, Attack)
    pdf = lic.pdfs[attack.name]
    for mode, expected in (("online", attack.online), ("offline", attack.offline)):
        if expected is None:
            continue
        policy = lic.online() if mode == "online" else lic.offline()
        report = verify_pdf(pdf, policy, name=attack.name)
        got = (report.indication, report.sub_indication, _deciding(report))
        assert got == expected, (mode, report.to_json())
        jsonschema.validate(report.to_dict(), SCHEMA)


def test_cross_department_forgery_names_both_parties(lic: Licences) -> None:
    """Department A's key and seal over department B's licence id: FAILED, and the detail
    names B (the licence's issuer) and A (the signer's organisation)."""
    report = verify_pdf(lic.pdfs["cross_department"], lic.online())
    assert report.indication is FAILED and report.sub_indication is \
        SubIndication.SIG_CONSTRAINTS_FAILURE
    (detail,) = _check(report, "licence_binding")
    assert _demo_uscc(lic) in detail and OTHER_USCC in detail, detail
    assert "签署部门与发证机关不一致" in report.summary("zh")
    # every other check of the forgery passes: only the binding catches it
    others = [c for s in report.signatures for c in s.checks
              if c.name not in ("licence_binding", "registered_file")]
    assert all(c.passed for c in others), report.to_json()


def test_second_genuine_signature_by_another_department_fails(lic: Licences) -> None:
    report = verify_pdf(lic.pdfs["second_signature_other_department"], lic.online())
    first, second = report.signatures
    # B's own signature is genuine, but a licence allows no other department's signature
    # after it: reported on the first as a change, on the second as a binding failure
    (changes,) = [c for c in first.checks if c.name == "modifications"]
    assert changes.indication is FAILED and "licence.changes" in changes.detail
    assert all(c.passed for c in first.checks if c.name != "modifications")
    assert second.indication is FAILED
    (detail,) = [c.detail for c in second.checks if c.name == "licence_binding"]
    assert OTHER_USCC in detail and _demo_uscc(lic) in detail


def test_second_signature_without_a_licence_id_is_bound_too(lic: Licences) -> None:
    """A's second signature need not repeat the licence id: the file's licence binds it."""
    other, seal = lic.department()
    pdf = lic.sign_as(other, seal, "genuine", pdf=lic.pdfs["genuine"], field_name="Seal2",
                      licence_id=False)
    report = verify_pdf(pdf, lic.online())
    assert report.indication is FAILED
    second = report.signatures[1]
    binding = [c for c in second.checks if c.name == "licence_binding"]
    assert binding and binding[0].indication is FAILED and OTHER_USCC in binding[0].detail


def test_dual_signed_licence_of_one_department_passes(lic: Licences) -> None:
    report = verify_pdf(lic.pdfs["dual"], lic.online())
    assert report.indication is PASSED, report.to_json()
    assert len(_check(report, "licence_binding")) == 2


def test_registered_file_online_and_not_consulted_offline(lic: Licences) -> None:
    online = verify_pdf(lic.pdfs["genuine"], lic.online())
    assert online.indication is PASSED
    (detail,) = _check(online, "registered_file")
    assert "registered file" in detail and online.facts.sm3 is not None
    offline = verify_pdf(lic.pdfs["genuine"], lic.offline())
    assert offline.indication is PASSED
    (detail,) = _check(offline, "registered_file")
    assert "registry not consulted" in detail and offline.facts.sm3 is None
    copy = verify_pdf(lic.pdfs["re_signed_copy"], lic.online())
    assert copy.indication is FAILED
    assert "not the registered file" in _check(copy, "registered_file")[0]
    assert "不是登记的证照文件" in copy.summary("zh")


def test_later_ltv_update_keeps_the_registered_file(lic: Licences) -> None:
    """The registered file is the file as its last signer left it: an appended document
    time-stamp (LTV) does not make it another file; the modification check judges it."""
    stamped = corpus.add_doc_timestamp(lic.pdfs["genuine"], corpus.make_tsa())
    facts = extract_facts(stamped, file_sm3=True)
    genuine = extract_facts(lic.pdfs["genuine"], file_sm3=True)
    assert facts.sm3 == genuine.sm3 is not None


def test_registered_file_needs_the_digest(lic: Licences) -> None:
    """Stored facts without the file's SM3, judged online: never PASSED."""
    facts = extract_facts(lic.pdfs["genuine"])
    assert facts.sm3 is None
    report = judge(facts, lic.online())
    assert report.indication is UNSURE
    assert _deciding(report) == "registered_file"


def test_expired_and_not_yet_valid_licences(lic: Licences) -> None:
    expired = verify_pdf(lic.pdfs["expired"], lic.online())
    assert (expired.indication, expired.sub_indication) == (FAILED, SubIndication.EXPIRED)
    assert "证照已过期" in expired.summary("zh") and "licence expired" in expired.summary("en")
    early = verify_pdf(lic.pdfs["not_yet_valid"], lic.online())
    assert (early.indication, early.sub_indication) == (UNSURE, SubIndication.NOT_YET_VALID)
    # the same genuine licence once its validity has ended
    facts = extract_facts(lic.pdfs["genuine"], file_sm3=True)
    until = facts.signatures[0].valid_until
    assert until is not None
    late = judge(facts, lic.online(), until + timedelta(seconds=1))
    assert (late.indication, late.sub_indication) == (FAILED, SubIndication.EXPIRED)
    assert judge(facts, lic.online(), until - timedelta(days=1)).indication is PASSED


def test_validity_is_a_signed_attribute_read_alike_by_both_paths(lic: Licences) -> None:
    """asn1crypto's own CMS model (no SealTrust parser) finds the same period, the fast
    and the full path agree, and a signed copy of the attribute is what we read."""
    pdf = lic.pdfs["genuine"]
    fast = extract_facts(pdf)
    full = extract_facts(pdf, allow_fast=False)
    assert fast.parser == "fast" and fast.without_parser() == full.without_parser()
    sig = fast.signatures[0]
    contents = pdf[sig.byte_range[1] + 1: sig.byte_range[2] - 1]
    info = asn1_cms.ContentInfo.load(bytes.fromhex(contents.decode()).rstrip(b"\0"))
    attrs = info["content"]["signer_infos"][0]["signed_attrs"]
    (value,) = [a["values"][0] for a in attrs if a["type"].dotted == ATTR_LICENCE_VALIDITY]
    times = [t.native for t in _Times.load(value.dump(), strict=True)]
    assert times == [sig.valid_from, sig.valid_until]
    with lic.deployment.registry.session() as s:
        from trust.registry.models import Licence

        row = s.get(Licence, lic.ids["genuine"])
        assert row is not None
        start = row.valid_from if row.valid_from.tzinfo else row.valid_from.replace(tzinfo=UTC)
        assert sig.valid_from == start


def test_openssl_sees_the_validity_attribute(lic: Licences, tmp_path: Path) -> None:
    """An independent DER reader (openssl cms) prints the two GeneralizedTimes."""
    pdf = lic.pdfs["genuine"]
    sig = extract_facts(pdf).signatures[0]
    der = bytes.fromhex(pdf[sig.byte_range[1] + 1: sig.byte_range[2] - 1].decode())
    path = tmp_path / "sig.der"
    path.write_bytes(der.rstrip(b"\0"))
    out = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in",
                          str(path)], capture_output=True, text=True, check=True).stdout
    assert ATTR_LICENCE_VALIDITY in out
    assert sig.valid_from is not None
    assert sig.valid_from.strftime("%Y%m%d%H%M%SZ") in out.replace(" ", "") or \
        sig.valid_from.strftime("%b %d %H:%M:%S %Y") in out


def test_issuance_refuses_an_ended_validity_unless_historical(lic: Licences) -> None:
    record = dated("APR", 93, date(2016, 3, 1), date(2019, 2, 28))
    dep = lic.deployment
    with pytest.raises(ValidityEndedError, match="2019-02-28") as err, \
            dep.registry.session() as s:
        issue_one(dep, s, type_code="APR", record=record, department=DEMO_DEPARTMENT,
                  actor="t")
    assert "有效期" in err.value.message and "historical" in err.value.message
    with dep.registry.session() as s:
        issued = issue_one(dep, s, type_code="APR", record=record, department=DEMO_DEPARTMENT,
                           actor="t", historical=True)
    with dep.registry.session() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.subject == issued.licence_id)
                          ).scalars().one()
        assert b"historical_reissue" in bytes(entry.canonical)


@pytest.mark.parametrize("code", TYPE_SAMPLE)  # every type: tests/test_type_catalogue.py
def test_examples_issue_currently_valid_licences(lic: Licences, code: str) -> None:
    """Every shipped type's example records issue licences valid now (APR's used to
    have expired in 2019) and verify TOTAL_PASSED online."""
    licence_type = TYPES.get(code)
    today = datetime.now(UTC).date()
    for index in range(40):
        record = licence_type.example(index, seed=index % 3)
        if licence_type.validity is not None:
            start = date.fromisoformat(record[licence_type.validity.start])
            end = record[licence_type.validity.end]
            assert start < today, (code, index, record)
            assert end == "长期" or date.fromisoformat(end) > today + timedelta(days=300)
    pdf = lic.issue(f"example-{code}", "sm2", type_code=code, number=7)
    report = verify_pdf(pdf, lic.online())
    assert report.indication is PASSED, report.to_json()


def test_cli_issue_exits_2_for_an_ended_validity_unless_historical(
    lic: Licences, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from api.cli import cli

    data = tmp_path / "apr.json"
    data.write_text(json.dumps(dated("APR", 94, date(2016, 3, 1), date(2019, 2, 28)),
                               ensure_ascii=False), encoding="utf-8")
    home = str(lic.deployment.home.root)
    args = ["issue", "--type", "APR", "--data", str(data), "--out", str(tmp_path / "a.pdf"),
            "--home", home]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2, refused.output
    assert "licence.validity_ended" in refused.stderr and "有效期" in refused.stderr
    assert not (tmp_path / "a.pdf").exists()
    done = CliRunner().invoke(cli, [*args, "--historical"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["licence_id"].startswith("L1-APR-")


def test_fast_walk_reads_the_validity_attribute_itself(lic: Licences) -> None:
    """The fast CMS walk understands the new attribute (no fallback to asn1crypto for
    every licence) and agrees with the asn1crypto parse on every encoding."""
    from datetime import timezone

    from signing.pdf.cms_attrs import _validity as encode_validity
    from verification import cms
    from verification.cms_fast import _validity, walk_cms
    from verification.errors import CmsFormatError

    pdf = lic.pdfs["genuine"]
    sig = extract_facts(pdf).signatures[0]
    der = bytes.fromhex(pdf[sig.byte_range[1] + 1: sig.byte_range[2] - 1].decode())
    walked = walk_cms(der[: cms._der_length(der)], False)
    assert walked is not None and walked.validity == (sig.valid_from, sig.valid_until)
    t0 = datetime(2026, 1, 1, 16, tzinfo=UTC)
    cst = timezone(timedelta(hours=8))
    for period in ((t0, t0 + timedelta(days=365)), (t0, None),
                   (datetime(2026, 1, 2, tzinfo=cst), datetime(2027, 1, 2, tzinfo=cst))):
        raw = encode_validity(period)
        assert _validity(raw) == cms.licence_validity(raw) == (
            period[0].astimezone(UTC), None if period[1] is None else period[1].astimezone(UTC))
    fractional = bytes.fromhex("3013") + b"\x18\x11" + b"20260101160000.5Z"
    assert _validity(fractional) == cms.licence_validity(fractional)
    backwards = bytes.fromhex("3022") + b"\x18\x0f20270101000000Z" + b"\x18\x0f20260101000000Z"
    for parse in (_validity, cms.licence_validity):
        with pytest.raises(CmsFormatError):
            parse(backwards)


def test_cli_issue_batch_fails_ended_lines_unless_historical(
    lic: Licences, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from api.cli import cli

    lines = tmp_path / "apr.jsonl"
    lines.write_text("\n".join(json.dumps(dated("APR", 95 + i, date(2016, 3, 1),
                                                date(2019, 2, 28)), ensure_ascii=False)
                               for i in range(2)) + "\n", encoding="utf-8")
    home = str(lic.deployment.home.root)
    base = ["issue-batch", str(lines), "--type", "APR", "--workers", "1", "--json",
            "--home", home]
    refused = CliRunner().invoke(cli, [*base, "--out-dir", str(tmp_path / "a")])
    assert refused.exit_code == 1, refused.output
    errors = (tmp_path / "a" / "errors.jsonl").read_text(encoding="utf-8")
    assert errors.count("licence.validity_ended") == 2
    done = CliRunner().invoke(cli, [*base, "--out-dir", str(tmp_path / "b"), "--historical"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["issued"] == 2
