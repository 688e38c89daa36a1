"""The bulk engine reads the registry once per chunk and still gives every file the report
one-at-a-time verification gives it (issue 15).

The corpus mixes genuine SM2, RSA and OFD licences with every status the registry can
answer: revoked, suspended, not yet issued at the validation time, a licence id the
registry does not know, a re-signed copy (not the registered file), a seal revoked
before signing, the licence-binding attacks and the tampered files of the attack
corpus, PDF and OFD (tests/test_verify_ofd.py's attacks on our own OFD licences and
packages written by tests/ofd_corpus.py). Reports are compared as JSON, byte for byte.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from api.deployment import DEMO_DEPARTMENT
from api.issuance import issue_one
from signing.issue import STATUS_LIST_ID, signed_validity
from signing.pdf import SealBinding, seal_pdf
from signing.seals import revoke_seal
from tests import pdf_corpus as corpus
from tests.licence_corpus import TYPES, Licences, later, open_licences
from tests.ofd_corpus import SealSpec, add_signature, content_entries, zip_package
from tests.support import require
from trust.indications import SubIndication
from trust.licence_id import format_licence_id, parse_licence_id
from trust.registry.lifecycle import LicenceStatus, change_status
from verification import VerificationPolicy, verify_files, verify_pdf
from verification.ofd.seal_value import read_seal_signature

# CI lays shared/ beside the clone; SEALTRUST_SHARED points elsewhere (e.g. a worktree)
SAMPLES = Path(os.environ.get("SEALTRUST_SHARED",
                              Path(__file__).resolve().parents[1].parent / "shared")) / "ofd-samples"
_VALUE = "Doc_0/Signs/Sign_0/SignedValue.dat"
_GENUINE_OFD = ("ofd", "ofd_1", "ofd_2", "ofd_3")  # valid, in force, the same key


def _unregistered(lic: Licences) -> bytes:
    """A licence signed with the department's own key and seal, carrying a well-formed
    licence id that was never issued (the registry does not know it)."""
    signer, seal_der = lic.own_signer()
    known = parse_licence_id(lic.ids["sm2_0"])
    fake = format_licence_id(known.type_code, known.authority, 999_999, known.issued_on)
    today = datetime.now(UTC).date()
    binding = SealBinding(seal_der, licence_id=fake, status_ref=(STATUS_LIST_ID, 99_999),
                          validity=signed_validity((today - timedelta(days=1),
                                                    today + timedelta(days=365))))
    dep = lic.deployment
    return seal_pdf(corpus.plain_pdf("never issued"), signer.key, signer.chain,
                    timestamper=dep.issuer_context().timestamper_for(signer.key),
                    field_name="Seal", seal=binding)


def _entries(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def _edited(package: bytes, **changes: bytes | None) -> bytes:
    """The package re-zipped (standard library) with entries replaced, added or (None)
    removed; keyword names use ``__`` for ``/`` and ``_dot_`` for ``.``."""
    entries = _entries(package)
    for key, data in changes.items():
        name = key.replace("__", "/").replace("_dot_", ".")
        if data is None:
            del entries[name]
        else:
            entries[name] = data
    return zip_package(entries)


def _flipped(value: bytes, part: bytes) -> bytes:
    """``value`` with one bit of ``part`` (which it holds once) flipped near its end: for a
    DER SM2 signature, a different s of the same length."""
    assert value.count(part) == 1
    changed = bytearray(part)
    changed[-3] ^= 1
    return value.replace(part, bytes(changed))


def _ofd_attacks(lic: Licences, genuine: bytes, other: bytes) -> dict[str, bytes]:
    """tests/test_verify_ofd.py's attacks, on an OFD licence the deployment issued, and
    packages signed with the department's own key and seal by tests/ofd_corpus.py."""
    entries = _entries(genuine)
    value, page = entries[_VALUE], entries["Doc_0/Pages/Page_0/Content.xml"]
    sig = read_seal_signature(value)
    assert sig.timestamp is not None
    seal_file = entries["Doc_0/Signs/Sign_0/Seal.esl"]
    files = {
        "ofd_page_changed": _edited(genuine, Doc_0__Pages__Page_0__Content_dot_xml=page + b" "),
        "ofd_page_added": _edited(genuine, Doc_0__Pages__Page_1__Content_dot_xml=page),
        "ofd_referenced_file_removed": _edited(genuine, Doc_0__PublicRes_dot_xml=None),
        "ofd_seal_file_swapped": _edited(
            genuine, Doc_0__Signs__Sign_0__Seal_dot_esl=seal_file[:-1] + b"\x00"),
        "ofd_value_from_another_licence": _edited(
            genuine, Doc_0__Signs__Sign_0__SignedValue_dot_dat=_entries(other)[_VALUE]),
        "ofd_forged_seal_signature": _edited(
            genuine, Doc_0__Signs__Sign_0__SignedValue_dot_dat=_flipped(value, sig.signature)),
        "ofd_forged_token": _edited(
            genuine, Doc_0__Signs__Sign_0__SignedValue_dot_dat=_flipped(value, sig.timestamp)),
        "ofd_not_a_zip": b"PK\x03\x04" + b"\x00" * 200,
        "ofd_climbs_out": zip_package({"OFD.xml": b"<a/>", "../evil.xml": b"x"}),
    }
    signer, seal_der = lic.own_signer()

    def written(*specs: dict[str, Any]) -> bytes:
        out = content_entries()
        for spec in specs:
            add_signature(out, SealSpec(key=signer.key, cert=signer.chain[0], seal_der=seal_der,
                                        at=datetime.now(UTC), **spec))
        return zip_package(out)

    files.update({
        "ofd_written_seal": written({}),
        "ofd_written_raw_rs": written({"raw_rs": True}),
        "ofd_written_sign_attrs": written({"sign_type": "Sign"}),
        "ofd_written_sign_content": written({"sign_type": "Sign", "sign_attrs": False}),
        "ofd_written_md5": written({"check_method": "MD5"}),
        "ofd_written_missing_page": written({"stamp_page": "999"}),
        "ofd_written_two_signatures": written({}, {"sign_type": "Sign"}),
        "ofd_written_forged_sign": written({"sign_type": "Sign", "tamper_value":
                                            lambda v: v[:-3] + bytes([v[-3] ^ 1]) + v[-2:]}),
        # the first signature is read and verified, the second's value cannot be inflated:
        # the package is unreadable, in the bulk engine's two halves as in one piece
        "ofd_second_value_corrupt": _corrupt_entry(written({}, {}),
                                                   "Doc_0/Signs/Sign_1/SignedValue.dat"),
    })
    return files


