"""Fail closed offline: seals, certificates and lists judged only on fresh, signed evidence.

Attack corpus (each case passed as TOTAL_PASSED before this change):
a seal revoked or missing from the offline lists, a revoked department
certificate known only through its CA's CRL, a bundle without CRLs, an
intermediate CA no CRL covers, a stale CRL in otherwise fresh lists, and a
rolled-back trust or status list replayed to a verifier that saw a newer one.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.routes.trust import crl_signers, export_crls, export_lists
from api.routes.verification import deployment_policy, licence_index
from signing.seals import revoke_seal
from tests.licence_corpus import Licences, later, open_licences
from trust.indications import Indication, SubIndication
from trust.pki.crl import CrlStore
from trust.registry.models import CertificateRecord
from trust.status import StatusList
from trust.trustlist import Role, RollbackError, TrustEntry, TrustList
from verification import VerificationPolicy, verify_pdf
from verification.extract import extract_facts
from verification.list_state import ListState
from verification.qr import OfflineLists
from verification.status import ListStatus

PASSED, FAILED, UNSURE = Indication.TOTAL_PASSED, Indication.TOTAL_FAILED, Indication.INDETERMINATE


@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    for licences in open_licences(tmp_path_factory.mktemp("offline") / "home"):
        licences.issue("sm2", "sm2", number=1)
        licences.issue("rsa", "rsa", number=2)
        yield licences


def _check(report: object, name: str) -> object:
    sig = report.signatures[0]  # type: ignore[attr-defined]
    return next(c for c in sig.checks if c.name == name)


def _policy(lic: Licences, *, crls: list[bytes], entries: bool, seals: bool = True,
            at: datetime | None = None) -> VerificationPolicy:
    """An offline policy over freshly exported lists, with chosen evidence in it."""
    moment = at or datetime.now(UTC)
    signed = export_lists(lic.deployment, moment)
    lists = OfflineLists.from_signed(signed.trust_list, [signed.anchor],
                                     signed.status_lists.values(), crls=crls,
                                     crl_signers=crl_signers(lic.deployment).values())
    trimmed = {key: replace(sl, certificates=sl.certificates if entries else None,
                            seals=sl.seals if seals else None)
               for key, sl in lists.status_lists.items()}
    return deployment_policy(lic.deployment, offline=replace(lists, status_lists=trimmed),
                             licence_index=licence_index(lic.deployment))


def _crls(lic: Licences, at: datetime | None = None) -> list[bytes]:
    return list(export_crls(lic.deployment, at or datetime.now(UTC)).values())


# ---------------------------------------------------------------- seals
def test_seal_revoked_before_signing_fails_offline(lic: Licences) -> None:
    es_id = lic.new_seal(datetime.now(UTC) - timedelta(days=1), later(30))
    pdf = lic.issue("revoked_seal", "sm2", number=3, seal=es_id)
    with lic.deployment.registry.session() as s:
        revoke_seal(s, es_id, reason="stolen", at=datetime.now(UTC) - timedelta(hours=1),
                    actor="test")
    report = verify_pdf(pdf, lic.offline())
    assert report.indication is FAILED, report.to_json()
    assert report.sub_indication is SubIndication.REVOKED
    assert es_id in _check(report, "seal").detail  # type: ignore[attr-defined]


def test_seal_missing_from_the_offline_lists_is_indeterminate(lic: Licences) -> None:
    before = lic.offline()  # lists exported before the seal existed
    es_id = lic.new_seal(datetime.now(UTC) - timedelta(days=1), later(30))
    pdf = lic.issue("new_seal", "sm2", number=4, seal=es_id)
    seal = _check(verify_pdf(pdf, before), "seal")
    assert seal.indication is UNSURE, seal  # type: ignore[attr-defined]
    assert seal.sub_indication is SubIndication.TRY_LATER  # type: ignore[attr-defined]
    # lists that carry no seal status at all (no key 8) decide no seal either
    blind = _policy(lic, crls=_crls(lic), entries=True, seals=False)
    report = verify_pdf(lic.pdfs["sm2"], blind)
    assert report.indication is UNSURE, report.to_json()
    assert _check(report, "seal").indication is UNSURE  # type: ignore[attr-defined]
    assert verify_pdf(lic.pdfs["sm2"], lic.offline()).indication is PASSED


# ---------------------------------------------------------------- certificates
def test_revoked_department_certificate_fails_offline_through_the_crl(lic: Licences) -> None:
    signer = extract_facts(lic.pdfs["rsa"]).signatures[0].signer_cert
    assert signer is not None
    fingerprint = hashlib.sha256(signer).hexdigest()

    def set_revoked(when: datetime | None) -> None:
        with lic.deployment.registry.session() as s:
            record = s.get(CertificateRecord, fingerprint)
            assert record is not None
            record.revoked_at, record.revocation_reason = when, "key_compromise"

    set_revoked(datetime.now(UTC) - timedelta(minutes=5))
    try:
        report = verify_pdf(lic.pdfs["rsa"], lic.offline())
        assert report.indication is FAILED, report.to_json()
        assert report.sub_indication is SubIndication.REVOKED
        # the CRL alone (no certificate entries in the status lists) says so too
        report = verify_pdf(lic.pdfs["rsa"], _policy(lic, crls=_crls(lic), entries=False))
        assert report.sub_indication is SubIndication.REVOKED, report.to_json()
        detail = _check(report, "revocation").detail  # type: ignore[attr-defined]
        assert "CRL" in detail
        assert "key_compromise" in detail
    finally:
        set_revoked(None)
    assert verify_pdf(lic.pdfs["rsa"], lic.offline()).indication is PASSED


def test_a_chain_passes_offline_only_with_covering_evidence(lic: Licences) -> None:
    no_evidence = _policy(lic, crls=[], entries=False)
    report = verify_pdf(lic.pdfs["sm2"], no_evidence)
    assert report.indication is UNSURE, report.to_json()
    revocation = _check(report, "revocation")
    assert revocation.sub_indication is SubIndication.TRY_LATER  # type: ignore[attr-defined]
    assert "not covered" in revocation.detail  # type: ignore[attr-defined]
    # a status entry covers the department certificate, not the issuing CA above it:
    # that one needs its root's CRL (the chain is leaf, issuing CA, root)
    entries_only = verify_pdf(lic.pdfs["sm2"], _policy(lic, crls=[], entries=True))
    assert entries_only.indication is UNSURE
    assert "1 of 2 certificate(s) not covered" in _check(entries_only, "revocation").detail  # type: ignore[attr-defined]
    root_crl = [export_crls(lic.deployment, datetime.now(UTC))["sm2-root"]]
    for policy in (_policy(lic, crls=_crls(lic), entries=False),
                   _policy(lic, crls=root_crl, entries=True)):
        assert verify_pdf(lic.pdfs["sm2"], policy).indication is PASSED


def test_stale_crl_in_fresh_lists_is_out_of_bounds(lic: Licences) -> None:
    now = datetime.now(UTC)
    stale = _policy(lic, crls=_crls(lic, now - timedelta(days=2)), entries=False, at=now)
    report = verify_pdf(lic.pdfs["sm2"], stale, now)
    assert report.indication is UNSURE, report.to_json()
    assert report.sub_indication is SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE
    future = _policy(lic, crls=_crls(lic, now + timedelta(hours=2)), entries=False, at=now)
    assert verify_pdf(lic.pdfs["sm2"], future, now).indication is UNSURE


def test_crl_of_another_ca_covers_nothing(lic: Licences) -> None:
    """The RSA CAs' CRLs are no evidence about certificates the SM2 CAs issued."""
    crls = export_crls(lic.deployment, datetime.now(UTC))
    rsa_only = [crls["rsa-root"], crls["rsa-issuing-ca"]]
    report = verify_pdf(lic.pdfs["sm2"], _policy(lic, crls=rsa_only, entries=False))
    assert report.indication is UNSURE, report.to_json()
    assert verify_pdf(lic.pdfs["rsa"], _policy(lic, crls=rsa_only, entries=False)).passed


