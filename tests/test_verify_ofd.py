"""OFD verification: ofdrw's files, our own genuine corpus, every quirk and every attack.

Packages are written by tests/ofd_corpus.py (standard library zip, hashlib SM3),
so the verifier is held to the standard's text rather than to its own writer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import resolve_signers
from tests.ofd_corpus import SIGNATURES, SealSpec, add_signature, content_entries, zip_package
from tests.support import require
from trust.indications import Indication, SubIndication
from trust.registry.models import SealRecord
from verification import (
    FileReport,
    RegistryStatus,
    UnsafeNoRevocationCheck,
    VerificationPolicy,
    verify_pdf,
)
from verification.errors import OfdFormatError
from verification.ofd import OfdLimits, OfdPackage

# CI lays shared/ beside the clone; SEALTRUST_SHARED points elsewhere (e.g. a worktree)
SHARED = Path(os.environ.get("SEALTRUST_SHARED",
                             Path(__file__).resolve().parents[1].parent / "shared"))
SAMPLES = SHARED / "ofd-samples"
NOW = datetime.now(UTC)


def later() -> datetime:
    """A validation time after everything the tests sign."""
    return datetime.now(UTC) + timedelta(seconds=5)


class Kit:
    """The demo deployment's SM2 department key, its seal and the policy that trusts them."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        with deployment.registry.session() as s:
            signer, _ = resolve_signers(deployment, s, DEMO_DEPARTMENT, "sm2")
            self.seal_der = s.execute(
                select(SealRecord.der).where(SealRecord.department_code == DEMO_DEPARTMENT)
            ).scalars().first()
        self.key, self.cert = signer.key, signer.chain[0]
        root = deployment.certificate("sm2-root").der
        # seal status from the registry (online); certificate revocation is not this
        # file's subject (tests/test_verify_licences.py covers it)
        # a seal signature carries only the signer's certificate: the issuing CA above it
        # is offered to path building, as the deployment policy does
        self.policy = VerificationPolicy(
            trust_anchors=frozenset({root}), revocation=UnsafeNoRevocationCheck(),
            licence_status=RegistryStatus(deployment.home.database_url()),
            known_intermediates=frozenset({deployment.certificate("sm2-issuing-ca").der}))

    def spec(self, **overrides: object) -> SealSpec:
        args: dict[str, object] = {"key": self.key, "cert": self.cert, "seal_der": self.seal_der,
                                   "at": datetime.now(UTC)}
        args.update(overrides)
        return SealSpec(**args)  # type: ignore[arg-type]

    def signed(self, pages: int = 1, **overrides: object) -> dict[str, bytes]:
        entries = content_entries(pages)
        add_signature(entries, self.spec(**overrides))
        return entries

    def verify(self, data: bytes) -> FileReport:
        return verify_pdf(data, self.policy, later(), name="t.ofd")


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    root = tmp_path_factory.mktemp("ofd-home")
    init_deployment(root)
    home = Home(root)
    deployment = Deployment(home, load_config(home))
    try:
        yield Kit(deployment)
    finally:
        deployment.close()


def _failing(report: FileReport) -> list[tuple[str, str | None, str]]:
    return [(c.name, c.sub_indication and c.sub_indication.value, c.detail)
            for s in report.signatures for c in s.checks if not c.passed]


# ------------------------------------------------------------------ genuine files
def test_genuine_seal_passes_with_every_check(kit: Kit) -> None:
    report = kit.verify(zip_package(kit.signed()))
    assert report.indication is Indication.TOTAL_PASSED, _failing(report)
    names = [c.name for c in report.signatures[0].checks]
    assert names[:5] == ["structure", "integrity.digest", "integrity.signature",
                         "signing_certificate", "modifications"]
    assert "chain" in names and "seal" in names
    assert report.facts.parser == "ofd"
    assert report.signatures[0].facts.subfilter == "OFD.Seal"


@pytest.mark.parametrize("quirk", [
    {"paths": "relative"}, {"paths": "upper"}, {"check_method": "sm3"},
    {"check_method": "1.2.156.10197.1.401"}, {"raw_rs": True}, {"value_name": "SignVal.dat"},
    {"protect_signatures": True}, {"write_seal_file": False},
])
def test_vendor_quirks_are_accepted(kit: Kit, quirk: dict[str, object]) -> None:
    report = kit.verify(zip_package(kit.signed(**quirk)))
    assert report.indication is Indication.TOTAL_PASSED, (quirk, _failing(report))