def _corrupt_entry(package: bytes, name: str) -> bytes:
    """``package`` with a byte of ``name``'s compressed data changed (its CRC then fails)."""
    info = zipfile.ZipFile(io.BytesIO(package)).getinfo(name)
    head = package[info.header_offset:info.header_offset + 30]
    start = (info.header_offset + 30 + int.from_bytes(head[26:28], "little")
             + int.from_bytes(head[28:30], "little"))
    raw = bytearray(package)
    raw[start + info.compress_size // 2] ^= 0x55
    return bytes(raw)


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Licences, list[Path]]]:
    root = tmp_path_factory.mktemp("bulk")
    for lic in open_licences(root / "home"):
        files: dict[str, bytes] = {}
        for i in range(6):
            files[f"sm2_{i}"] = lic.issue(f"sm2_{i}", "sm2", number=i + 1)
        files["rsa"] = lic.issue("rsa", "rsa", number=20)
        files["dual"] = lic.issue("dual", "sm2+rsa", number=21)
        for name, status in (("revoked", LicenceStatus.REVOKED),
                             ("suspended", LicenceStatus.SUSPENDED)):
            files[name] = lic.issue(name, "sm2", number=30 + len(files))
            with lic.deployment.registry.session() as s:
                change_status(s, lic.ids[name], status, reason="test", at=datetime.now(UTC),
                              actor="test")
        es_id = lic.new_seal(datetime.now(UTC) - timedelta(days=1), later(30))
        files["seal_revoked"] = lic.issue("seal_revoked", "sm2", number=40, seal=es_id)
        with lic.deployment.registry.session() as s:
            revoke_seal(s, es_id, reason="test", at=datetime.now(UTC) - timedelta(hours=1),
                        actor="test")
        files["unregistered"] = _unregistered(lic)
        for name, number in (("ofd", 60), ("ofd_revoked", 61), ("ofd_1", 62), ("ofd_2", 63),
                             ("ofd_3", 64)):  # OFD licences, same engine
            with lic.deployment.registry.session() as s:
                issued = issue_one(lic.deployment, s, type_code="DL",
                                   record=TYPES.get("DL").example(number),
                                   department=DEMO_DEPARTMENT, actor="test", file_format="ofd")
            files[name], lic.ids[name] = issued.pdf, issued.licence_id
        with lic.deployment.registry.session() as s:
            change_status(s, lic.ids["ofd_revoked"], LicenceStatus.REVOKED, reason="test",
                          at=datetime.now(UTC), actor="test")
        files.update(lic.make_attacks())  # includes the re-signed copy
        files.update(_ofd_attacks(lic, files["ofd"], files["ofd_1"]))
        files.update({f"tampered_{k}": attack(files["sm2_0"])
                      for k, attack in corpus.ATTACKS.items()})
        paths = []
        for name, data in files.items():
            path = root / f"{name}.pdf"
            path.write_bytes(data)
            paths.append(path)
        paths.append(root / "missing.pdf")  # unreadable: a FORMAT_FAILURE report
        yield lic, paths