# ---------------------------------------------------------------- an intermediate CA
def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
          issuer_key: ec.EllipticCurvePrivateKey, ca: bool) -> bytes:
    start = datetime.now(UTC) - timedelta(days=1)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer_key.public_key()), critical=False))
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _crl(issuer: str, key: ec.EllipticCurvePrivateKey, revoked: tuple[int, ...] = (),
         number: int = 1) -> bytes:
    now = datetime.now(UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(_name(issuer))
               .last_update(now - timedelta(hours=1)).next_update(now + timedelta(days=1))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   key.public_key()), critical=False))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(now - timedelta(minutes=10)).build())
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_uncovered_intermediate_is_indeterminate_and_a_revoked_one_fails() -> None:
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    root = _cert("Root", keys[0], "Root", keys[0], True)
    inter = _cert("Issuing CA", keys[1], "Root", keys[0], True)
    leaf = _cert("Department", keys[2], "Issuing CA", keys[1], False)
    now = datetime.now(UTC)
    trust_list = TrustList(1, now - timedelta(minutes=1), now + timedelta(days=7),
                           (TrustEntry("ISSUER", "CN", Role.ISSUER_CA, ("*",), root),))
    path = (leaf, inter, root)
    # the CA being listed is no evidence about the certificates below it
    assert ListStatus(trust_list, {}, {}).check(path, now).indication is UNSURE
    only_leaf_covered = ListStatus(trust_list, {}, {}, crls=CrlStore.from_der(
        [_crl("Issuing CA", keys[1])]))
    check = only_leaf_covered.check(path, now)
    assert check.indication is UNSURE, check
    assert "Issuing CA" in check.detail and "1 of 2" in check.detail
    both = ListStatus(trust_list, {}, {}, crls=CrlStore.from_der(
        [_crl("Issuing CA", keys[1]), _crl("Root", keys[0])]))
    assert both.check(path, now).indication is PASSED
    serial = x509.load_der_x509_certificate(inter).serial_number
    ca_revoked = ListStatus(trust_list, {}, {}, crls=CrlStore.from_der(
        [_crl("Issuing CA", keys[1]), _crl("Root", keys[0], (serial,))]))
    check = ca_revoked.check(path, now)
    assert check.indication is FAILED
    assert check.sub_indication is SubIndication.REVOKED_CA_NO_POE
    # a newer CRL (higher number) of the same CA is the one that counts
    newer = ListStatus(trust_list, {}, {}, crls=CrlStore.from_der(
        [_crl("Issuing CA", keys[1]), _crl("Root", keys[0]),
         _crl("Root", keys[0], (serial,), number=2)]))
    assert newer.check(path, now).sub_indication is SubIndication.REVOKED_CA_NO_POE
    # a CRL with the CA's name but signed by another key is no evidence
    forged = ListStatus(trust_list, {}, {}, crls=CrlStore.from_der(
        [_crl("Issuing CA", keys[1]), _crl("Root", keys[2])]))
    assert forged.check(path, now).indication is UNSURE


