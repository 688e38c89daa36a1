"""Trust list: operator signature, rollback, issuer links, roles and scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors.qr import testpki
from tests.vectors.qr.testpki import CLOCK, ISSUER, ISSUER_B
from trust.errors import SealTrustError
from trust.token.cose import kid_of
from trust.token.errors import TokenFormatError, TokenTrustError
from trust.trustlist import Role, RollbackError, TrustEntry, TrustList


@pytest.fixture(scope="module")
def pki() -> testpki.Pki:
    return testpki.build()


def test_round_trip_and_lookup(pki: testpki.Pki) -> None:
    tl = pki.trust_list()
    back = TrustList.verify(tl.sign(pki.operator.key, pki.operator.cert), [pki.operator.cert])
    assert back == tl
    (entry,) = back.candidates(kid_of(pki.token_signer.cert), Role.TOKEN_SIGNER)
    assert entry.issuer == ISSUER and entry.allows(testpki.LICENCE_TYPE)
    assert not entry.allows("driving-licence")
    assert back.candidates(kid_of(pki.token_signer.cert), Role.STATUS_SIGNER) == ()
    assert back.age(CLOCK) == timedelta(hours=1)


@pytest.mark.parametrize("late", [timedelta(microseconds=999_999), timedelta(0)])
@pytest.mark.parametrize("zone", [UTC, timezone(timedelta(hours=8))])
def test_age_counts_whole_seconds_in_any_zone(pki: testpki.Pki, late: timedelta,
                                              zone: timezone) -> None:
    assert pki.trust_list().age((CLOCK + late).astimezone(zone)) == timedelta(hours=1)


def test_rollback_is_refused(pki: testpki.Pki) -> None:
    signed = pki.trust_list(sequence=7).sign(pki.operator.key, pki.operator.cert)
    assert TrustList.verify(signed, [pki.operator.cert], previous_sequence=7).sequence == 7
    with pytest.raises(RollbackError):
        TrustList.verify(signed, [pki.operator.cert], previous_sequence=8)


def test_wrong_anchor_or_tampering(pki: testpki.Pki) -> None:
    signed = pki.trust_list().sign(pki.operator.key, pki.operator.cert)
    with pytest.raises(TokenTrustError):
        TrustList.verify(signed, [pki.ca.cert])
    with pytest.raises(TokenTrustError):
        TrustList.verify(signed, [])
    tampered = signed.replace(b"CN-44", b"CN-45")
    with pytest.raises(TokenTrustError):
        TrustList.verify(tampered, [pki.operator.cert])


def test_operator_must_be_valid_at_issue_time(pki: testpki.Pki) -> None:
    old = pki.trust_list(issued_at=datetime(2025, 6, 1, tzinfo=UTC))
    with pytest.raises(TokenTrustError):
        TrustList.verify(old.sign(pki.operator.key, pki.operator.cert), [pki.operator.cert])


def test_signer_must_be_issued_by_a_listed_ca_of_its_issuer(pki: testpki.Pki) -> None:
    ca = TrustEntry(ISSUER, "CN-31", Role.ISSUER_CA, ("*",), pki.ca.cert)
    with pytest.raises(TokenTrustError):  # no CA at all
        TrustList(
            1,
            CLOCK,
            CLOCK + timedelta(days=1),
            (TrustEntry(ISSUER, "CN-31", Role.TOKEN_SIGNER, ("*",), pki.token_signer.cert),),
        )
    with pytest.raises(TokenTrustError):  # rogue signer under a real CA entry
        TrustList(
            1,
            CLOCK,
            CLOCK + timedelta(days=1),
            (ca, TrustEntry(ISSUER, "CN-31", Role.TOKEN_SIGNER, ("*",), pki.rogue_signer.cert)),
        )
    with pytest.raises(TokenTrustError):  # Guangdong's signer listed as Shanghai's
        TrustList(
            1,
            CLOCK,
            CLOCK + timedelta(days=1),
            (
                ca,
                TrustEntry(ISSUER_B, "CN-44", Role.ISSUER_CA, ("*",), pki.ca_b.cert),
                TrustEntry(ISSUER, "CN-31", Role.TOKEN_SIGNER, ("*",), pki.token_signer_b.cert),
            ),
        )


@pytest.mark.parametrize(
    "build",
    [
        lambda p: TrustList(-1, CLOCK, CLOCK + timedelta(days=1), ()),
        lambda p: TrustList(1, CLOCK, CLOCK, ()),
        lambda p: TrustList(1, datetime(2026, 1, 1), CLOCK, ()),
        lambda p: TrustEntry("", "CN-31", Role.ISSUER_CA, ("*",), p.ca.cert),
        lambda p: TrustEntry(ISSUER, "CN-31", Role.ISSUER_CA, (), p.ca.cert),
        lambda p: TrustEntry(ISSUER, "CN-31", Role.ISSUER_CA, ("*",), b"\x30\x00"),
    ],
)
def test_invalid_lists_cannot_be_built(pki: testpki.Pki, build: object) -> None:
    with pytest.raises(SealTrustError):
        build(pki)  # type: ignore[operator]


def test_status_list_bytes_are_not_a_trust_list(pki: testpki.Pki) -> None:
    signed = pki.status_list().sign(pki.status_signer.key, pki.status_signer.cert)
    with pytest.raises(TokenFormatError):
        TrustList.verify(signed, [pki.operator.cert])


_FUZZ_PKI = testpki.build()
_ANCHOR = _FUZZ_PKI.operator.cert
_GENUINE = _FUZZ_PKI.trust_list()
_SIGNED = _GENUINE.sign(_FUZZ_PKI.operator.key, _FUZZ_PKI.operator.cert)


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_random_bytes_never_verify(blob: bytes) -> None:
    """Without the operator's key nothing verifies; the refusal is always a typed error."""
    with pytest.raises(SealTrustError):
        TrustList.verify(blob, [_ANCHOR])


@settings(max_examples=300)
@given(st.integers(0, len(_SIGNED) - 1), st.integers(1, 255), st.integers(0, 3))
def test_mutated_list_never_verifies_as_anything_else(position: int, mask: int, cut: int) -> None:
    """A changed byte (or a cut) is refused with a typed error or changes nothing we read.

    The threat: a relay swaps a certificate or a region code in a signed trust list.
    """
    blob = bytearray(_SIGNED)
    blob[position] ^= mask
    mutated = bytes(blob[: len(blob) - cut])
    try:
        back = TrustList.verify(mutated, [_ANCHOR])
    except SealTrustError:
        return
    assert back == _GENUINE


def test_cbor_round_trip_is_stable() -> None:
    wire = _GENUINE.to_cbor()
    back = TrustList.from_cbor(wire)
    assert back == _GENUINE and back.to_cbor() == wire