def test_extra_bytes_around_the_zip_are_accepted(kit: Kit) -> None:
    data = zip_package(kit.signed(), prefix=b"MZ-vendor-header" * 4, suffix=b"\x00" * 100)
    assert kit.verify(data).indication is Indication.TOTAL_PASSED


def test_entry_names_differing_in_case_from_references(kit: Kit) -> None:
    entries = kit.signed()
    data = zip_package(entries, names={"Doc_0/Pages/Page_0/Content.xml":
                                       "Doc_0/pages/page_0/content.xml"})
    assert kit.verify(data).indication is Indication.TOTAL_PASSED


@pytest.mark.parametrize(("attrs", "content"), [(True, "raw"), (True, "none"), (False, "raw"),
                                                (False, "base64"), (True, "base64")])
def test_sign_type_gbt35275_signed_data(kit: Kit, attrs: bool, content: str) -> None:
    report = kit.verify(zip_package(kit.signed(sign_type="Sign", sign_attrs=attrs,
                                               sign_content=content)))
    sig = report.signatures[0]
    assert sig.facts.subfilter == "OFD.Sign"
    assert sig.facts.digest_matches is True and sig.facts.signature_valid is True
    # no seal is bound: a plain signature to a trusted root passes under the plain rule
    assert report.indication is Indication.TOTAL_PASSED, _failing(report)


def test_second_signature_keeps_the_first_valid_when_signatures_xml_is_unprotected(
        kit: Kit) -> None:
    entries = kit.signed()
    add_signature(entries, kit.spec())
    report = kit.verify(zip_package(entries))
    first, second = report.signatures
    assert first.facts.modification_level == "form_filling"
    assert second.indication is Indication.TOTAL_PASSED
    lenient = dataclasses.replace(kit.policy, max_modification="form_filling")
    assert verify_pdf(zip_package(entries), lenient, later()).indication is Indication.TOTAL_PASSED


# ------------------------------------------------------------------ attacks
def _flip(data: bytes) -> bytes:
    return data.replace("第1页".encode(), "第9页".encode())


def test_changed_page_is_hash_failure_naming_the_file(kit: Kit) -> None:
    entries = kit.signed()
    entries["Doc_0/Pages/Page_0/Content.xml"] = _flip(entries["Doc_0/Pages/Page_0/Content.xml"])
    report = kit.verify(zip_package(entries))
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED,
                                                          SubIndication.HASH_FAILURE)
    assert "Doc_0/Pages/Page_0/Content.xml" in report.signatures[0].checks[1].detail


def test_removed_referenced_file_is_hash_failure(kit: Kit) -> None:
    entries = kit.signed()
    del entries["Doc_0/PublicRes.xml"]
    report = kit.verify(zip_package(entries))
    assert report.sub_indication is SubIndication.HASH_FAILURE
    assert "missing" in report.signatures[0].checks[1].detail


def test_page_added_after_signing_is_reported_and_fails(kit: Kit) -> None:
    entries = kit.signed()
    entries["Doc_0/Pages/Page_1/Content.xml"] = entries["Doc_0/Pages/Page_0/Content.xml"]
    report = kit.verify(zip_package(entries))
    sig = report.signatures[0]
    assert sig.facts.modification_level == "other"
    assert "Doc_0/Pages/Page_1/Content.xml" in sig.facts.modification_detail
    assert report.indication is Indication.TOTAL_FAILED


def test_unprotected_file_at_signing_is_not_passed(kit: Kit) -> None:
    report = kit.verify(zip_package(kit.signed(exclude=("Doc_0/PublicRes.xml",))))
    assert report.indication is Indication.TOTAL_FAILED
    assert "Doc_0/PublicRes.xml" in report.signatures[0].facts.modification_detail


def test_swapped_seal_file_is_detected(kit: Kit) -> None:
    entries = kit.signed()
    entries["Doc_0/Signs/Sign_0/Seal.esl"] = entries["Doc_0/Signs/Sign_0/Seal.esl"][:-1] + b"\x00"
    report = kit.verify(zip_package(entries))
    assert report.indication is Indication.TOTAL_FAILED
    assert "Seal.esl" in report.signatures[0].checks[1].detail