def _single(paths: list[Path], policy: VerificationPolicy, at: datetime) -> dict[str, str]:
    out = {}
    for p in paths:
        data = p.read_bytes() if p.exists() else None
        if data is None:
            continue
        out[str(p)] = verify_pdf(data, policy, at, name=str(p)).to_json()
    return out


@pytest.mark.parametrize(("workers", "chunk"), [(1, 5), (1, 64), (2, 4), (2, 64)])
def test_batched_registry_lookups_give_the_one_at_a_time_reports(
    corpus_files: tuple[Licences, list[Path]], workers: int, chunk: int
) -> None:
    lic, paths = corpus_files
    policy = lic.online()
    for at in (datetime.now(UTC), datetime.now(UTC) - timedelta(days=3)):  # before issuance too
        single = _single(paths, policy, at)
        bulk = {r.facts.name: r for r in verify_files(paths, policy, workers=workers, at=at,
                                                      chunk=chunk)}
        assert set(bulk) == {str(p) for p in paths}
        assert "cannot read file" in (bulk[str(paths[-1])].facts.format_error or "")
        for name, expected in single.items():
            assert bulk[name].to_json() == expected, name
    # the statuses above were really exercised (not all one answer)
    reports = {Path(r.facts.name).stem: r for r in verify_files(paths, policy, chunk=chunk)}
    details = {n: " ".join(c.detail for s in r.signatures for c in s.checks)
               for n, r in reports.items()}
    assert reports["sm2_0"].passed and reports["dual"].passed and reports["ofd"].passed
    assert reports["ofd"].facts.parser == "ofd"
    assert all(reports[n].passed for n in _GENUINE_OFD)
    assert not any(r.passed for n, r in reports.items() if n.startswith("ofd_")
                   and n not in _GENUINE_OFD)
    assert reports["ofd_forged_seal_signature"].sub_indication is SubIndication.SIG_CRYPTO_FAILURE
    assert reports["ofd_forged_token"].signatures[0].facts.timestamp_valid is False
    assert reports["ofd_written_seal"].signatures[0].facts.signature_valid is True
    assert [s.facts.signature_valid for s in reports["ofd_written_two_signatures"].signatures] \
        == [True, True]
    assert reports["ofd_written_forged_sign"].signatures[0].facts.signature_valid is False
    assert "SignedValue.dat" in (reports["ofd_second_value_corrupt"].facts.format_error or "")
    assert ": revoked (registry)" in details["ofd_revoked"]
    assert ": revoked (registry)" in details["revoked"]
    assert "status suspended" in details["suspended"]
    assert "unknown to the registry" in details["unregistered"]
    assert "not the registered file" in details["re_signed_copy"]
    assert "before signing" in details["seal_revoked"]


