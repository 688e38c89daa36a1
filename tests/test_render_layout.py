"""The text-fitting rules of the layout engine: wrap, keep numbers whole, shrink, ellipsis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.render import register_font
from signing.render._fonts import text_width
from signing.render._text import fit_lines

MM = 72 / 25.4


@pytest.fixture(autouse=True, scope="module")
def _font() -> None:
    register_font()


def test_short_text_is_untouched() -> None:
    assert fit_lines("张三", 7, 30 * MM, 1) == (7, ["张三"])
    assert fit_lines("任意长度也不换行", 7, None, 1) == (7, ["任意长度也不换行"])


def test_wrap_keeps_house_numbers_whole() -> None:
    size, lines = fit_lines("天津市和平区人民路214号2号楼2单元1004室", 6, 40 * MM, 2)
    assert size == 6
    assert lines == ["天津市和平区人民路214号2号楼2单元", "1004室"]


def test_no_line_starts_with_punctuation() -> None:
    _, lines = fit_lines(
        "一二三四五六七八九十，一二三四五", 10, text_width("一二三四五六七八九十", 10), 3
    )
    assert all(not line.startswith("，") for line in lines)


def test_too_long_text_shrinks_then_ends_with_an_ellipsis() -> None:
    size, lines = fit_lines("技术开发、技术咨询；" * 30, 6, 40 * MM, 2)
    assert size < 6 and len(lines) == 2 and lines[-1].endswith("…")


def test_text_that_fits_only_at_the_smallest_size_is_whole() -> None:
    """Wrapped at 72% into the allowed lines, nothing is cut: no ellipsis either (the last
    line used to get one although every character was there)."""
    text = "测" * 66
    width = text_width("测" * 22, 10 * 0.72) + 0.5
    size, lines = fit_lines(text, 10, width, 3)
    assert abs(size - 7.2) < 1e-9
    assert "".join(lines) == text and not lines[-1].endswith("…")


def test_control_characters_and_newlines_never_reach_the_page() -> None:
    _, lines = fit_lines("北京\n朝阳\t区", 7, None, 1)
    assert lines == ["北京 朝阳 区"]


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet="张王李一二三四五六七八九十号楼单元室ABC0123456789，。、 ",
        min_size=1,
        max_size=200,
    ),
    st.floats(10, 200),
    st.integers(1, 6),
)
def test_every_line_fits_its_width(text: str, width_mm: float, max_lines: int) -> None:
    size, lines = fit_lines(text, 8, width_mm * MM, max_lines)
    assert 1 <= len(lines) <= max_lines
    assert 8 * 0.7 <= size <= 8
    for line in lines:
        # a line may exceed only by a single unbreakable punctuation mark
        assert text_width(line, size) <= width_mm * MM + text_width("，", size)