# ---------------------------------------------------------------- rollback
def _cli(lic: Licences, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *map(str, args), "--home",
                           str(lic.deployment.home.root)], capture_output=True, text=True,
                          timeout=300)


def test_rolled_back_bundle_is_refused_after_a_newer_one(lic: Licences, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    assert _cli(lic, "trust", "export", "--out", old).returncode == 0
    time.sleep(1.1)  # sequences are issue times in seconds
    assert _cli(lic, "trust", "export", "--out", new).returncode == 0
    pdf = tmp_path / "sm2.pdf"
    pdf.write_bytes(lic.pdfs["sm2"])
    first = _cli(lic, "verify", "--offline", "--lists", new, pdf)
    assert first.returncode == 0, first.stdout + first.stderr
    replayed = _cli(lic, "verify", "--offline", "--lists", old, pdf)
    assert replayed.returncode == 2, replayed.stdout + replayed.stderr
    assert "trustlist.rollback" in replayed.stderr
    again = _cli(lic, "verify", "--offline", "--lists", new, pdf)
    assert again.returncode == 0, again.stdout + again.stderr


def test_state_refuses_an_older_status_list_and_survives_a_reload(
        lic: Licences, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    older, newer = export_lists(lic.deployment, now - timedelta(seconds=5)), \
        export_lists(lic.deployment, now)
    state = ListState(tmp_path / "state.json")
    OfflineLists.from_signed(newer.trust_list, [newer.anchor], newer.status_lists.values(),
                             state=state)
    # the newest trust list with an older status list: the status list is the rollback
    with pytest.raises(RollbackError) as caught:
        OfflineLists.from_signed(newer.trust_list, [newer.anchor],
                                 older.status_lists.values(), state=ListState(state.path))
    assert caught.value.code == "status.rollback"
    with pytest.raises(RollbackError) as caught:
        OfflineLists.from_signed(older.trust_list, [older.anchor], (),
                                 state=ListState(state.path))
    assert caught.value.code == "trustlist.rollback"
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(Exception, match="verifier state"):
        ListState(tmp_path / "state.json")


def test_status_list_carries_seals_and_certificates_and_old_lists_still_parse() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    base = StatusList.empty("sl1", "ISSUER", 8, now, now + timedelta(days=1))
    digest = bytes(range(32))
    full = base.with_objects({"seal-1": None, "seal-2": now}, {digest: None})
    again = StatusList.from_cbor(full.to_cbor())
    assert again.seals == {"seal-1": None, "seal-2": now}
    assert again.certificates == {digest: None}
    assert StatusList.from_cbor(base.to_cbor()).seals is None  # a list from before: no seals
    assert full.sequence == int(now.timestamp())


def test_bulk_workers_judge_offline_like_one_process(lic: Licences, tmp_path: Path) -> None:
    """The offline policy (lists, CRL store) travels to worker processes intact."""
    from verification import verify_files

    now = datetime.now(UTC)
    policy = lic.offline(now)
    blind = _policy(lic, crls=[], entries=False, at=now)
    paths = []
    for name in ("sm2", "rsa"):
        (tmp_path / f"{name}.pdf").write_bytes(lic.pdfs[name])
        paths.append(tmp_path / f"{name}.pdf")
    for chosen, expected in ((policy, PASSED), (blind, UNSURE)):
        reports = list(verify_files(paths, chosen, workers=2, at=now, chunk=1))
        assert [r.indication for r in reports] == [expected, expected], [
            r.to_json() for r in reports]


def test_crls_from_a_configured_directory_cover_a_foreign_signer(
        lic: Licences, tmp_path: Path) -> None:
    """``--crls DIR``: a foreign CA's CRL (here PEM-armoured) the verifier was given."""
    from tests import pdf_corpus as corpus
    from tests import revocation_corpus as rc
    from trust.pki.pem import to_pem_bundle

    pki = corpus.make_rsa_pki("Other Region")
    pdf = tmp_path / "foreign.pdf"
    pdf.write_bytes(corpus.sign_rsa(corpus.plain_pdf("Foreign"), pki))
    root = tmp_path / "root.pem"
    root.write_text(to_pem_bundle([pki.root_der]))
    bundle, crl_dir = tmp_path / "bundle", tmp_path / "crls"
    crl_dir.mkdir()
    now = datetime.now(UTC)
    der = rc.crl(pki, this_update=now - timedelta(hours=1), next_update=now + timedelta(days=1))
    (crl_dir / "other-region.crl").write_bytes(
        x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM))
    assert _cli(lic, "trust", "export", "--out", bundle).returncode == 0
    state = tmp_path / "state"
    base = ("verify", "--offline", "--lists", bundle, "--state", state, "--trust", root)
    without = _cli(lic, *base, pdf)
    assert without.returncode == 1, without.stdout + without.stderr
    covered = _cli(lic, *base, "--crls", crl_dir, pdf)
    assert covered.returncode == 0, covered.stdout + covered.stderr
    assert (state / "verifier-lists.json").exists()


@pytest.mark.parametrize("extra", [
    {8: ["seal-1"]},                       # not a map
    {8: {"x" * 65: None}},                 # esID too long
    {8: {"seal-1": "yesterday"}},          # not epoch seconds
    {9: {b"short": None}},                 # not a SHA-256
    {10: {}},                              # unknown key
])
def test_malformed_seal_or_certificate_entries_are_refused(extra: dict[int, object]) -> None:
    import cbor2

    from trust.status import StatusListError

    now = datetime(2026, 6, 1, tzinfo=UTC)
    payload = cbor2.loads(StatusList.empty("sl1", "ISSUER", 8, now,
                                           now + timedelta(days=1)).to_cbor())
    with pytest.raises(StatusListError):
        StatusList.from_cbor(cbor2.dumps({**payload, **extra}))