def test_one_registry_query_per_kind_per_chunk(
    corpus_files: tuple[Licences, list[Path]],
) -> None:
    """Old engine: three queries per licence (status, seal, certificates). Now: one
    statement for the chunk (and at most one more for a certificate the files do not
    carry); a single verify_pdf likewise."""
    lic, paths = corpus_files
    genuine = [p for p in paths if p.stem.startswith("sm2_")]
    policy = lic.online()
    now = datetime.now(UTC)
    assert all(r.passed for r in verify_files(genuine[:1], policy, at=now))  # engine opened
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        reports = list(verify_files(genuine, policy, at=now, chunk=len(genuine)))
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len(reports) == len(genuine) and all(r.passed for r in reports)
    assert len(genuine) == 6
    assert len(statements) <= 2, statements
    statements.clear()
    event.listen(Engine, "before_cursor_execute", count)
    try:
        assert verify_pdf(genuine[1].read_bytes(), policy, now).passed
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len(statements) <= 2, statements


def test_chunk_answers_never_outlive_the_chunk(
    corpus_files: tuple[Licences, list[Path]],
) -> None:
    """A revocation made between two chunks is seen by the next chunk."""
    lic, paths = corpus_files
    policy = lic.online()
    path = paths[0].parent / "late.pdf"
    path.write_bytes(lic.issue("late", "sm2", number=50))
    first = list(verify_files([path], policy, at=datetime.now(UTC)))
    assert first[0].passed
    with lic.deployment.registry.session() as s:
        change_status(s, lic.ids["late"], LicenceStatus.REVOKED, reason="test",
                      at=datetime.now(UTC), actor="test")
    after = list(verify_files([path], policy, at=datetime.now(UTC)))
    assert not after[0].passed and ": revoked (registry)" in after[0].to_json()


class _Counting:
    """A hash object that adds the bytes it is given to a shared counter."""

    def __init__(self, h: Any, seen: list[int]) -> None:
        self._h, self._seen = h, seen

    def update(self, data: bytes | memoryview) -> None:
        self._seen.append(len(data))
        self._h.update(data)

    def copy(self) -> _Counting:
        return _Counting(self._h.copy(), self._seen)

    def digest(self) -> bytes:
        return bytes(self._h.digest())


