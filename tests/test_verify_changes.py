"""Changes after signing, described truly (issue 12).

A licence allows after its signature only long-term-validation material (DSS,
document time-stamps) and the issuer's own second signature; a metadata-only
update, a sneaky signature field, an annotation overlay or a form value change
is named for what it is and never TOTAL_PASSED for a licence. Foreign PDFs keep
the policy the caller chooses, with the same description, and agree with
pyHanko's validator.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
from asn1crypto import x509
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from api.routes.verification import deployment_policy
from tests import pdf_corpus as corpus
from tests.licence_corpus import Licences, licence_changes, open_licences
from trust.indications import Indication, SubIndication
from verification import (
    FileFacts,
    UnsafeNoRevocationCheck,
    VerificationPolicy,
    extract_facts,
    judge,
    verify_pdf,
)

AT = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
PASSED, FAILED = Indication.TOTAL_PASSED, Indication.TOTAL_FAILED
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
LICENCE_CHANGES = licence_changes()


def _modifications(report_sig: object) -> object:
    return next(c for c in report_sig.checks if c.name == "modifications")  # type: ignore[attr-defined]


# ---------------------------------------------------------------- foreign (pyHanko-made) PDFs
@pytest.fixture(scope="module")
def rsa() -> corpus.RsaPki:
    return corpus.make_rsa_pki()


@pytest.fixture(scope="module")
def foreign(rsa: corpus.RsaPki) -> dict[str, bytes]:
    signed = corpus.sign_rsa(corpus.plain_pdf(), rsa)
    files = {name: build(signed) for name, (build, _) in LICENCE_CHANGES.items()}
    files["form_value"] = corpus.form_value_change(
        corpus.sign_rsa(corpus.plain_pdf_with_text_field(), rsa))
    files["dss"] = corpus.add_dss(signed, rsa)
    files["second_signature"] = corpus.sign_rsa(signed, rsa, field="Sig2")
    files["isa_text_change"] = corpus.incremental_text_change(signed)
    files["annotation_with_text_change"] = corpus.annotation_with_text_change(signed)
    return files


FOREIGN_KINDS = {
    **{name: kinds for name, (_, kinds) in LICENCE_CHANGES.items()},
    "form_value": ("form_value",),
    "dss": ("dss",),
    "second_signature": ("signature",),
    "isa_text_change": ("other",),
    "annotation_with_text_change": ("annotation", "other"),
}


def _policy(rsa: corpus.RsaPki, level: str) -> VerificationPolicy:
    return VerificationPolicy(trust_anchors=frozenset({rsa.root_der}),
                              revocation=UnsafeNoRevocationCheck(), max_modification=level)


@pytest.mark.parametrize("name", sorted(FOREIGN_KINDS))
def test_each_change_is_named_for_what_it_is(name: str, foreign: dict[str, bytes],
                                             rsa: corpus.RsaPki) -> None:
    """Before: an /Info or XMP rewrite was "changes: ltv", a sneaky field "form_filling"."""
    report = verify_pdf(foreign[name], _policy(rsa, "annotations"), AT)
    first = report.signatures[0]
    assert first.facts.changes == FOREIGN_KINDS[name], first.facts.modification_detail
    detail = _modifications(first).detail  # type: ignore[attr-defined]
    for kind in FOREIGN_KINDS[name]:
        assert kind in detail, detail
    # the fast path hands every updated file over to the full analysis, which agrees
    fast, full = extract_facts(foreign[name]), extract_facts(foreign[name], allow_fast=False)
    assert fast.parser == "full" and fast.without_parser() == full.without_parser()


@pytest.mark.parametrize("level", ["ltv", "form_filling"])
def test_foreign_pdfs_keep_the_callers_policy_and_agree_with_pyhanko(
    level: str, foreign: dict[str, bytes], rsa: corpus.RsaPki
) -> None:
    """The description changed; a foreign file's verdict is still pyHanko's level against
    the caller's tolerance (pyHanko's validator accepts up to form filling)."""
    policy = _policy(rsa, level)
    allowed = {"ltv": {"metadata_info", "metadata_xmp", "dss"},
               "form_filling": {"metadata_info", "metadata_xmp", "dss", "form_value",
                                "sneaky_signature_field", "second_signature"}}[level]
    for name, data in foreign.items():
        report = verify_pdf(data, policy, AT, name=name)
        assert report.signatures[0].indication is (PASSED if name in allowed else FAILED), name
        if level == "form_filling":
            context = ValidationContext(trust_roots=[rsa.root], moment=AT)
            status = validate_pdf_signature(corpus.open_pyhanko(data).embedded_signatures[0],
                                            context)
            assert bool(status.bottom_line) == (name in allowed), name


def test_a_form_value_change_fails_a_licence_signature(foreign: dict[str, bytes],
                                                       rsa: corpus.RsaPki) -> None:
    """The licence rule is the signed licence id's: re-judged with one, the same facts fail."""
    facts = extract_facts(foreign["form_value"])
    policy = _policy(rsa, "form_filling")
    assert judge(facts, policy, AT).signatures[0].indication is PASSED
    sig = facts.signatures[0]
    as_licence = replace(facts, signatures=(replace(sig, licence_id="L1-test"),))
    check = _modifications(judge(as_licence, policy, AT).signatures[0])
    assert check.indication is FAILED  # type: ignore[attr-defined]
    assert check.sub_indication is SubIndication.HASH_FAILURE  # type: ignore[attr-defined]
    assert check.detail.startswith("licence.changes:")  # type: ignore[attr-defined]
    assert "form_value" in check.detail  # type: ignore[attr-defined]


