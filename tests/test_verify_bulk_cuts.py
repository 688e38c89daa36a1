"""Issue 15, bulk SM2 licences: work a licence no longer repeats, with the same verdicts.

Each test fails on the code before the cut it names (the work was done per file), and
checks that what replaced it answers exactly as before; the whole corpus and attack
corpus comparisons (tests/test_verify_bulk_batched.py, test_verify_cms_fast.py,
test_report_json.py) cover the reports themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.licence_corpus import Licences, open_licences
from trust import oids
from trust.keys import SoftwareKey
from verification import cms, report_json, sm2_batch, verify_files
from verification.extract import extract_facts


class _Unhashable(bytes):
    """Bytes that must never be hashed (a 15 KB hash per licence is the cost cut)."""

    def __hash__(self) -> int:
        raise AssertionError("hashed")


@pytest.fixture(scope="module")
def licences(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Licences, list[Path]]]:
    root = tmp_path_factory.mktemp("cuts")
    for lic in open_licences(root / "home"):
        paths = []
        for i in range(3):
            path = root / f"sm2_{i}.pdf"
            path.write_bytes(lic.issue(f"sm2_{i}", "sm2", number=i + 1))
            paths.append(path)
        yield lic, paths


def test_hash_contexts_are_copied_not_looked_up(
    licences: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hashlib.new`` looked SM3 up in OpenSSL four times a licence (~3 µs each); a copy of
    an empty context made once gives the same digests."""
    _, paths = licences
    data = paths[0].read_bytes()
    warm = extract_facts(data, file_sm3=True)  # the empty contexts exist from here on
    looked_up: list[str] = []

    def new(name: str, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(name)
        return hashlib.new(name, *args, **kwargs)

    monkeypatch.setattr(cms, "hashlib", SimpleNamespace(new=new))
    again = extract_facts(data, file_sm3=True)
    monkeypatch.undo()
    assert looked_up == []
    assert again == warm and again.signatures[0].digest_matches
    assert again.sm3 == hashlib.new("sm3", data).hexdigest()  # independent of the copies
    h = cms.new_hash("sm3")
    h.update(b"abc")
    assert h.digest() == hashlib.new("sm3", b"abc").digest()
    assert cms.new_hash("sm3").digest() == hashlib.new("sm3").digest()  # template untouched
    with pytest.raises(cms.CmsFormatError):
        cms.new_hash("md5")


def test_the_batch_never_hashes_a_message_and_answers_only_that_message() -> None:
    """The batch was a dict keyed by (key, message, signature): every licence's ~15 KB
    signed attributes were hashed for it. Now the message object itself is the key, and
    its verdict goes to nothing else: another signature over it, or an equal copy, is
    verified on its own."""
    key = SoftwareKey.generate("sm2")
    spki = key.public_key_der()
    message = _Unhashable(b"signed attributes " * 900)
    good = key.sign(bytes(message))
    other = key.sign(b"something else")
    with sm2_batch.verified_together([(spki, oids.SM2_WITH_SM3, message, good)]) as n:
        assert n == 1
        assert sm2_batch.verify(spki, oids.SM2_WITH_SM3, message, good) is True
        # Threat: a verdict reused for a signature it was not given
        assert sm2_batch.verify(spki, oids.SM2_WITH_SM3, message, other) is False
        assert sm2_batch.verify(spki, oids.SM2_WITH_SM3, bytes(message), good) is True
        assert sm2_batch.verify(spki, oids.SM2_WITH_SM3, b"x" + bytes(message), good) is False


def test_the_seal_picture_is_found_without_hashing_it() -> None:
    """Each report looked its ~14 KB seal picture up in the memo by hash; the last large
    value is now compared byte for byte first (same placeholder, same base64)."""
    report_json.forget()
    seal = bytes(range(256)) * 60
    first = report_json._remembered(seal)
    assert report_json._remembered(_Unhashable(seal)) == first
    assert report_json._remembered(seal + b"\x00") != first  # another value: its own entry
    report_json.forget()
    assert report_json._last_large is None and not report_json._blobs


def test_a_walked_signature_is_not_scanned_for_a_revocation_archive(
    licences: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast walk refuses any signed attribute it does not know, so a walked CMS has no
    adbe-revocationInfoArchival attribute: the 15 KB byte scan for one is skipped.
    Through asn1crypto (not walked) the attributes are scanned as before."""
    from verification.pdf import common
    from verification.pdf.locate import locate

    _, paths = licences
    data = paths[0].read_bytes()
    scanned: list[bytes | None] = []
    real = common.archived_material

    def spy(attrs: bytes | None) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        scanned.append(attrs)
        return real(attrs)

    monkeypatch.setattr(common, "archived_material", spy)
    facts = extract_facts(data)
    assert facts.parser == "fast" and scanned == [None]
    assert facts.signatures[0].revocation_crls == ()
    found = locate(data)
    assert found is not None
    walked = cms.parse_cms(found.contents)
    slow = cms._parse(found.contents[: cms._der_length(found.contents)], False)
    assert walked.walked and not slow.walked and slow == walked  # (walked: not compared)
    again = common.signature_facts(
        data, byte_range=found.byte_range, signed=slow, field_name=found.field_name,
        subfilter=found.subfilter, claimed_time=found.claimed_time, coverage="entire_file",
        signed_revision=found.revisions - 1, revisions_after=0, modification_level="none")
    assert scanned[-1] is slow.signed_attrs  # asn1crypto's parse: scanned as before
    assert again == facts.signatures[0]


def test_a_department_code_is_checked_once(licences: tuple[Licences, list[Path]]) -> None:
    """Every licence id and seal id of a department carries its USCC; its GB 32100 check
    character was computed twice a licence."""
    from trust.licence_id import uscc_check_char

    lic, paths = licences
    list(verify_files(paths[:1], lic.offline(), at=datetime.now(UTC)))
    before = uscc_check_char.cache_info()
    reports = list(verify_files(paths, lic.offline(), at=datetime.now(UTC)))
    after = uscc_check_char.cache_info()
    assert all(r.passed for r in reports)
    assert after.misses == before.misses and after.hits > before.hits


def _reference_element(buf: bytes, pos: int, limit: int) -> tuple[int, int, int, int] | None:
    """X.690 DER header rules, written out plainly: (tag, start, body, end) or None."""
    if pos + 2 > limit or buf[pos] & 0x1F == 0x1F:
        return None
    first = buf[pos + 1]
    if first < 0x80:
        body, length = pos + 2, first
    else:
        n = first & 0x7F
        octets = buf[pos + 2 : pos + 2 + n]
        if not 1 <= n <= 3 or pos + 2 + n > limit or octets[0] == 0:
            return None  # indefinite, too long, cut off or non-minimal
        length = int.from_bytes(octets, "big")
        if length < 0x80:
            return None  # DER: the short form
        body = pos + 2 + n
    return None if body + length > limit else (buf[pos], pos, body, body + length)


@pytest.mark.parametrize("first", [0x00, 0x05, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84])
def test_element_headers_read_without_slices_follow_der(first: int) -> None:
    """der.element reads the one- and two-octet long forms directly: every header of
    those forms (each length octet value, minimal or not, cut off by the limit or not)
    gives what the X.690 rules give."""
    from verification.der import Unusual, element

    for a in range(256):
        for b in (0x00, 0x01, 0x7F, 0x80, 0xFF):
            buf = bytes([0x30, first, a, b]) + bytes(300)
            for limit in (2, 3, 4, len(buf), 4 + 0x80, 3 + a, 4 + (a << 8 | b)):
                limit = min(limit, len(buf))
                want = _reference_element(buf, 0, limit)
                try:
                    got: tuple[int, ...] | None = tuple(element(buf, 0, limit))
                except Unusual:
                    got = None
                assert got == want, (first, a, b, limit)


def test_offline_revocation_is_judged_once_per_path_and_time(
    licences: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, the licences of one signer share the certificate path and the validation
    time, and the signed lists and CRLs are fixed: the path's revocation answer was
    worked out again for every licence (it fails on that code: three for three files)."""
    from verification import status

    lic, paths = licences
    at = datetime.now(UTC)
    fresh = [r.to_json() for r in verify_files(paths, lic.offline(at), at=at)]
    policy = lic.offline(at)
    judged: list[tuple[bytes, ...]] = []
    real = status.path_revocation

    def counting(path: Any, when: datetime, data: Any) -> Any:
        judged.append(tuple(path))
        return real(path, when, data)

    monkeypatch.setattr(status, "path_revocation", counting)
    reports = list(verify_files(paths, policy, at=at))
    assert len(judged) == 1 and all(r.passed for r in reports)
    assert [r.to_json() for r in reports] == fresh  # the same reports as without the memo
    # another validation time is its own question
    later = at.replace(microsecond=(at.microsecond + 1) % 1_000_000)
    list(verify_files(paths[:1], policy, at=later))
    assert len(judged) == 2


@settings(max_examples=400, deadline=None)
@given(st.binary(min_size=0, max_size=60).map(
           lambda raw: bytes(b"/#0aF <>\n(x"[v % 11] for v in raw)),
       st.integers(0, 70), st.integers(0, 70), st.integers(0, 70), st.integers(2, 20))
def test_escaped_name_with_a_hash_precheck_equals_the_pattern(
        data: bytes, pos: int, endpos: int, b: int, width: int) -> None:
    """locate._escaped_name looks for a ``#`` (memchr) before running the escaped-name
    pattern; it answers what the pattern's gap-skipping search answers, on text rich in
    names, ``#``, hex digits and delimiters, for every range and gap placement."""
    from verification.pdf import locate

    gap = (b, b + width)
    want = locate._search(locate._NAME_ESCAPE, data, pos, endpos, gap) is not None
    assert locate._escaped_name(data, pos, endpos, gap) is want
