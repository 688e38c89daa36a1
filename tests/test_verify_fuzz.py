"""Fuzzing the PDF and CMS parsing: every input ends in a report or a typed error,
within a time and memory budget."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import pdf_corpus as corpus
from tests.work_budget import calls_made
from trust.indications import Indication
from verification import (
    UnsafeNoRevocationCheck,
    VerificationPolicy,
    extract_facts,
    judge,
    verify_pdf,
)
from verification.cms import parse_cms
from verification.errors import CmsFormatError
from verification.pdf.locate import locate

AT = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
POLICY = VerificationPolicy()
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)


@pytest.fixture(scope="module")
def signed() -> bytes:
    return corpus.sign_rsa(corpus.plain_pdf(), corpus.make_rsa_pki())


def _mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for pos, cut, insert in edits:
        at = pos % (len(out) + 1)
        out[at : at + cut] = insert
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 8), st.binary(max_size=8)),
    min_size=1,
    max_size=4,
)


def _changed_only_unsigned_padding(original: bytes, mutated: bytes) -> bool:
    """True iff every changed byte lies in the zero padding after the CMS inside /Contents.

    That padding is the one part of a signed PDF no signature covers (it is outside the
    byte ranges and outside the DER the CMS parser reads).
    """
    if len(original) != len(mutated):
        return False
    _, b, c, _ = corpus.byte_range(original)
    hex_start = b + 1
    der = bytes.fromhex(original[hex_start : c - 1].decode())
    der_end = hex_start + 2 * (2 + der[1] - 0x80 + int.from_bytes(der[2 : 2 + der[1] - 0x80], "big")
                               if der[1] & 0x80 else 2 + der[1])
    changed = [i for i, (x, y) in enumerate(zip(original, mutated, strict=True)) if x != y]
    return all(der_end <= i < c - 1 for i in changed)


@settings(
    max_examples=60,
    deadline=None,  # bounded by counted work below, not by the clock
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(edits=EDITS)
def test_mutated_pdf_never_verifies(
    signed_and_policy: tuple[bytes, VerificationPolicy], edits: list[tuple[int, int, bytes]]
) -> None:
    """Under a policy that trusts the signer, a mutated licence passes only if the mutation
    touched nothing signed; the report is produced with bounded work and serialises."""
    signed, policy = signed_and_policy
    data = _mutate(signed, edits)
    report, calls = calls_made(verify_pdf, data, policy, AT)
    if report.indication is Indication.TOTAL_PASSED:
        assert data == signed or _changed_only_unsigned_padding(signed, data), report.to_json()
    assert calls < _GENUINE_CALLS * 20 + 200_000, calls
    report.to_json()


@settings(max_examples=200, deadline=500)
@given(blob=st.binary(max_size=2048))
def test_random_bytes_never_crash_the_fast_path_or_cms(blob: bytes) -> None:
    found = locate(blob)
    assert found is None or found.byte_range[0] == 0
    with contextlib.suppress(CmsFormatError):
        parse_cms(blob)
    report = verify_pdf(blob, _TRUSTING, AT)
    assert report.indication is not Indication.TOTAL_PASSED  # random bytes are never a licence


@settings(
    max_examples=150, deadline=1000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=EDITS)
def test_mutated_cms_is_parsed_or_rejected(
    signed: bytes, edits: list[tuple[int, int, bytes]]
) -> None:
    """A mutated CMS is refused with CmsFormatError, or, put back into the licence, verifies
    only if what it signs (signed attributes, signature value, signer) is unchanged."""
    _, b, c, _ = corpus.byte_range(signed)
    der = bytes.fromhex(signed[b + 1 : c - 1].decode()).rstrip(b"\0")
    mutated = _mutate(der, edits)
    try:
        parsed = parse_cms(mutated)
    except CmsFormatError:
        return
    room = c - 1 - (b + 1)
    if 2 * len(mutated) > room:
        return  # does not fit the reserved /Contents; nothing to verify
    hex_ = mutated.hex().encode().ljust(room, b"0")
    pdf = signed[: b + 1] + hex_ + signed[c - 1 :]
    report = verify_pdf(pdf, _TRUSTING, AT)
    if report.indication is Indication.TOTAL_PASSED:
        original = parse_cms(der)
        assert (parsed.signed_attrs, parsed.signature, parsed.signer_cert) == (
            original.signed_attrs, original.signature, original.signer_cert), report.to_json()


def test_memory_stays_bounded_for_hostile_lengths() -> None:
    hostile = [
        b"\x30\x84\xff\xff\xff\xff" + b"\x00" * 64,  # 4 GiB length claim
        b"\x30\x80" + b"\x30\x80" * 5000,  # deep indefinite nesting
        b"%PDF-1.7\n" + b"[" * 100_000 + b"\n%%EOF",
    ]
    tracemalloc.start()
    for blob in hostile:
        with contextlib.suppress(CmsFormatError):
            parse_cms(blob)
        verify_pdf(blob, POLICY, AT)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024 * 1024


SAME_LENGTH = st.lists(st.tuples(st.integers(0, 1 << 20), st.just(1), st.binary(min_size=1,
                                                                              max_size=1)),
                      min_size=1, max_size=3)


@settings(max_examples=150, deadline=3000,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=st.one_of(EDITS, SAME_LENGTH))
def test_fast_path_verdict_equals_full_path(signed_and_policy: tuple[bytes, VerificationPolicy],
                                            edits: list[tuple[int, int, bytes]]) -> None:
    """Never faster by checking less: whatever the bytes, both paths give one indication.

    The reason may differ only when the bytes are both tampered and unreadable
    to pyHanko (HASH_FAILURE on the fast path, FORMAT_FAILURE on the full one).
    """
    from trust.indications import SubIndication
    signed, policy = signed_and_policy
    data = _mutate(signed, edits)
    fast = judge(extract_facts(data), policy, AT)
    full = judge(extract_facts(data, allow_fast=False), policy, AT)
    assert fast.indication is full.indication, (fast.to_json(), full.to_json())
    if fast.facts.parser == "fast" and full.sub_indication is not SubIndication.FORMAT_FAILURE:
        assert fast.sub_indication is full.sub_indication


_PKI = corpus.make_rsa_pki()
_TRUSTING = VerificationPolicy(trust_anchors=frozenset({_PKI.root_der}),
                               revocation=UnsafeNoRevocationCheck())
_SIGNED = corpus.sign_rsa(corpus.plain_pdf(), _PKI)
_GENUINE_CALLS = calls_made(verify_pdf, _SIGNED, _TRUSTING, AT)[1]


@pytest.fixture(scope="module")
def signed_and_policy() -> tuple[bytes, VerificationPolicy]:
    return _SIGNED, _TRUSTING