def test_signature_value_from_another_file_is_caught_by_data_hash(kit: Kit) -> None:
    one, two = kit.signed(), kit.signed(pages=2)
    one["Doc_0/Signs/Sign_0/SignedValue.dat"] = two["Doc_0/Signs/Sign_0/SignedValue.dat"]
    report = kit.verify(zip_package(one))
    assert report.sub_indication is SubIndication.HASH_FAILURE
    assert "dataHash" in report.signatures[0].checks[1].detail


def test_corrupted_signature_value_is_sig_crypto_failure(kit: Kit) -> None:
    def corrupt(value: bytes) -> bytes:
        from trust.seal import asn1
        sig = asn1.SES_Signature.load(value)
        raw = bytearray(sig["signature"].native)
        raw[-3] ^= 1
        sig["signature"] = bytes(raw)
        return bytes(sig.dump(force=True))

    report = kit.verify(zip_package(kit.signed(tamper_value=corrupt)))
    assert report.sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_stamp_on_a_missing_page_is_format_failure(kit: Kit) -> None:
    report = kit.verify(zip_package(kit.signed(stamp_page="999")))
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert "999" in report.signatures[0].checks[0].detail


@pytest.mark.parametrize("method", ["MD5", "SHA1", "1.2.156.10197.1.401.2"])
def test_non_standard_digest_profiles_are_never_passed(kit: Kit, method: str) -> None:
    report = kit.verify(zip_package(kit.signed(check_method=method)))
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE
    assert "not SM3" in report.signatures[0].checks[1].detail


def test_untrusted_genuine_file_is_indeterminate(kit: Kit) -> None:
    report = verify_pdf(zip_package(kit.signed()), VerificationPolicy(), later())
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


