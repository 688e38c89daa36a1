"""Status list: bit layout, finality of revocation, signing, bombs and fuzz."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta, timezone

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors.qr import testpki
from trust.errors import SealTrustError
from trust.status import LicenceStatus, StatusList, StatusListError
from trust.token.cose import decode_sign1
from trust.token.errors import TokenFormatError

T0 = datetime(2026, 6, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=1)


@pytest.fixture(scope="module")
def pki() -> testpki.Pki:
    return testpki.build()


def test_bit_layout_is_msb_first_two_bits() -> None:
    lst = StatusList.empty("L", "I", 9, T0, T1, entry_bits=2).updated(
        {0: LicenceStatus.REVOKED, 3: LicenceStatus.SUSPENDED, 8: LicenceStatus.REVOKED}, T0, T1
    )
    assert lst.bits == bytes([0b01_00_00_10, 0, 0b01_000000])
    assert [lst.status(i) for i in (0, 1, 3, 8)] == [
        LicenceStatus.REVOKED,
        LicenceStatus.VALID,
        LicenceStatus.SUSPENDED,
        LicenceStatus.REVOKED,
    ]


def test_bit_layout_is_msb_first_four_bits_with_distinct_final_states() -> None:
    lst = StatusList.empty("L", "I", 5, T0, T1).updated(
        {0: LicenceStatus.REVOKED, 1: LicenceStatus.CANCELLED, 2: LicenceStatus.SUPERSEDED,
         3: LicenceStatus.SUSPENDED}, T0, T1)
    assert lst.entry_bits == 4
    assert lst.bits == bytes([0x14, 0x52, 0x00])
    assert [lst.status(i) for i in range(5)] == [
        LicenceStatus.REVOKED, LicenceStatus.CANCELLED, LicenceStatus.SUPERSEDED,
        LicenceStatus.SUSPENDED, LicenceStatus.VALID]
    back = StatusList.from_cbor(lst.to_cbor())
    assert back == lst and cbor2.loads(lst.to_cbor())[5] == 4


def test_two_bit_lists_cannot_carry_the_new_states() -> None:
    with pytest.raises(StatusListError):
        StatusList.empty("L", "I", 4, T0, T1, entry_bits=2).updated(
            {0: LicenceStatus.CANCELLED}, T0, T1)


def test_out_of_range_and_reserved_are_unknown() -> None:
    lst = StatusList("L", "I", T0, T1, 4, bytes([0b11_000000]), entry_bits=2)
    assert lst.status(0) is LicenceStatus.UNKNOWN
    assert lst.status(4) is LicenceStatus.UNKNOWN
    assert lst.status(-1) is LicenceStatus.UNKNOWN
    wide = StatusList("L", "I", T0, T1, 4, bytes([0x37, 0xF0]))  # 3, 7, 15 are reserved
    assert [wide.status(i) for i in range(4)] == [LicenceStatus.UNKNOWN] * 3 + [
        LicenceStatus.VALID]


def test_every_entry_value_reads_as_its_state_or_unknown() -> None:
    """All 16 four-bit values: the six settable states by value, the rest UNKNOWN."""
    wide = StatusList("L", "I", T0, T1, 16, bytes(range(0x01, 0x100, 0x22)))
    settable = {0, 1, 2, 4, 5, 6}
    assert [wide.status(v) for v in range(16)] == [
        LicenceStatus(v) if v in settable else LicenceStatus.UNKNOWN for v in range(16)]


@pytest.mark.parametrize("now", [
    T0 + timedelta(hours=5, microseconds=999_999),
    (T0 + timedelta(hours=5, microseconds=1)).astimezone(timezone(timedelta(hours=8))),
    T0 + timedelta(hours=5),
])
def test_age_counts_whole_seconds_in_any_zone(now: datetime) -> None:
    lst = StatusList.empty("L", "I", 4, T0, T1)
    assert lst.age(now) == timedelta(hours=5)


def test_expired_is_value_6_and_never_turns_valid_again() -> None:
    """Lifecycle jobs (issue 14): 6 is expired; it may still become revoked, cancelled or
    superseded, never valid or suspended; a 2-bit list cannot carry it."""
    lst = StatusList("L", "I", T0, T1, 2, bytes([0x60]))
    assert lst.status(0) is LicenceStatus.EXPIRED
    ended = StatusList.empty("L", "I", 4, T0, T1).updated({1: LicenceStatus.EXPIRED}, T0, T1)
    assert ended.bits[0] == 0x06
    for back in (LicenceStatus.VALID, LicenceStatus.SUSPENDED):
        with pytest.raises(StatusListError):
            ended.updated({1: back}, T0, T1)
    for final in (LicenceStatus.REVOKED, LicenceStatus.CANCELLED, LicenceStatus.SUPERSEDED):
        assert ended.updated({1: final}, T0, T1).status(1) is final
    with pytest.raises(StatusListError):
        StatusList.empty("L", "I", 4, T0, T1, entry_bits=2).updated(
            {1: LicenceStatus.EXPIRED}, T0, T1)


def test_revocation_is_final_and_suspension_is_not() -> None:
    lst = StatusList.empty("L", "I", 8, T0, T1)
    held = lst.updated({2: LicenceStatus.SUSPENDED}, T0, T1)
    assert held.updated({2: LicenceStatus.VALID}, T0, T1).status(2) is LicenceStatus.VALID
    revoked = lst.updated({2: LicenceStatus.REVOKED}, T0, T1)
    with pytest.raises(StatusListError):
        revoked.updated({2: LicenceStatus.VALID}, T0, T1)
    for final in (LicenceStatus.CANCELLED, LicenceStatus.SUPERSEDED):
        ended = lst.updated({2: final}, T0, T1)
        for other in (LicenceStatus.VALID, LicenceStatus.REVOKED, LicenceStatus.SUSPENDED):
            with pytest.raises(StatusListError):
                ended.updated({2: other}, T0, T1)
    with pytest.raises(StatusListError):
        lst.updated({8: LicenceStatus.REVOKED}, T0, T1)


def test_naive_and_inverted_times_refused() -> None:
    with pytest.raises(SealTrustError):
        StatusList.empty("L", "I", 8, datetime(2026, 1, 1), T1)
    with pytest.raises(StatusListError):
        StatusList.empty("L", "I", 8, T1, T0)


def test_large_list_compresses(pki: testpki.Pki) -> None:
    lst = StatusList.empty("L", testpki.ISSUER, 1_000_000, T0, T1).updated(
        {i * 9973: LicenceStatus.REVOKED for i in range(100)}, T0, T1
    )
    signed = lst.sign(pki.status_signer.key, pki.status_signer.cert)
    assert len(signed) < 2500
    payload = cbor2.loads(decode_sign1(signed, max_size=1 << 20).payload)
    bits = zlib.decompress(payload[7])  # independent inflate of the wire bytes
    assert (bits[9973 // 2] >> (4 - 4 * (9973 % 2))) & 15 == 1


def test_sign_and_verify(pki: testpki.Pki) -> None:
    trust_list = pki.trust_list()
    lst = pki.status_list(revoked=(5,))
    back = StatusList.verify(lst.sign(pki.status_signer.key, pki.status_signer.cert), trust_list)
    assert back == lst and back.status(5) is LicenceStatus.REVOKED
    assert back.age(T0 + timedelta(hours=30)) > timedelta(0)


def test_only_a_listed_status_signer_of_the_issuer(pki: testpki.Pki) -> None:
    trust_list = pki.trust_list()
    lst = pki.status_list()
    with pytest.raises(StatusListError):  # a token signer is not a status signer
        StatusList.verify(lst.sign(pki.token_signer.key, pki.token_signer.cert), trust_list)
    foreign = StatusList.empty("GD-0", testpki.ISSUER_B, 8, lst.issued_at, lst.next_update)
    with pytest.raises(StatusListError):  # Shanghai's signer speaks for Guangdong
        StatusList.verify(foreign.sign(pki.status_signer.key, pki.status_signer.cert), trust_list)
    signed = lst.sign(pki.status_signer.key, pki.status_signer.cert)
    env = decode_sign1(signed, max_size=1 << 20)
    forged = signed.replace(env.signature, bytes(64))
    with pytest.raises(StatusListError):
        StatusList.verify(forged, trust_list)


def test_trust_list_bytes_are_not_a_status_list(pki: testpki.Pki) -> None:
    signed = pki.trust_list().sign(pki.operator.key, pki.operator.cert)
    with pytest.raises(TokenFormatError):
        StatusList.verify(signed, pki.trust_list())


def _payload(over: dict[int, object] | None = None) -> bytes:
    raw: dict[int, object] = {
        1: "L",
        2: "I",
        3: int(T0.timestamp()),
        4: int(T1.timestamp()),
        5: 2,
        6: 8,
        7: zlib.compress(bytes(2)),
    }
    raw.update(over or {})
    return cbor2.dumps(raw)


def test_control_payload_parses() -> None:
    assert StatusList.from_cbor(_payload()).size == 8


@pytest.mark.parametrize(
    "over",
    [
        {7: zlib.compress(bytes(50_000_000))},  # zlib bomb: stops at the declared size
        {6: 1 << 24},  # declared huge, data tiny
        {6: (1 << 24) + 1},
        {7: b"not zlib"},
        {7: zlib.compress(bytes(3))},
        {7: zlib.compress(bytes(2))[:-3]},
        {7: zlib.compress(bytes(2)) + b"x"},
        {5: 1},
        {5: 3},
        {5: 8},
        {6: 0},
        {3: "yesterday"},
        {4: int(T0.timestamp())},
        {8: "extra"},
    ],
)
def test_malformed_payloads(over: dict[int, object]) -> None:
    with pytest.raises(SealTrustError):
        StatusList.from_cbor(_payload(over))


_FUZZ_PKI = testpki.build()
_FUZZ_TRUST = _FUZZ_PKI.trust_list()
_GENUINE = _FUZZ_PKI.status_list(revoked=(5,), suspended=(9,))
_SIGNED = _GENUINE.sign(_FUZZ_PKI.status_signer.key, _FUZZ_PKI.status_signer.cert)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_random_bytes_never_verify(blob: bytes) -> None:
    """Without the signer's key nothing verifies; the refusal is always a typed error."""
    with pytest.raises(SealTrustError):
        StatusList.verify(blob, _FUZZ_TRUST)


