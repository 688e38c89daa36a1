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