def test_an_sm2_licence_is_hashed_once_and_its_digests_are_sm3_of_its_bytes(
    corpus_files: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The signed ranges and the registered-file SM3 share the prefix [0, b): SM3 runs over
    each byte once (the old code hashed the licence twice), and both digests equal SM3 of
    the bytes computed independently (hashlib over copies)."""
    import hashlib

    from verification import cms
    from verification.extract import extract_facts

    _, paths = corpus_files
    data = next(p for p in paths if p.stem == "sm2_0").read_bytes()
    real = cms.new_hash
    seen: list[int] = []
    monkeypatch.setattr(cms, "new_hash", lambda alg: _Counting(real(alg), seen)
                        if alg == "sm3" else real(alg))
    facts = extract_facts(data, file_sm3=True)
    monkeypatch.undo()
    sig = facts.signatures[0]
    assert facts.parser == "fast" and sig.digest_matches and sig.signature_valid
    _, b, c, d = sig.byte_range
    assert c + d == len(data)
    assert facts.sm3 == hashlib.new("sm3", data).hexdigest()
    assert facts.sm3 == extract_facts(data, file_sm3=True, allow_fast=False).sm3
    assert sum(seen) < len(data) + 4096, (sum(seen), len(data))
    assert cms.digest_signed_and_whole(data, b, c, d, "sm3") == (
        hashlib.new("sm3", data[:b] + data[c:]).digest(), hashlib.new("sm3", data).digest())


def test_a_chunk_verifies_its_sm2_signatures_in_one_verify_many_call(
    corpus_files: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: the CMS signatures and time-stamp tokens of a chunk's SM2 licences go
    to trust.sm2.verify_many together (crypto_mb's 8-lane batches where the CPU has
    AVX-512 IFMA), and the reports take their verdicts from that call."""
    from trust import sm2

    lic, paths = corpus_files
    genuine = [p for p in paths if p.stem.startswith("sm2_")]
    policy = lic.online()
    now = datetime.now(UTC)
    real = sm2.verify_many
    calls: list[int] = []

    def counting(items: Any) -> list[bool]:
        items = list(items)
        calls.append(len(items))
        return real(items)

    monkeypatch.setattr(sm2, "verify_many", counting)
    reports = list(verify_files(genuine, policy, at=now, chunk=len(genuine)))
    assert all(r.passed for r in reports)
    assert calls == [2 * len(genuine)]  # one signature and one token per licence

    # the verdicts are the batch's: a batch that says "no" fails every licence of the chunk
    monkeypatch.setattr(sm2, "verify_many", lambda items: [False for _ in items])
    refused = list(verify_files(genuine, policy, at=now, chunk=len(genuine)))
    assert not any(r.passed for r in refused)
    assert all(verify_pdf(p.read_bytes(), policy, now).passed for p in genuine)


def _spied(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[Any, bytes, bytes]]]:
    """Every ``trust.sm2.verify_many`` call's items, the real verdicts still given."""
    from trust import sm2

    real = sm2.verify_many
    calls: list[list[tuple[Any, bytes, bytes]]] = []

    def spy(items: Any) -> list[bool]:
        items = list(items)
        calls.append(items)
        return real(items)

    monkeypatch.setattr(sm2, "verify_many", spy)
    return calls


