"""Base45 against RFC 9285's examples, round trips, and hostile text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trust.token.base45 import ALPHABET, Base45Error, decode, encode

RFC_9285 = [
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
    (b"", ""),
]


@pytest.mark.parametrize(("raw", "text"), RFC_9285)
def test_rfc_examples(raw: bytes, text: str) -> None:
    assert encode(raw) == text
    assert decode(text) == raw


@given(st.binary(max_size=600))
def test_round_trip(data: bytes) -> None:
    text = encode(data)
    assert set(text) <= set(ALPHABET)
    assert len(text) == 3 * (len(data) // 2) + 2 * (len(data) % 2)
    assert decode(text) == data


@pytest.mark.parametrize("bad", ["A", "ABCD", "GGW", "GG", "abc", "AB\u00e9", "ZZZZZ"])
def test_rejects_non_canonical(bad: str) -> None:
    # GGW = 65536 and GG = 736 overflow their groups; lengths 1 and 4 dangle.
    with pytest.raises(Base45Error):
        decode(bad)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_fuzz_decode_is_total(text: str) -> None:
    try:
        data = decode(text)
    except Base45Error:
        return
    assert encode(data) == text  # whatever decodes is canonical


def _reference_decode(text: str) -> bytes | None:
    """RFC 9285 section 4.2 written out group by group (None: not valid Base45)."""
    digits = [ALPHABET.find(ch) for ch in text]
    if -1 in digits or len(digits) % 3 == 1:
        return None
    out = bytearray()
    for i in range(0, len(digits), 3):
        chunk = digits[i:i + 3]
        value = sum(d * 45 ** k for k, d in enumerate(chunk))
        if len(chunk) == 3:
            if value > 0xFFFF:
                return None
            out += value.to_bytes(2, "big")
        else:
            if value > 0xFF:
                return None
            out.append(value)
    return bytes(out)


@settings(max_examples=400)
@given(st.text(alphabet=ALPHABET, max_size=400))
def test_decode_agrees_with_the_group_by_group_definition(text: str) -> None:
    """The lane-parallel decoder against the RFC's definition, overflowing groups included."""
    expected = _reference_decode(text)
    if expected is None:
        with pytest.raises(Base45Error):
            decode(text)
    else:
        assert decode(text) == expected


@pytest.mark.parametrize("at", [0, 1, 7, 40])
def test_one_overflowing_group_among_valid_ones_is_refused(at: int) -> None:
    text = encode(bytes(range(100)))
    bad = text[:3 * at] + "GGW" + text[3 * at + 3:]  # 65536: one over 0xFFFF
    with pytest.raises(Base45Error, match="exceeds 0xFFFF"):
        decode(bad)
    assert decode(text[:3 * at] + "FGW" + text[3 * at + 3:])  # 65535 is fine


@settings(max_examples=20)
@given(st.binary(min_size=2800, max_size=4000))
def test_text_longer_than_any_token_decodes_too(data: bytes) -> None:
    """Past the lanes of the precomputed mask (a token's 4,096 characters) decode builds
    its own: no group may be dropped or left unchecked there."""
    text = encode(data)
    assert len(text) > 4096
    assert decode(text) == data == _reference_decode(text)
    bad = text[:-3] + "GGW" if len(text) % 3 == 0 else text[:-5] + "GGW" + text[-2:]
    with pytest.raises(Base45Error, match="exceeds 0xFFFF"):
        decode(bad)