def test_facts_stored_before_changes_were_described_fail_a_licence(
    foreign: dict[str, bytes], rsa: corpus.RsaPki
) -> None:
    facts = extract_facts(foreign["dss"])
    stored = facts.to_dict()
    stored["signatures"][0].pop("changes")
    old = FileFacts.from_dict(stored)
    sig = replace(old.signatures[0], licence_id="L1-test")
    report = judge(replace(old, signatures=(sig,)), _policy(rsa, "form_filling"), AT)
    assert "undescribed" in _modifications(report.signatures[0]).detail  # type: ignore[attr-defined]
    assert report.indication is FAILED


# ---------------------------------------------------------------- issued licences
@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    for licences in open_licences(tmp_path_factory.mktemp("changes") / "home"):
        licences.issue("sm2", "sm2", number=1)
        licences.issue("rsa", "rsa", number=2)
        licences.issue("dual", "sm2+rsa", number=3)
        yield licences


@pytest.mark.parametrize("alg", ["sm2", "rsa", "dual"])
@pytest.mark.parametrize("attack", sorted(LICENCE_CHANGES))
def test_change_after_a_licence_signature_is_never_passed(lic: Licences, alg: str,
                                                          attack: str) -> None:
    """Before: metadata and sneaky-field updates of a licence were TOTAL_PASSED under the
    deployment policy (form_filling), an annotation overlay was "other changes"."""
    build, kinds = LICENCE_CHANGES[attack]
    data = build(lic.pdfs[alg])
    report = verify_pdf(data, lic.online(), name=attack)
    assert report.indication is FAILED, report.to_json()
    assert report.sub_indication is SubIndication.HASH_FAILURE
    for sig in report.signatures:
        check = _modifications(sig)
        assert check.indication is FAILED, check  # type: ignore[attr-defined]
        assert set(kinds) <= set(sig.facts.changes), sig.facts.modification_detail
        for kind in kinds:
            assert kind in check.detail  # type: ignore[attr-defined]
    fast = extract_facts(data)
    assert fast.parser == "full"
    assert fast.without_parser() == extract_facts(data, allow_fast=False).without_parser()


def test_dual_signed_licence_names_the_issuers_second_signature(lic: Licences) -> None:
    report = verify_pdf(lic.pdfs["dual"], lic.online(), name="dual")
    assert report.indication is PASSED, report.to_json()
    first = report.signatures[0]
    assert first.facts.changes == ("issuer_signature",)
    assert "Seal2 (same licence and seal)" in _modifications(first).detail  # type: ignore


@pytest.mark.parametrize("alg", ["sm2", "dual"])
def test_dss_after_a_licence_is_allowed(lic: Licences, alg: str) -> None:
    """LTV material (pyHanko's DSS writer, which also stamps /Info /ModDate) stays allowed."""
    certs = [x509.Certificate.load(c) for c in extract_facts(lic.pdfs[alg]).signatures[-1]
             .certificates]
    data = corpus.add_dss_certs(lic.pdfs[alg], certs)
    report = verify_pdf(data, lic.online(), name="dss")
    assert report.indication is PASSED, report.to_json()
    assert "dss" in report.signatures[-1].facts.changes
    assert set(report.signatures[0].facts.changes) <= {"dss", "issuer_signature"}


def test_a_second_signature_by_another_signer_fails_the_licence(lic: Licences) -> None:
    """Before: a trusted foreign signer's signature added to a licence left it TOTAL_PASSED."""
    other = corpus.make_rsa_pki("Another Department Signer")
    data = corpus.sign_rsa(lic.pdfs["sm2"], other, field="Other")
    policy = deployment_policy(lic.deployment, extra_anchors=[other.root_der])
    report = verify_pdf(data, policy, name="other")
    assert [s.facts.field_name for s in report.signatures] == ["Seal", "Other"]
    licence_sig, other_sig = report.signatures
    assert licence_sig.facts.changes == ("signature",)
    assert "Other (another licence or seal)" in _modifications(licence_sig).detail  # type: ignore
    assert licence_sig.indication is FAILED
    # the foreign signature is intact, but a licence's signatures must all be its
    # department's (licence_binding) and it carries no revocation data
    assert all(c.passed for c in other_sig.checks
               if c.name.startswith("integrity") or c.name == "structure")
    assert other_sig.indication is not PASSED
    assert report.indication is FAILED


def test_a_revision_that_cannot_be_described_is_other_and_keeps_pyhankos_level(
    foreign: dict[str, bytes], rsa: corpus.RsaPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verification.pdf import changes

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("odd object")

    monkeypatch.setattr(changes, "_describe", broken)
    facts = extract_facts(foreign["dss"], allow_fast=False)
    sig = facts.signatures[0]
    assert sig.changes == ("other",) and sig.modification_level == "ltv"
    assert "not describable: ValueError: odd object" in sig.modification_detail
    policy = _policy(rsa, "ltv")
    assert judge(facts, policy, AT).signatures[0].indication is PASSED  # foreign: pyHanko's level
    as_licence = replace(facts, signatures=(replace(sig, licence_id="L1-test"),))
    assert judge(as_licence, policy, AT).signatures[0].indication is FAILED