def test_ofd_licences_join_the_chunk_batch(
    corpus_files: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15, OFD: each OFD licence's seal signature over DER(TBS_Sign) and its
    time-stamp token go into the chunk's one verify_many call beside the PDF licences'
    signatures, and the reports take their verdicts from that call."""
    from trust import sm2
    from verification import engine

    lic, paths = corpus_files
    by_stem = {p.stem: p for p in paths}
    ofd = [by_stem[n] for n in _GENUINE_OFD]
    pdf = [by_stem[f"sm2_{i}"] for i in range(3)]
    policy = lic.online()
    now = datetime.now(UTC)
    calls = _spied(monkeypatch)
    reports = list(verify_files(ofd, policy, at=now, chunk=len(ofd)))
    assert all(r.passed and r.facts.parser == "ofd" for r in reports)
    assert [len(c) for c in calls] == [2 * len(ofd)]  # a seal signature and a token each
    messages = {bytes(m) for _, m, _ in calls[0]}
    for path in ofd:  # the very DER(TBS_Sign) of each licence went in
        value = _entries(path.read_bytes())[_VALUE]
        assert read_seal_signature(value).signed_message in messages

    calls.clear()  # PDF and OFD licences in one chunk: one call
    mixed = list(verify_files([*pdf, *ofd], policy, at=now, chunk=len(pdf) + len(ofd)))
    assert all(r.passed for r in mixed)
    assert [len(c) for c in calls] == [2 * (len(pdf) + len(ofd))]

    # what a planned OFD licence keeps until it is finished counts towards the bound
    from verification.extract import plan_facts

    data = ofd[0].read_bytes()
    value = _entries(data)[_VALUE]
    assert plan_facts(data).held_bytes >= len(data) + len(value)

    calls.clear()  # the memory bound still cuts a chunk: a file a batch
    monkeypatch.setattr(engine, "_GATHER_BYTES", 1)
    assert all(r.passed for r in verify_files(ofd, policy, at=now, chunk=len(ofd)))
    assert [len(c) for c in calls] == [2] * len(ofd)
    monkeypatch.undo()

    # the verdicts are the batch's: a batch that says "no" fails every licence of the chunk
    monkeypatch.setattr(sm2, "verify_many", lambda items: [False for _ in items])
    refused = list(verify_files(ofd, policy, at=now, chunk=len(ofd)))
    assert not any(r.passed for r in refused)
    assert all(r.sub_indication is SubIndication.SIG_CRYPTO_FAILURE for r in refused)
    assert all(verify_pdf(p.read_bytes(), policy, now).passed for p in ofd)


def test_a_forged_ofd_seal_signature_never_takes_the_genuine_verdict(
    corpus_files: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forged seal signature (the genuine licence's DER(TBS_Sign) and key, another s)
    in the same chunk as the genuine licence, before or after it: both go into the
    batch, and each file keeps its own verdict -- the one it gets on its own."""
    lic, paths = corpus_files
    by_stem = {p.stem: p for p in paths}
    genuine, forged = by_stem["ofd"], by_stem["ofd_forged_seal_signature"]
    genuine_sig = read_seal_signature(_entries(genuine.read_bytes())[_VALUE])
    forged_sig = read_seal_signature(_entries(forged.read_bytes())[_VALUE])
    assert forged_sig.signed_message == genuine_sig.signed_message
    assert forged_sig.signer_cert == genuine_sig.signer_cert
    assert forged_sig.signature != genuine_sig.signature
    policy = lic.online()
    now = datetime.now(UTC)
    single = {str(p): verify_pdf(p.read_bytes(), policy, now, name=str(p)).to_json()
              for p in (genuine, forged)}
    calls = _spied(monkeypatch)
    for order in ([genuine, forged], [forged, genuine], [genuine, forged, genuine]):
        calls.clear()
        reports = {r.facts.name: r for r in verify_files(order, policy, at=now, chunk=8)}
        assert reports[str(genuine)].passed
        assert reports[str(forged)].sub_indication is SubIndication.SIG_CRYPTO_FAILURE
        for name, report in reports.items():
            assert report.to_json() == single[name]
        # both signatures over the one message were verified in the batch
        assert len(calls) == 1
        over_message = [s for _, m, s in calls[0] if bytes(m) == genuine_sig.signed_message]
        assert len(over_message) == len(order)


@pytest.mark.parametrize("policy_kind", ["deployment", "no_anchors"])
def test_ofd_samples_and_attacks_batched_give_the_one_at_a_time_reports(
    corpus_files: tuple[Licences, list[Path]], policy_kind: str,
) -> None:
    """Other writers' packages (ofdrw's, ../shared/ofd-samples) beside every OFD file of
    the corpus, in chunks that mix them: the bulk reports are the one-at-a-time ones."""
    require(SAMPLES.is_dir(), f"OFD samples not found at {SAMPLES} (../shared/ofd-samples)")
    lic, paths = corpus_files
    samples = sorted(SAMPLES.glob("*.ofd"))
    assert len(samples) >= 5
    ofd = [p for p in paths if p.stem.startswith("ofd")]
    policy = lic.online() if policy_kind == "deployment" else VerificationPolicy()
    now = datetime.now(UTC)
    files = [*samples, *ofd]
    single = _single(files, policy, now)
    for chunk in (3, len(files)):
        bulk = {r.facts.name: r.to_json() for r in verify_files(files, policy, at=now,
                                                                chunk=chunk)}
        assert bulk == single
    # the samples' SM2 values verify (through the batch) where they did one at a time
    assert any('"signature_valid": true' in single[str(p)] for p in samples)
