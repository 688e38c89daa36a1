"""PDF verification: genuine files pass, every attack class fails with the right reason,
the fast path agrees with the full path, and verdicts agree with pyHanko's."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

import jsonschema
import pytest
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests import pdf_corpus as corpus
from tests.gmssl_oracle import crypt_sm2
from trust import sm2
from trust.errors import InputError
from trust.indications import Indication, SubIndication
from verification import (
    UnsafeNoRevocationCheck,
    VerificationPolicy,
    extract_facts,
    judge,
    verify_files,
    verify_pdf,
)
from verification.cms import parse_cms

AT = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
SCHEMA = json.loads((Path(__file__).parents[1] / "verification" / "report.schema.json").read_text())
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)


@pytest.fixture(scope="module")
def rsa() -> corpus.RsaPki:
    return corpus.make_rsa_pki()


@pytest.fixture(scope="module")
def signed(rsa: corpus.RsaPki) -> bytes:
    return corpus.sign_rsa(corpus.plain_pdf(), rsa)


@pytest.fixture(scope="module")
def policy(rsa: corpus.RsaPki) -> VerificationPolicy:
    return VerificationPolicy(
        trust_anchors=frozenset({rsa.root_der}), revocation=UnsafeNoRevocationCheck()
    )


@pytest.fixture(scope="module")
def mixed(rsa: corpus.RsaPki, signed: bytes) -> dict[str, bytes]:
    """Genuine and tampered RSA files."""
    files = {
        "genuine_pades": signed,
        "genuine_adbe": corpus.sign_rsa(corpus.plain_pdf("Other"), rsa, pades=False),
        "untrusted_signer": corpus.sign_rsa(corpus.plain_pdf(), corpus.make_rsa_pki()),
        "signature_copied": corpus.signature_copied(
            signed, corpus.sign_rsa(corpus.plain_pdf("Donor"), rsa)
        ),
    }
    files.update({name: attack(signed) for name, attack in corpus.ATTACKS.items()})
    return files


EXPECTED = {
    "isa_text_change": SubIndication.HASH_FAILURE,
    "isa_page_added": SubIndication.HASH_FAILURE,
    "annotation_overlay": SubIndication.HASH_FAILURE,
    "swa_byte_range_wrap": SubIndication.FORMAT_FAILURE,
    "usf_contents_emptied": SubIndication.FORMAT_FAILURE,
    "usf_contents_removed": SubIndication.FORMAT_FAILURE,
    "truncated": SubIndication.FORMAT_FAILURE,
    "flip_inside_range": SubIndication.HASH_FAILURE,
    "flip_outside_range": SubIndication.SIG_CRYPTO_FAILURE,
    "signature_copied": SubIndication.HASH_FAILURE,
}


def test_genuine_rsa_passes_on_the_fast_path(signed: bytes, policy: VerificationPolicy) -> None:
    report = verify_pdf(signed, policy, AT, name="licence.pdf")
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert report.facts.parser == "fast"
    sig = report.signatures[0]
    assert sig.facts.field_name == "Sig1"
    assert (
        sig.facts.signer_subject is not None and "SealTrust Test Signer" in sig.facts.signer_subject
    )
    assert [c.name for c in sig.checks] == [
        "structure",
        "integrity.digest",
        "integrity.signature",
        "signing_certificate",
        "modifications",
        "chain",
        "revocation",
    ]
    assert len(sig.chain) == 2


@pytest.mark.parametrize("attack", sorted(EXPECTED))
def test_attack_fails_with_the_right_sub_indication(
    attack: str, mixed: dict[str, bytes], policy: VerificationPolicy
) -> None:
    report = verify_pdf(mixed[attack], policy, AT, name=attack)
    assert report.indication is Indication.TOTAL_FAILED, report.to_json()
    assert report.sub_indication is EXPECTED[attack], report.to_json()


# Files pyHanko cannot read at all (it raises): these are not agreements, whatever we say.
PYHANKO_UNREADABLE = frozenset({"usf_contents_emptied", "usf_contents_removed", "truncated"})


def test_verdicts_agree_with_pyhanko(
    mixed: dict[str, bytes], rsa: corpus.RsaPki, policy: VerificationPolicy
) -> None:
    """Agreement is counted per class, and a pyHanko exception is never counted as one.

    Threat: an oracle that raises looks like an oracle that says "not valid", so a test
    that folded exceptions into "failed" would report agreement on files the oracle never
    judged.
    """
    agreed: dict[bool, list[str]] = {True: [], False: []}
    unreadable: list[str] = []
    for name, data in mixed.items():
        ours = verify_pdf(data, policy, AT, name=name)
        try:
            reader = corpus.open_pyhanko(data)
            context = ValidationContext(trust_roots=[rsa.root], moment=AT)
            status = validate_pdf_signature(reader.embedded_signatures[0], context)
        except Exception:  # any pyHanko failure means "no verdict"
            unreadable.append(name)
            # Not an agreement: our own claim is a typed format failure, never a pass.
            assert ours.indication is Indication.TOTAL_FAILED, name
            assert ours.sub_indication is SubIndication.FORMAT_FAILURE, name
            continue
        theirs = bool(status.intact and status.valid and status.trusted and status.bottom_line)
        assert ours.passed == theirs, name
        agreed[theirs].append(name)
    assert sorted(unreadable) == sorted(PYHANKO_UNREADABLE)
    assert len(agreed[True]) == 2, agreed  # genuine PAdES and adbe.pkcs7.detached
    assert len(agreed[False]) == len(mixed) - 2 - len(PYHANKO_UNREADABLE), agreed


def test_fast_and_full_paths_extract_the_same_facts(mixed: dict[str, bytes]) -> None:
    fast_seen = 0
    for name, data in mixed.items():
        fast = extract_facts(data, name=name)
        full = extract_facts(data, name=name, allow_fast=False)
        fast_seen += fast.parser == "fast"
        assert full.parser in ("full", "none")
        assert fast.without_parser() == full.without_parser(), name
    assert fast_seen >= 4


def test_sm2_signature_passes_and_matches_gmssl() -> None:
    pki = corpus.make_sm2_pki()
    data = corpus.sign_sm2(corpus.plain_pdf(), pki)
    policy = VerificationPolicy(
        trust_anchors=frozenset({pki.root_der}), revocation=UnsafeNoRevocationCheck()
    )
    report = verify_pdf(data, policy, AT)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert report.signatures[0].facts.signature_algorithm == "sm2_sm3"
    # independent oracle: pure-Python gmssl verifies the same SM2 signature
    _, b, c, _ = corpus.byte_range(data)
    cms = parse_cms(bytes.fromhex(data[b + 1 : c - 1].decode()))
    point = pki.key.public_key_der()[-64:]
    oracle = crypt_sm2(point)
    assert cms.signed_attrs is not None
    assert oracle.verify_with_sm3(sm2.der_to_raw(cms.signature).hex(), cms.signed_attrs)
    tampered = corpus.flip_outside(data)
    assert verify_pdf(tampered, policy, AT).sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_default_policy_is_never_passed(signed: bytes) -> None:
    report = verify_pdf(signed, VerificationPolicy(), AT)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_missing_revocation_source_is_indeterminate(signed: bytes, rsa: corpus.RsaPki) -> None:
    policy = VerificationPolicy(trust_anchors=frozenset({rsa.root_der}))
    report = verify_pdf(signed, policy, AT)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.TRY_LATER


def test_facts_are_rejudged_at_another_time(signed: bytes, policy: VerificationPolicy) -> None:
    facts = extract_facts(signed)
    assert judge(facts, policy, AT).passed
    later = judge(facts, policy, dt.datetime(2029, 1, 1, tzinfo=dt.UTC))
    assert later.indication is Indication.INDETERMINATE
    assert later.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE


def test_naive_time_is_rejected(signed: bytes, policy: VerificationPolicy) -> None:
    with pytest.raises(InputError):
        verify_pdf(signed, policy, dt.datetime(2026, 11, 22))


def test_form_filling_tolerance_is_a_policy_choice(
    signed: bytes, rsa: corpus.RsaPki, policy: VerificationPolicy
) -> None:
    twice = corpus.sign_rsa(signed, rsa, field="Sig2")
    strict = verify_pdf(twice, policy, AT)
    assert strict.indication is Indication.TOTAL_FAILED
    assert [s.indication for s in strict.signatures] == [
        Indication.TOTAL_FAILED,
        Indication.TOTAL_PASSED,
    ]
    lenient = VerificationPolicy(
        chain_validator=policy.chain_validator,
        revocation=policy.revocation,
        max_modification="form_filling",
    )
    assert verify_pdf(twice, lenient, AT).passed


def test_report_json_matches_schema_and_summaries(
    mixed: dict[str, bytes], policy: VerificationPolicy
) -> None:
    for name, data in mixed.items():
        report = verify_pdf(data, policy, AT, name=name)
        jsonschema.validate(json.loads(report.to_json()), SCHEMA)
    good = verify_pdf(mixed["genuine_pades"], policy, AT, name="a.pdf")
    assert "验证通过" in good.summary("zh") and "valid" in good.summary("en")
    bad = verify_pdf(mixed["isa_text_change"], policy, AT, name="b.pdf")
    assert "签名后文档被修改" in bad.summary("zh") and "HASH_FAILURE" in bad.summary("en")


BAD_FILES = {
    "not_pdf": b"GIF89a" + b"\x00" * 100,
    "empty": b"",
    "header_only": b"%PDF-1.7\n%%EOF\n",
    "cyclic_xref": (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n"
        b"trailer<</Size 3/Root 1 0 R/Prev 97>>\nstartxref\n97\n%%EOF\n"
    ),
    "huge_size": b"%PDF-1.4\ntrailer<</Size 999999999999/Root 1 0 R>>\nstartxref\n9\n%%EOF\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_are_format_failures(name: str, policy: VerificationPolicy) -> None:
    report = verify_pdf(BAD_FILES[name], policy, AT, name=name)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    jsonschema.validate(json.loads(report.to_json()), SCHEMA)


def test_encrypted_and_oversized_files(signed: bytes, rsa: corpus.RsaPki) -> None:
    from io import BytesIO

    from pyhanko.pdf_utils.crypt import StandardSecurityHandler
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    w = copy_into_new_writer(PdfFileReader(BytesIO(corpus.plain_pdf())))
    w._assign_security_handler(StandardSecurityHandler.build_from_pw("secret"))
    out = BytesIO()
    w.write(out)
    report = verify_pdf(out.getvalue(), VerificationPolicy(), AT)
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert "encrypt" in report.detail.lower()
    small = VerificationPolicy(max_file_size=1000)
    assert "exceeds" in verify_pdf(signed, small, AT).detail


def test_verify_files_streams_every_file(
    tmp_path: Path, mixed: dict[str, bytes], policy: VerificationPolicy
) -> None:
    paths = []
    for name in ("genuine_pades", "truncated", "isa_text_change"):
        p = tmp_path / f"{name}.pdf"
        p.write_bytes(mixed[name])
        paths.append(p)
    paths.append(tmp_path / "missing.pdf")
    results = {Path(r.facts.name).name: r for r in verify_files(paths, policy, workers=2, at=AT)}
    assert set(results) == {
        "genuine_pades.pdf",
        "truncated.pdf",
        "isa_text_change.pdf",
        "missing.pdf",
    }
    assert results["genuine_pades.pdf"].passed
    assert all(not r.passed for n, r in results.items() if n != "genuine_pades.pdf")


@pytest.fixture(scope="module")
def tsa() -> corpus.Tsa:
    return corpus.make_tsa()


@pytest.fixture(scope="module")
def ltv_policy(rsa: corpus.RsaPki, tsa: corpus.Tsa) -> VerificationPolicy:
    return VerificationPolicy(
        trust_anchors=frozenset({rsa.root_der, tsa.root.dump()}),
        revocation=UnsafeNoRevocationCheck(),
    )


def test_ltv_updates_are_allowed(signed: bytes, rsa: corpus.RsaPki, tsa: corpus.Tsa,
                                 ltv_policy: VerificationPolicy) -> None:
    with_dss = corpus.add_dss(signed, rsa)
    stamped = corpus.add_doc_timestamp(with_dss, tsa)
    for data in (with_dss, stamped):
        report = verify_pdf(data, ltv_policy, AT)
        assert report.indication is Indication.TOTAL_PASSED, report.to_json()
        assert report.signatures[0].facts.modification_level == "ltv"
    kinds = [s.facts.kind for s in verify_pdf(stamped, ltv_policy, AT).signatures]
    assert kinds == ["signature", "doc_timestamp"]
    # pyHanko agrees that the DSS update leaves the signature valid
    context = ValidationContext(trust_roots=[rsa.root], moment=AT)
    status = validate_pdf_signature(corpus.open_pyhanko(with_dss).embedded_signatures[0], context)
    assert status.bottom_line


def test_doc_timestamp_failures(signed: bytes, tsa: corpus.Tsa, rsa: corpus.RsaPki,
                                ltv_policy: VerificationPolicy) -> None:
    stamped = corpus.add_doc_timestamp(signed, tsa)
    untrusted_tsa = VerificationPolicy(trust_anchors=frozenset({rsa.root_der}),
                                       revocation=UnsafeNoRevocationCheck())
    report = verify_pdf(stamped, untrusted_tsa, AT)
    assert report.indication is Indication.INDETERMINATE
    assert report.signatures[1].sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    forged = corpus.flip_outside(stamped)  # the time-stamp's own signature value
    assert verify_pdf(forged, ltv_policy, AT).sub_indication is SubIndication.SIG_CRYPTO_FAILURE
    after = corpus.incremental_text_change(stamped)
    assert verify_pdf(after, ltv_policy, AT).sub_indication is SubIndication.HASH_FAILURE


def test_stored_facts_round_trip_and_rejudge(mixed: dict[str, bytes],
                                             policy: VerificationPolicy) -> None:
    from verification import FileFacts

    for name, data in mixed.items():
        facts = extract_facts(data, name=name)
        stored = json.loads(json.dumps(facts.to_dict()))
        again = FileFacts.from_dict(stored)
        assert again == facts, name
        assert judge(again, policy, AT).to_json() == judge(facts, policy, AT).to_json()
    with pytest.raises(InputError):
        FileFacts.from_dict({"name": "x", "surprise": 1})


def test_verify_files_cuts_off_slow_files(tmp_path: Path, mixed: dict[str, bytes],
                                          policy: VerificationPolicy) -> None:
    p = tmp_path / "slow.pdf"
    p.write_bytes(mixed["isa_page_added"])  # full path: diff analysis takes tens of ms
    (report,) = verify_files([p], policy, workers=2, at=AT, timeout=0.001)
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert "exceeded" in report.detail


def test_fast_path_never_hides_a_second_signature(rsa: corpus.RsaPki,
                                                  policy: VerificationPolicy) -> None:
    """A decoy filled signature field without /ByteRange inside the signed revision:
    one /ByteRange in the file, whole file covered, yet the file must fail."""
    data = corpus.sign_rsa(corpus.with_bogus_signature_field(corpus.plain_pdf()), rsa)
    assert data.count(b"/ByteRange") == 1
    report = verify_pdf(data, policy, AT)
    assert report.facts.parser == "full"
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert [s.facts.field_name for s in report.signatures] == ["Decoy", "Sig1"]


def test_swapped_signer_certificate_is_caught(rsa: corpus.RsaPki, signed: bytes,
                                              policy: VerificationPolicy) -> None:
    """Same key, issuer and serial, another subject in the (unsigned) certificate bag:
    the signature value still verifies, the ESS signing-certificate attribute does not."""
    cert_der = rsa.signer_cert.dump()
    forged = cert_der.replace(b"SealTrust Test Signer", b"SealTrust Test Signex")
    _, b, c, _ = corpus.byte_range(signed)
    hex_cms = signed[b + 1 : c - 1]
    assert cert_der.hex().upper().encode() in hex_cms
    swapped_hex = hex_cms.replace(cert_der.hex().upper().encode(), forged.hex().upper().encode())
    swapped = signed[: b + 1] + swapped_hex + signed[c - 1 :]
    report = verify_pdf(swapped, policy, AT)
    checks = {c.name: c for c in report.signatures[0].checks}
    assert checks["integrity.signature"].passed
    assert checks["signing_certificate"].sub_indication is SubIndication.NO_SIGNING_CERTIFICATE_FOUND
    assert report.indication is not Indication.TOTAL_PASSED


@pytest.mark.parametrize("alg", ["sm2", "rsa-2048"])
def test_our_own_sealed_licences_pass_on_the_fast_path(alg: str) -> None:
    """signing.pdf output (B-T with the built-in TSA) is the fast path's target shape."""
    from signing.pdf import seal_pdf
    from signing.tsa import BuiltinTSA, InProcessTimeStamper
    from tests.sign_certs import pki, sample_pdf

    p = pki(alg)
    tsa = InProcessTimeStamper(BuiltinTSA(p.tsa.key, p.tsa.chain, "1.2.156.999.1.1",
                                          lambda: dt.datetime.now(dt.UTC)))
    data = seal_pdf(sample_pdf(), p.signer.key, list(p.signer.chain), timestamper=tsa)
    policy = VerificationPolicy(trust_anchors=frozenset({p.root.chain[-1]}),
                                revocation=UnsafeNoRevocationCheck())
    now = dt.datetime.now(dt.UTC)
    report = verify_pdf(data, policy, now)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert report.facts.parser == "fast"
    assert report.signatures[0].facts.timestamp_time is not None
    assert verify_pdf(corpus.flip_inside(data), policy, now).sub_indication is (
        SubIndication.HASH_FAILURE)


