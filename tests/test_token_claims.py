"""Claims: masking, invariants, the integer-keyed payload and hostile payloads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trust.token.claims import Claims, Grant, TokenKind, mask_id_number, mask_name, new_jti
from trust.token.errors import ClaimsError, TokenFormatError

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def make(**overrides: object) -> Claims:
    fields: dict[str, object] = {
        "kind": TokenKind.PRESENTATION,
        "issuer": "91310000MA1DEMO01X",
        "licence_id": "BL-1",
        "licence_type": "biz-licence",
        "holder_name": "张*明",
        "holder_id_last4": "002X",
        "valid_from": date(2026, 1, 1),
        "valid_until": None,
        "issued_at": T0,
        "expires_at": T0 + timedelta(seconds=60),
        "jti": bytes(12),
        "status_list": "SH-0",
        "status_index": 7,
    }
    fields.update(overrides)
    return Claims(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三明", "张*明"),
        ("欧阳小明", "欧**明"),
        ("张三", "张*"),
        ("李", "*"),
        (" 王五 ", "王*"),
        ("John Smith", "J********h"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_id_number() -> None:
    assert mask_id_number("11010519491231002x") == "002X"
    with pytest.raises(ClaimsError):
        mask_id_number("12-")


@pytest.mark.parametrize(
    "overrides",
    [
        {"holder_name": "张三明"},
        {"holder_name": "张三*明"},
        {"holder_id_last4": "11010519491231002X"},
        {"issued_at": datetime(2026, 6, 1, 2, 0)},
        {"expires_at": T0},
        {"expires_at": T0 + timedelta(minutes=6)},
        {"valid_until": date(2025, 1, 1)},
        {"jti": bytes(4)},
        {"status_index": 1 << 24},
        {"licence_id": ""},
        {"kind": TokenKind.DOCUMENT, "grant": Grant("C1", ("address",), T0, bytes(8))},
    ],
)
def test_refuses_invalid_claims(overrides: dict[str, object]) -> None:
    with pytest.raises(ClaimsError):
        make(**overrides)


def test_document_tokens_may_live_long() -> None:
    assert make(kind=TokenKind.DOCUMENT, expires_at=T0 + timedelta(days=3650)).kind == 0


@pytest.mark.parametrize(
    "grant",
    [None, Grant("GOV-HALL-07", ("holder_name", "address"), T0 + timedelta(minutes=10), new_jti())],
)
def test_round_trip_with_integer_keys(grant: Grant | None) -> None:
    claims = make(
        grant=grant, valid_until=date(2046, 1, 1), issued_at=T0 + timedelta(microseconds=5)
    )
    raw = cbor2.loads(claims.to_cbor())
    assert all(isinstance(k, int) for k in raw)
    assert raw[1] == claims.issuer and raw[6] == int(T0.timestamp()) and raw[-9] == 7
    assert Claims.from_cbor(claims.to_cbor()) == claims


def test_grant_field_names_are_checked() -> None:
    with pytest.raises(ClaimsError):
        Grant("C1", ("Address; drop",), T0, bytes(8))
    with pytest.raises(ClaimsError):
        Grant("C1", (), T0, bytes(8))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: {**m, 99: 1},  # unknown claim: fail closed
        lambda m: {k: v for k, v in m.items() if k != 7},
        lambda m: {**m, -1: 2},
        lambda m: {**m, 6: "2026-06-01"},
        lambda m: {**m, 6: -5},
        lambda m: {**m, 6: True},
        lambda m: {**m, -4: "张三明"},
        lambda m: {**m, -10: {1: "C", 2: "x", 3: 1, 4: bytes(8)}},
        lambda m: [m],
    ],
)
def test_from_cbor_refuses(mutate: object) -> None:
    raw = cbor2.loads(make().to_cbor())
    with pytest.raises(TokenFormatError):
        Claims.from_cbor(cbor2.dumps(mutate(raw)))  # type: ignore[operator]


_cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.floats(allow_nan=True),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.integers(-12, 12), inner, max_size=14)
    ),
    max_leaves=30,
)


@settings(max_examples=300)
@given(_cbor_values)
def test_fuzz_from_cbor_refuses_with_a_typed_error_or_round_trips(value: object) -> None:
    """Hostile payloads: TokenFormatError (nothing else escapes), or claims that re-encode stably."""
    try:
        claims = Claims.from_cbor(cbor2.dumps(value))
    except TokenFormatError:
        return
    wire = claims.to_cbor()
    assert Claims.from_cbor(wire) == claims and Claims.from_cbor(wire).to_cbor() == wire


_GENUINE_WIRE = make(grant=Grant("GOV-HALL-07", ("address",), T0 + timedelta(minutes=10), bytes(8))).to_cbor()


@settings(max_examples=300)
@given(st.integers(0, len(_GENUINE_WIRE) - 1), st.integers(1, 255))
def test_mutated_payload_is_refused_or_reads_as_what_it_encodes(position: int, mask: int) -> None:
    """A flipped byte is refused with a typed error, or decodes to claims whose own encoding
    reads back the same (no field silently dropped or invented on the way)."""
    mutated = bytearray(_GENUINE_WIRE)
    mutated[position] ^= mask
    try:
        claims = Claims.from_cbor(bytes(mutated))
    except TokenFormatError:
        return
    assert claims != Claims.from_cbor(_GENUINE_WIRE)  # a changed byte is a changed claim
    assert Claims.from_cbor(claims.to_cbor()) == claims


@settings(max_examples=200)
@given(
    licence_id=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    status_index=st.integers(0, 2**24 - 1),
    jti=st.binary(min_size=12, max_size=12),
    seconds=st.integers(0, 10**6),
    kind=st.sampled_from(list(TokenKind)),
)
def test_valid_claims_round_trip(licence_id: str, status_index: int, jti: bytes, seconds: int,
                                 kind: TokenKind) -> None:
    issued = T0 + timedelta(seconds=seconds)
    try:
        claims = make(kind=kind, licence_id=licence_id, status_index=status_index, jti=jti,
                      issued_at=issued, expires_at=issued + timedelta(seconds=60))
    except ClaimsError:
        return  # an invariant of the constructor (e.g. an id form); not this test's subject
    wire = claims.to_cbor()
    back = Claims.from_cbor(wire)
    assert back == claims and back.to_cbor() == wire


def test_naive_grant_expiry_refused() -> None:
    with pytest.raises(ClaimsError):
        replace(make(), grant=Grant("C1", ("a",), datetime(2026, 1, 1), bytes(8)))
