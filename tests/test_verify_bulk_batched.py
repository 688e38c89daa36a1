"""The bulk engine reads the registry once per chunk and still gives every file the report
one-at-a-time verification gives it (issue 15).

The corpus mixes genuine SM2, RSA and OFD licences with every status the registry can
answer: revoked, suspended, not yet issued at the validation time, a licence id the
registry does not know, a re-signed copy (not the registered file), a seal revoked
before signing, the licence-binding attacks and the tampered files of the attack
corpus. Reports are compared as JSON, byte for byte.
"""

from __future__ import annotations

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
from trust.licence_id import format_licence_id, parse_licence_id
from trust.registry.lifecycle import LicenceStatus, change_status
from verification import VerificationPolicy, verify_files, verify_pdf


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
        for name, number in (("ofd", 60), ("ofd_revoked", 61)):  # OFD licences, same engine
            with lic.deployment.registry.session() as s:
                issued = issue_one(lic.deployment, s, type_code="DL",
                                   record=TYPES.get("DL").example(number),
                                   department=DEMO_DEPARTMENT, actor="test", file_format="ofd")
            files[name], lic.ids[name] = issued.pdf, issued.licence_id
        with lic.deployment.registry.session() as s:
            change_status(s, lic.ids["ofd_revoked"], LicenceStatus.REVOKED, reason="test",
                          at=datetime.now(UTC), actor="test")
        files.update(lic.make_attacks())  # includes the re-signed copy
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