@settings(max_examples=300)
@given(st.integers(0, len(_SIGNED) - 1), st.integers(1, 255), st.integers(0, 3))
def test_mutated_list_never_verifies_as_anything_else(position: int, mask: int, cut: int) -> None:
    """A changed byte (or a cut) either is refused with a typed error or changes nothing we read.

    The threat: a relay flips one status bit (revoked -> valid) in a signed list.
    """
    blob = bytearray(_SIGNED)
    blob[position] ^= mask
    mutated = bytes(blob[: len(blob) - cut])
    try:
        back = StatusList.verify(mutated, _FUZZ_TRUST)
    except SealTrustError:
        return
    assert back == _GENUINE  # only bytes outside the signed content (the unprotected header)


@settings(max_examples=150)
@given(
    st.integers(1, 2000).flatmap(
        lambda size: st.tuples(
            st.just(size),
            st.dictionaries(
                st.integers(0, size - 1),
                st.sampled_from([LicenceStatus.REVOKED, LicenceStatus.SUSPENDED]),
                max_size=20,
            ),
        )
    )
)
def test_cbor_round_trip_is_stable(size_and_changes: tuple[int, dict[int, LicenceStatus]]) -> None:
    size, changes = size_and_changes
    lst = StatusList.empty("L", "I", size, T0, T1).updated(changes, T0, T1)
    wire = lst.to_cbor()
    back = StatusList.from_cbor(wire)
    assert back == lst and back.to_cbor() == wire
    for index in range(size):
        assert back.status(index) is changes.get(index, LicenceStatus.VALID)