def test_shadow_replace_attack_fails(rsa: corpus.RsaPki, policy: VerificationPolicy) -> None:
    prepared, hidden = corpus.shadow_prepared(corpus.plain_pdf())
    signed = corpus.sign_rsa(prepared, rsa)
    assert verify_pdf(signed, policy, AT).passed
    attacked = corpus.shadow_replace(signed, hidden)
    report = verify_pdf(attacked, policy, AT)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.HASH_FAILURE
    context = ValidationContext(trust_roots=[rsa.root], moment=AT)
    status = validate_pdf_signature(corpus.open_pyhanko(attacked).embedded_signatures[0], context)
    assert not status.bottom_line  # pyHanko agrees


def test_algorithm_outside_the_accepted_set_is_indeterminate(rsa: corpus.RsaPki,
                                                             policy: VerificationPolicy) -> None:
    """RSA with SHA-384 is not in trust.keys' set: never PASSED, never FAILED either."""
    data = corpus.sign_rsa(corpus.plain_pdf(), rsa, md="sha384")
    report = verify_pdf(data, policy, AT)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE


def test_cyclic_xref_chain_is_a_format_failure(signed: bytes, policy: VerificationPolicy) -> None:
    start = signed.rfind(b"startxref")
    own_offset = int(signed[start + 10 :].split()[0])
    prev = re.findall(rb"/Prev \d+", signed)[-1]
    looped = signed.replace(prev, b"/Prev %d" % own_offset)
    assert looped != signed
    report = verify_pdf(looped, policy, AT)
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert "loop" in report.detail


def test_a_field_name_pyhanko_reads_as_bytes_still_makes_a_json_report(
    signed: bytes, policy: VerificationPolicy
) -> None:
    """Found by atheris: /T with a raw line break came back from pyHanko as a
    ByteStringObject and the report could not be serialised."""
    from verification.pdf.full import analyse

    edited = signed.replace(b"/T (Sig1)", b"/T (S\nig)", 1)
    assert edited != signed and len(edited) == len(signed)
    _, facts = analyse(edited)
    assert [f.field_name for f in facts] == ["S\nig"]
    assert all(type(f.field_name) is str for f in facts)
    report = verify_pdf(edited, policy, AT)
    assert report.indication is Indication.TOTAL_FAILED  # the name is inside the signed bytes
    assert json.loads(report.to_json())["signatures"][0]["field"] == "S\nig"
