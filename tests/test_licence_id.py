"""Licence identifier v1: format, parse, and the check-character algorithms.

The MOD 37-2 and GB 32100 implementations are checked against published
values (ISO/IEC 7064 and ISBT 128 examples, the GB 32100 worked example,
real enterprises' codes) and against a direct weighted-sum computation, and
the detection guarantees are checked exhaustively per generated identifier.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trust.errors import InputError
from trust.licence_id import (
    MAX_SEQUENCE,
    AuthorityCodeError,
    LicenceId,
    LicenceIdCheckError,
    LicenceIdError,
    LicenceIdFormatError,
    format_licence_id,
    is_valid_uscc,
    mod37_2_check_char,
    parse_licence_id,
    uscc_check_char,
    verification_url,
)

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GB32100_EXAMPLE = "91350100M000100Y43"
# Published unified social credit codes (business registration records).
REAL_USCCS = ("914403001922038216", "91440300708461136T", "91330100799655058B", GB32100_EXAMPLE)


def independent_mod37_2(data: str) -> str:
    """ISO 7064 pure system as the standard states it: sum(a_i * 2^i) + c == 1 (mod 37),
    where position i counts from the right and the check character sits at i = 0."""
    n = len(data)
    total = sum(ALPHABET.index(ch) * pow(2, n - i, 37) for i, ch in enumerate(data))
    return next(c for c in ALPHABET if (total + ALPHABET.index(c)) % 37 == 1)


def test_published_mod37_2_values() -> None:
    assert mod37_2_check_char("A999914123458") == "J"  # ISBT 128 DIN example
    assert mod37_2_check_char("G123489654321") == "Y"  # ISO/IEC 7064 example


@given(st.text(alphabet=ALPHABET[:36], min_size=1, max_size=60))
def test_mod37_2_matches_weighted_sum(data: str) -> None:
    assert mod37_2_check_char(data) == independent_mod37_2(data)


@pytest.mark.parametrize(("data", "bad"), [("AB*C", "'*'"), ("12a4", "'a'"), ("X-Y", "'-'")])
def test_mod37_2_names_the_first_bad_character(data: str, bad: str) -> None:
    with pytest.raises(LicenceIdFormatError, match=bad):
        mod37_2_check_char(data)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_issue_date_reads_as_strptime_reads_it(digits: str) -> None:
    """The date field is read with int() slices (strptime was a tenth of a licence's
    checks): the same dates, the same refusals."""
    payload = f"L1BL91350100M000100Y43{digits}00000042"
    text = f"L1-BL-91350100M000100Y43-{digits}-00000042-{mod37_2_check_char(payload)}"
    try:
        expected: date | None = datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        expected = None
    if expected is None or expected.year < 1000:
        with pytest.raises(LicenceIdFormatError):
            parse_licence_id(text)
    else:
        assert parse_licence_id(text).issued_on == expected


def test_real_usccs_pass_and_any_changed_check_fails() -> None:
    for code in REAL_USCCS:
        assert is_valid_uscc(code)
        assert uscc_check_char(code[:17]) == code[17]
        for ch in USCC_ALPHABET:
            if ch != code[17]:
                assert not is_valid_uscc(code[:17] + ch)


@pytest.mark.parametrize(
    "bad", ["", "9135010", GB32100_EXAMPLE + "0", "91350100M000100Y4I", "9135O100M000100Y43"]
)
def test_malformed_uscc_is_invalid(bad: str) -> None:
    assert not is_valid_uscc(bad)


def test_format_and_parse_round_trip() -> None:
    text = format_licence_id("BL", GB32100_EXAMPLE, 42, date(2026, 1, 15))
    assert text == "L1-BL-91350100M000100Y43-20260115-00000042-3"
    parsed = parse_licence_id(text)
    assert parsed == LicenceId("BL", GB32100_EXAMPLE, date(2026, 1, 15), 42, "3")
    assert str(parsed) == text
    assert parse_licence_id(f"  {text.lower()} ").text == text  # case and spaces forgiven


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("B", GB32100_EXAMPLE, 1, date(2026, 1, 1)), LicenceIdFormatError),
        (("1BL", GB32100_EXAMPLE, 1, date(2026, 1, 1)), LicenceIdFormatError),
        (("TOOLONG", GB32100_EXAMPLE, 1, date(2026, 1, 1)), LicenceIdFormatError),
        (("BL", "91350100M000100Y44", 1, date(2026, 1, 1)), AuthorityCodeError),
        (("BL", "91350100M000100Y4", 1, date(2026, 1, 1)), AuthorityCodeError),
        (("BL", GB32100_EXAMPLE, 0, date(2026, 1, 1)), LicenceIdFormatError),
        (("BL", GB32100_EXAMPLE, MAX_SEQUENCE + 1, date(2026, 1, 1)), LicenceIdFormatError),
        (("BL", GB32100_EXAMPLE, True, date(2026, 1, 1)), LicenceIdFormatError),
        (("BL", GB32100_EXAMPLE, 1, datetime(2026, 1, 1)), LicenceIdFormatError),
    ],
)
def test_format_rejects_bad_parts(args: tuple, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        format_licence_id(*args)
    assert isinstance(info.value, InputError)
    assert info.value.code.startswith("licence_id.")


VALID = "L1-BL-91350100M000100Y43-20260115-00000042-3"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", LicenceIdFormatError),
        ("L1-BL", LicenceIdFormatError),
        (VALID + "-3", LicenceIdFormatError),
        ("X" * 10_000, LicenceIdFormatError),  # refused before any parsing work
        (VALID.replace("L1-", "L2-"), LicenceIdFormatError),
        (VALID[:-1] + "4", LicenceIdCheckError),
        ("L1-BL-91350100M000100Y43-20260231-00000042-3", LicenceIdFormatError),
        (
            "L1-BL-91350100M000100Y43-20260115-00000000-"
            + mod37_2_check_char("L1BL91350100M000100Y432026011500000000"),
            LicenceIdFormatError,
        ),
        # a USCC with a wrong GB 32100 check char, under a matching MOD 37-2 check char
        (
            "L1-BL-91350100M000100Y44-20260115-00000042-"
            + mod37_2_check_char("L1BL91350100M000100Y442026011500000042"),
            AuthorityCodeError,
        ),
        ("L1-BL-91350100M000100Y43-20260115-0000004２-3", LicenceIdFormatError),  # full-width digit
        # found by the property test below: year 0200 must not re-format to "200"
        ("L1-I4-04HMNKHCL0M11QA675-02000101-00000001-T", LicenceIdFormatError),
    ],
)
def test_parse_rejects(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_licence_id(text)


def test_parse_rejects_non_text() -> None:
    with pytest.raises(LicenceIdFormatError):
        parse_licence_id(b"L1-BL")  # type: ignore[arg-type]


uscc_17 = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)
ids = st.builds(
    lambda t, u, seq, day: format_licence_id(t, u + uscc_check_char(u), seq, day),
    st.from_regex(r"[A-Z][A-Z0-9]{1,5}", fullmatch=True),
    uscc_17,
    st.integers(1, MAX_SEQUENCE),
    st.dates(date(2000, 1, 1), date(2099, 12, 31)),
)


@settings(max_examples=40, deadline=None)
@given(ids)
def test_every_substitution_and_adjacent_transposition_is_detected(text: str) -> None:
    assert parse_licence_id(text).text == text
    for i, original in enumerate(text):
        for ch in ALPHABET + "-":
            if ch != original:
                with pytest.raises(LicenceIdError):
                    parse_licence_id(text[:i] + ch + text[i + 1 :])
    for i in range(len(text) - 1):
        if text[i] != text[i + 1]:
            with pytest.raises(LicenceIdError):
                parse_licence_id(text[:i] + text[i + 1] + text[i] + text[i + 2 :])


@given(st.text(max_size=80))
def test_arbitrary_text_gives_typed_error_or_valid_id(text: str) -> None:
    try:
        parsed = parse_licence_id(text)
    except LicenceIdError:
        return
    assert parse_licence_id(parsed.text) == parsed


def test_verification_url_carries_canonical_id() -> None:
    assert (
        verification_url("https://v.example.cn/", VALID.lower())
        == f"https://v.example.cn/v/{VALID}"
    )
    with pytest.raises(LicenceIdCheckError):
        verification_url("https://v.example.cn", VALID[:-1] + "4")


def test_documented_vectors_match() -> None:
    """Every row of the table in docs/licence-id.md formats to the printed identifier."""
    doc = (Path(__file__).parent.parent / "docs" / "licence-id.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("| ") and "`L1-" in line]
    assert len(rows) >= 4
    for row in rows:
        code, authority, sequence, day, text = (
            cell.strip(" `") for cell in row.strip("|").split("|")
        )
        assert format_licence_id(code, authority, int(sequence), date.fromisoformat(day)) == text
