"""Mutual recognition: a PDF signed elsewhere (pyHanko, a foreign CA) against our trust list.

The trust list says, per entry, which licence types an issuer is recognised
for; the deployment's own issuers need the bound seal and a licence status,
a foreign issuer's plain PAdES signature does not (policy.FOREIGN_PADES), but
its certificates must be covered by revocation material embedded in the file
(DSS CRLs or OCSP responses), else it is INDETERMINATE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import pytest

from api.routes.verification import deployment_policy
from tests import pdf_corpus as corpus
from tests import revocation_corpus as rc
from tests.licence_corpus import Licences, open_licences
from trust.indications import Check, Indication, SubIndication
from trust.registry.statuslist import SignedLists
from trust.trustlist import Role, TrustEntry, TrustList
from verification import FOREIGN_PADES, VerificationPolicy, judge, verify_pdf
from verification.extract import extract_facts
from verification.qr import OfflineLists

AT = dt.datetime.now(dt.UTC)
FOREIGN = "FOREIGN-REGION-AMR"


@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    for licences in open_licences(tmp_path_factory.mktemp("foreign") / "home"):
        licences.issue("sm2", "sm2", number=1)
        licences.issue("rsa", "rsa", number=2)
        yield licences


@pytest.fixture(scope="module")
def foreign() -> tuple[corpus.RsaPki, bytes]:
    pki = corpus.make_rsa_pki("Foreign Region Signer")
    return pki, corpus.sign_rsa(corpus.plain_pdf("Foreign licence"), pki)


def _lists(lic: Licences, extra: tuple[TrustEntry, ...] = ()) -> OfflineLists:
    """Our exported trust list, re-signed by the operator with ``extra`` entries added."""
    from api.routes.trust import OPERATOR_ROLE, crl_signers, export_crls, export_lists

    dep = lic.deployment
    ours = OfflineLists.from_signed(*_signed(export_lists(dep, AT)))
    listed = TrustList(ours.trust_list.sequence + 1, AT, AT + dt.timedelta(days=7),
                       ours.trust_list.entries + extra)
    signed = listed.sign(dep.key(OPERATOR_ROLE), dep.certificate(OPERATOR_ROLE).der)
    status = export_lists(dep, AT).status_lists.values()
    # with the CAs' CRLs: offline, every certificate below the roots needs evidence
    return OfflineLists.from_signed(signed, [dep.certificate(OPERATOR_ROLE).der], status,
                                    crls=export_crls(dep, AT).values(),
                                    crl_signers=crl_signers(dep).values())


def _signed(signed: SignedLists) -> tuple[bytes, list[bytes], list[bytes]]:
    return signed.trust_list, [signed.anchor], list(signed.status_lists.values())


def _entry(pki: corpus.RsaPki, types: tuple[str, ...] = ("*",)) -> TrustEntry:
    return TrustEntry(FOREIGN, "440300", Role.ISSUER_CA, types, pki.root_der)


def _fresh_crl(pki: corpus.RsaPki, revoked: tuple[tuple[int, dt.datetime], ...] = (),
               at: dt.datetime = AT) -> bytes:
    return rc.crl(pki, this_update=at - dt.timedelta(hours=1),
                  next_update=at + dt.timedelta(days=1), revoked=revoked)


def _revocation(report: object) -> Check:
    return next(c for c in report.signatures[0].checks  # type: ignore[attr-defined]
                if c.name == "revocation")


def test_foreign_pades_passes_when_its_ca_is_in_the_trust_list_and_a_crl_is_embedded(
    lic: Licences, foreign: tuple[corpus.RsaPki, bytes]
) -> None:
    pki, pdf = foreign
    policy = deployment_policy(lic.deployment, offline=_lists(lic, (_entry(pki),)))
    report = verify_pdf(rc.with_dss(pdf, crls=[_fresh_crl(pki)]), policy, AT)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    chain = next(c for c in report.signatures[0].checks if c.name == "chain")
    assert f"foreign-pades:{FOREIGN}" in chain.detail
    assert "embedded in the file" in _revocation(report).detail
    assert not {"seal", "licence_status"} & {c.name for c in report.signatures[0].checks}


def test_foreign_pades_without_revocation_material_is_never_passed(
    lic: Licences, foreign: tuple[corpus.RsaPki, bytes]
) -> None:
    """Listing the foreign CA is no statement about its signer's certificate."""
    pki, pdf = foreign
    policy = deployment_policy(lic.deployment, offline=_lists(lic, (_entry(pki),)))
    report = verify_pdf(pdf, policy, AT)
    assert report.indication is Indication.INDETERMINATE, report.to_json()
    assert report.sub_indication is SubIndication.TRY_LATER