# ------------------------------------------------------------------ hostile packages
def _raw_zip(items: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items:
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("items", [
    [("OFD.xml", b"<a/>"), ("../evil.xml", b"x")],
    [("OFD.xml", b"<a/>"), ("Doc_0/a.xml", b"1"), ("doc_0/A.xml", b"2")],
    [("OFD.xml", b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')],
    [("OFD.xml", b"<ofd:OFD xmlns:ofd='x'><unclosed>")],
    [("Doc_0/Document.xml", b"<a/>")],
])
def test_hostile_packages_give_a_clear_format_failure(items: list[tuple[str, bytes]]) -> None:
    report = verify_pdf(_raw_zip(items), VerificationPolicy(), NOW)
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED,
                                                          SubIndication.FORMAT_FAILURE)
    assert report.detail and report.facts.parser == "none"


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = _raw_zip([("OFD.xml", b"<a/>"), ("Doc_0/big.bin", b"\x00" * (8 << 20))])
    with pytest.raises(OfdFormatError, match="zip bomb"):
        OfdPackage(bomb, OfdLimits(max_ratio=100))
    with pytest.raises(OfdFormatError, match="limit"):
        OfdPackage(bomb, OfdLimits(max_entry_bytes=1 << 20))
    before = set(os.listdir(tmp_path))
    verify_pdf(bomb, VerificationPolicy(), NOW)  # reads in memory only
    assert set(os.listdir(tmp_path)) == before


def test_not_a_zip_after_the_magic_is_a_format_failure() -> None:
    report = verify_pdf(b"PK\x03\x04" + b"\x00" * 200, VerificationPolicy(), NOW)
    assert report.sub_indication is SubIndication.FORMAT_FAILURE


# ------------------------------------------------------------------ ofdrw's files
EXPECTED = {
    "ofdrw-SESV4SignDoc.ofd": (Indication.INDETERMINATE, None),
    "ofdrw-V4RideRight.ofd": (Indication.INDETERMINATE, None),
    "ofdrw-allprotected.ofd": (Indication.INDETERMINATE, None),
    "ofdrw-h-second-signature-broke-first.ofd": (Indication.TOTAL_FAILED,
                                                 SubIndication.HASH_FAILURE),
    "ofdrw-DigitalSign-raw.ofd": (Indication.INDETERMINATE,
                                  SubIndication.NO_SIGNING_CERTIFICATE_FOUND),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ofdrw_samples_give_their_documented_verdicts(name: str) -> None:
    path = SAMPLES / name
    require(path.is_file(), f"OFD samples not found at {SAMPLES} (../shared/ofd-samples)")
    report = verify_pdf(path.read_bytes(), VerificationPolicy(), NOW, name=name)
    indication, sub = EXPECTED[name]
    assert report.indication is indication, _failing(report)
    if sub is not None:
        assert report.sub_indication is sub
    for sig in report.signatures:
        if name != "ofdrw-DigitalSign-raw.ofd":
            assert sig.facts.signature_valid is True  # the SM2 value verifies
    if name == "ofdrw-h-second-signature-broke-first.ofd":
        first, second = report.signatures
        assert first.indication is Indication.TOTAL_FAILED
        assert "Signatures.xml" in first.checks[1].detail
        assert second.facts.digest_matches is True


def test_reference_digests_agree_with_an_independent_sm3() -> None:
    """Every CheckValue of ofdrw's genuine files equals hashlib's SM3 of the raw entry."""
    path = SAMPLES / "ofdrw-V4RideRight.ofd"
    require(path.is_file(), f"OFD samples not found at {SAMPLES}")
    z = zipfile.ZipFile(path)
    sig_xml = z.read("Doc_0/Signs/Sign_0/Signature.xml").decode()
    import base64
    import re
    pairs = re.findall(r'FileRef="/([^"]+)"><ofd:CheckValue>([^<]+)<', sig_xml)
    assert len(pairs) == 9
    for ref, value in pairs:
        assert hashlib.new("sm3", z.read(ref)).digest() == base64.b64decode(value)
    report = verify_pdf(path.read_bytes(), VerificationPolicy(), NOW)
    assert report.signatures[0].facts.digest_matches is True
    assert SIGNATURES.endswith("Signatures.xml")


# ------------------------------------------------------------------ the command line
def test_cli_reads_ofd_by_content_not_suffix(kit: Kit, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    sample = SAMPLES / "ofdrw-h-second-signature-broke-first.ofd"
    require(sample.is_file(), f"OFD samples not found at {SAMPLES}")
    disguised = tmp_path / "licence.pdf"  # an OFD package under a PDF name
    disguised.write_bytes(sample.read_bytes())
    genuine = tmp_path / "genuine.bin"
    genuine.write_bytes(zip_package(kit.signed()))
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify", "--home", str(kit.deployment.home.root),
         "--json", str(disguised), str(genuine)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["file"]["parser"] for r in reports] == ["ofd", "ofd"]
    assert reports[0]["sub_indication"] == "HASH_FAILURE"
    # signed by the deployment's own department but carrying no licence id: the
    # deployment's recognition requires one, so it is never passed as a licence
    assert reports[1]["indication"] == "TOTAL_FAILED"
    assert any("licence" in c["detail"] for c in reports[1]["signatures"][0]["checks"])


# ------------------------------------------------------------------ fuzzing (hypothesis)
def _contents(data: bytes) -> dict[str, bytes] | None:
    """The package's (name -> bytes) as a standard zip reader sees it, or None."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
    except Exception:
        return None


@pytest.fixture(scope="module")
def genuine(kit: Kit) -> bytes:
    return zip_package(kit.signed())


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_packages_never_pass_with_other_content(
        kit: Kit, genuine: bytes, data: st.DataObject) -> None:
    """Any edit of the zip bytes: a typed report, never an exception; TOTAL_PASSED only
    when a standard zip reader still sees exactly the signed files."""
    raw = bytearray(genuine)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    mutated = bytes(raw)
    report = kit.verify(mutated)
    if report.indication is Indication.TOTAL_PASSED:
        assert _contents(mutated) == _contents(genuine)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml",
                             "Doc_0/Pages/Page_0/Content.xml",
                             "Doc_0/Signs/Sign_0/Signature.xml",
                             "Doc_0/Signs/Sign_0/SignedValue.dat",
                             "Doc_0/Signs/Sign_0/Seal.esl"]),
       pos=st.integers(0, 10_000), value=st.integers(1, 255))
def test_any_edit_of_a_signed_file_is_never_passed(
        kit: Kit, name: str, pos: int, value: int) -> None:
    entries = kit.signed()
    original = entries[name]
    content = bytearray(original)
    content[pos % len(content)] ^= value
    entries[name] = bytes(content)
    report = kit.verify(zip_package(entries))
    if report.indication is Indication.TOTAL_PASSED:
        # the one benign edit: the unused-bits count of the (unsigned) signature BIT STRING
        from verification.ofd.values import declared_unused_bits_cleared

        assert name.endswith("SignedValue.dat")
        assert declared_unused_bits_cleared(bytes(content)) == original


# ------------------------------------------------------------------ older and odder encodings
def test_gmt0031_v1_seal_signature_is_read_and_verified() -> None:
    """A GM/T 0031 V1 seal signature (still in circulation) is read like a V4 one: its
    References, dataHash and SM2 value verify; without anchors the verdict is
    INDETERMINATE, never FAILED."""
    from asn1crypto import core

    from tests.seal_certs import SEAL_END, SEAL_START, make_kit
    from tests.test_seal_v1 import _v1_seal
    from trust import oids
    from trust.seal import asn1

    kit = make_kit("sm2")
    seal = _v1_seal(kit)

    def v1(data_hash: bytes) -> bytes:
        tbs = asn1.TBS_Sign_V1({
            "version": 2, "eseal": asn1.SESeal_V1.load(seal), "timeInfo": b"260301080000Z",
            "dataHash": data_hash, "propertyInfo": "/Doc_0/Signs/Sign_0/Signature.xml",
            "cert": kit.signer.cert, "signatureAlgorithm": oids.SM2_WITH_SM3})
        return bytes(asn1.SES_Signature_V1(
            {"toSign": tbs, "signature": kit.signer.key.sign(tbs.dump())}).dump())

    entries = content_entries()
    add_signature(entries, SealSpec(key=kit.signer.key, cert=kit.signer.cert, seal_der=seal,
                                    at=SEAL_START, value_builder=v1))
    report = verify_pdf(zip_package(entries), VerificationPolicy(), SEAL_END)
    sig = report.signatures[0]
    assert sig.facts.digest_matches is True and sig.facts.signature_valid is True, _failing(report)
    assert report.indication is Indication.INDETERMINATE
    assert isinstance(core.Integer(2).native, int)


def test_signature_bit_string_with_declared_unused_bits_is_accepted(kit: Kit) -> None:
    """Some writers declare unused bits in the signature BIT STRING; the value is the same."""
    from trust.seal import asn1

    def odd(value: bytes) -> bytes:
        sig = asn1.SES_Signature.load(value)
        raw = sig["signature"].dump()
        assert raw[0] == 0x03
        header = 2 if raw[1] < 0x80 else 2 + (raw[1] & 0x7F)
        assert raw[header] == 0  # unused bits, as DER writes them
        changed = raw[:header] + b"\x04" + raw[header + 1:]
        assert value.count(raw) == 1
        return value.replace(raw, changed)

    report = kit.verify(zip_package(kit.signed(tamper_value=odd)))
    assert report.indication is Indication.TOTAL_PASSED, _failing(report)


def test_unreadable_signer_certificate_is_a_format_failure_not_a_crash(
        kit: Kit, tmp_path: Path) -> None:
    """A V4 seal signature's ``cert`` lies outside TBS_Sign, so anyone can replace it. One
    that parses as DER but not as a certificate (here a subject name that is not UTF-8)
    used to reach the licence-binding check, which raised: verify_pdf broke its promise
    of a report, and one such file stopped a whole ``verify_files`` run. It is a
    structure error of that signature now (found by a seeded mutation run)."""
    from datetime import date

    from trust.licence_id import format_licence_id
    from trust.ofd_profile import PARAM_LICENCE_ID
    from trust.seal import asn1
    from verification import verify_files
    from verification.certinfo import cert_info

    assert "示".encode() in kit.cert
    broken = kit.cert.replace("示".encode(), b"\xe7\x41\xba", 1)  # not UTF-8 any more

    def swap_cert(value: bytes) -> bytes:
        sig = asn1.SES_Signature.load(value)
        sig["cert"] = broken
        return bytes(sig.dump(force=True))

    licence = format_licence_id("DL", cert_info(kit.cert).uscc or "", 7, date.today())
    data = zip_package(kit.signed(tamper_value=swap_cert,
                                  parameters={PARAM_LICENCE_ID: licence}))
    report = kit.verify(data)
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED,
                                                          SubIndication.FORMAT_FAILURE)
    assert "signer certificate" in report.signatures[0].checks[0].detail
    genuine = tmp_path / "genuine.ofd"
    genuine.write_bytes(zip_package(kit.signed()))
    (tmp_path / "broken.ofd").write_bytes(data)
    paths = [tmp_path / "broken.ofd", genuine]
    reports = {Path(r.facts.name).name: r for r in verify_files(paths, kit.policy, at=later())}
    assert reports["broken.ofd"].sub_indication is SubIndication.FORMAT_FAILURE
    assert reports["genuine.ofd"].signatures[0].facts.signature_valid is True