def test_foreign_revocation_through_embedded_crl_and_ocsp(
    lic: Licences, foreign: tuple[corpus.RsaPki, bytes]
) -> None:
    pki, pdf = foreign
    policy = deployment_policy(lic.deployment, offline=_lists(lic, (_entry(pki),)))
    serial = rc.signer_serial(pki)
    revoked = rc.with_dss(pdf, crls=[_fresh_crl(pki, ((serial, AT - dt.timedelta(hours=2)),))])
    report = verify_pdf(revoked, policy, AT)
    assert report.indication is Indication.TOTAL_FAILED, report.to_json()
    assert report.sub_indication is SubIndication.REVOKED
    window = {"this_update": AT - dt.timedelta(hours=1), "next_update": AT + dt.timedelta(days=1)}
    good_ocsp = rc.with_dss(pdf, ocsps=[rc.ocsp_response(pki, **window)])
    assert verify_pdf(good_ocsp, policy, AT).indication is Indication.TOTAL_PASSED
    bad_ocsp = rc.with_dss(pdf, ocsps=[rc.ocsp_response(
        pki, **window, revoked_at=AT - dt.timedelta(minutes=30))])
    assert verify_pdf(bad_ocsp, policy, AT).sub_indication is SubIndication.REVOKED
    stale = rc.with_dss(pdf, crls=[_fresh_crl(pki, at=AT - dt.timedelta(days=3))])
    report = verify_pdf(stale, policy, AT)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE
    # material signed by someone else (another CA's CRL and OCSP) covers nothing
    other = corpus.make_rsa_pki("Impostor")
    forged = rc.with_dss(pdf, crls=[_fresh_crl(other)],
                         ocsps=[rc.ocsp_response(other, **window)])
    assert verify_pdf(forged, policy, AT).sub_indication is SubIndication.TRY_LATER


def test_pyhanko_agrees_on_the_embedded_crl(foreign: tuple[corpus.RsaPki, bytes]) -> None:
    """pyHanko, requiring revocation info, reads the same DSS CRL the same way."""
    from asn1crypto import crl as asn1_crl
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    pki, pdf = foreign
    serial = rc.signer_serial(pki)
    for revoked, expected in (((), True), (((serial, AT - dt.timedelta(hours=2)),), False)):
        der = _fresh_crl(pki, revoked)
        data = rc.with_dss(pdf, crls=[der])
        context = ValidationContext(trust_roots=[pki.root], crls=[asn1_crl.CertificateList.load(
            der)], allow_fetching=False, revocation_mode="require", moment=AT)
        status = validate_pdf_signature(corpus.open_pyhanko(data).embedded_signatures[0],
                                        context)
        assert status.bottom_line is expected, status.pretty_print_details()
        ours = verify_pdf(data, _trusted_foreign(pki), AT)
        assert ours.passed is expected, ours.to_json()


def _trusted_foreign(pki: corpus.RsaPki) -> VerificationPolicy:
    return VerificationPolicy(trust_anchors=frozenset({pki.root_der}),
                              default_recognition=FOREIGN_PADES)


def test_same_pdf_without_the_ca_has_no_chain(
    lic: Licences, foreign: tuple[corpus.RsaPki, bytes]
) -> None:
    policy = deployment_policy(lic.deployment, offline=_lists(lic))
    report = verify_pdf(foreign[1], policy, AT)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_foreign_issuer_scoped_to_other_types_is_not_recognised(
    lic: Licences, foreign: tuple[corpus.RsaPki, bytes]
) -> None:
    pki, pdf = foreign
    policy = deployment_policy(lic.deployment, offline=_lists(lic, (_entry(pki, ("DL",)),)))
    report = verify_pdf(pdf, policy, AT)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE


def test_our_own_licences_still_need_seal_and_status(lic: Licences) -> None:
    """An own-issuer signature without the bound seal or licence id is not accepted."""
    from api.routes.verification import licence_index

    policy = deployment_policy(lic.deployment, offline=_lists(lic),
                               licence_index=licence_index(lic.deployment))
    facts = extract_facts(lic.pdfs["sm2"])
    sig = facts.signatures[0]
    unsealed = replace(facts, signatures=(replace(sig, seal_der=None, seal=None),))
    now = dt.datetime.now(dt.UTC)  # after issuance: seal and time-stamp are in the past
    assert judge(facts, policy, now).indication is Indication.TOTAL_PASSED
    report = judge(unsealed, policy, now)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    no_id = replace(facts, signatures=(replace(sig, licence_id=None, licence_type=None),))
    assert judge(no_id, policy, now).sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE


def test_online_policy_recognises_only_the_deployment_roots(
    lic: Licences, foreign: tuple[corpus.RsaPki, bytes]
) -> None:
    report = verify_pdf(foreign[1], lic.online(), AT)
    assert report.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    trusted = deployment_policy(lic.deployment, extra_anchors=[foreign[0].root_der])
    assert verify_pdf(foreign[1], trusted, AT).indication is Indication.INDETERMINATE
    with_crl = rc.with_dss(foreign[1], crls=[_fresh_crl(foreign[0])])
    assert verify_pdf(with_crl, trusted, AT).indication is Indication.TOTAL_PASSED


def test_a_directly_trusted_self_signed_signer_passes_only_when_trusted(lic: Licences) -> None:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Self-signed signer")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(AT - dt.timedelta(days=1)).not_valid_after(AT + dt.timedelta(days=30))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                     False), critical=True)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    pki = corpus.RsaPki(
        root_der=der, signer_cert=asn1_x509.Certificate.load(der),
        signer_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
        root=asn1_x509.Certificate.load(der))
    pdf = corpus.sign_rsa(corpus.plain_pdf("Self-signed"), pki)
    untrusted = verify_pdf(pdf, lic.online(), AT)
    assert untrusted.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    trusted = verify_pdf(pdf, deployment_policy(lic.deployment, extra_anchors=[der]), AT)
    assert trusted.indication is Indication.TOTAL_PASSED, trusted.to_json()


@pytest.mark.parametrize(("attack", "kinds"), [
    ("metadata_info", ("info",)),
    ("sneaky_signature_field", ("signature_appearance", "signature_field")),
])
def test_foreign_pades_keeps_the_deployment_tolerance_with_a_true_description(
    lic: Licences, foreign: tuple[corpus.RsaPki, bytes], attack: str, kinds: tuple[str, ...]
) -> None:
    """A recognised foreign issuer's file is judged by the deployment's tolerance
    (form_filling), not by the licence rule, and the report says what changed
    (before: "changes: ltv" / "changes: form_filling"). The file carries its signer's
    fresh CRL in a DSS first: a foreign signature is never passed without revocation data."""
    pki, pdf = foreign
    changed = corpus.CHANGES[attack](rc.with_dss(pdf, crls=[_fresh_crl(pki)]))
    policy = deployment_policy(lic.deployment, offline=_lists(lic, (_entry(pki),)))
    report = verify_pdf(changed, policy, AT)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    sig = report.signatures[0]
    assert sig.facts.changes == tuple(sorted(("dss", *kinds)))
    check = next(c for c in sig.checks if c.name == "modifications")
    assert all(k in check.detail for k in kinds), check.detail


def test_foreign_signature_under_a_stale_trust_list_is_never_passed(
    lic: Licences, foreign: tuple[corpus.RsaPki, bytes]
) -> None:
    """The foreign CA is recognised only through a fresh trust list, embedded CRL or not."""
    pki, pdf = foreign
    policy = deployment_policy(lic.deployment, offline=_lists(lic, (_entry(pki),)))
    later = AT + dt.timedelta(days=8)  # the trust list lives 7 days
    report = verify_pdf(rc.with_dss(pdf, crls=[_fresh_crl(pki, at=later)]), policy, later)
    assert report.indication is Indication.INDETERMINATE, report.to_json()
    assert report.sub_indication is SubIndication.TRY_LATER
    assert "trust list" in _revocation(report).detail


def test_acrobat_style_archived_crl_in_the_cms_counts(foreign: tuple[corpus.RsaPki, bytes]) -> None:
    """adbe.pkcs7.detached with the CRL in the adbe-revocationInfoArchival attribute, as
    pyHanko (like Acrobat) writes it: read on the fast and the full path alike."""
    from io import BytesIO

    from asn1crypto import crl as asn1_crl
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    pki, _ = foreign
    serial = rc.signer_serial(pki)
    for revoked, expected in (((), Indication.TOTAL_PASSED),
                              (((serial, AT - dt.timedelta(hours=2)),), Indication.TOTAL_FAILED)):
        der = _fresh_crl(pki, revoked)
        context = ValidationContext(trust_roots=[pki.root], allow_fetching=False,
                                    crls=[asn1_crl.CertificateList.load(der)])
        meta = signers.PdfSignatureMetadata(
            field_name="Sig1", md_algorithm="sha256", embed_validation_info=True,
            subfilter=fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED, validation_context=context)
        signer = signers.SimpleSigner(signing_cert=pki.signer_cert, signing_key=pki.signer_key,
                                      cert_registry=SimpleCertificateStore.from_certs([pki.root]))
        pdf = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(corpus.plain_pdf("Acrobat"))),
                               meta, signer=signer).getvalue()
        fast = extract_facts(pdf)
        assert fast.parser == "fast"
        assert fast.signatures[0].revocation_crls == (der,)
        assert fast.without_parser() == extract_facts(pdf, allow_fast=False).without_parser()
        report = judge(fast, _trusted_foreign(pki), AT)
        assert report.indication is expected, report.to_json()
