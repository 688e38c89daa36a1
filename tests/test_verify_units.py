"""Unit checks of the verification building blocks: dates, byte ranges, xref walking."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests import pdf_corpus as corpus
from verification.pdf.common import byte_range_error
from verification.pdf.dates import parse_pdf_date
from verification.pdf.locate import locate
from verification.pdf.xref import read_xref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("D:20261122074845Z", dt.datetime(2026, 11, 22, 7, 48, 45, tzinfo=dt.UTC)),
        ("D:20261122074845+08'00'",
         dt.datetime(2026, 11, 21, 23, 48, 45, tzinfo=dt.UTC)),
        ("D:20261122074845-05'30", dt.datetime(2026, 11, 22, 13, 18, 45, tzinfo=dt.UTC)),
        ("D:2026", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        ("D:20261322", None),
        ("D:20261122074845+24'00'", None),
        ("20261122", None),
    ],
)
def test_pdf_dates(text: str, expected: dt.datetime | None) -> None:
    assert parse_pdf_date(text) == expected


def test_pdf_dates_agree_with_pyhanko_when_it_has_an_offset() -> None:
    from pyhanko.pdf_utils.generic import parse_pdf_date as theirs

    for text in ("D:20261122074845Z", "D:20261122074845+08'00'", "D:19991231235959-11'00'"):
        assert parse_pdf_date(text) == theirs(text)


DATA = b"%PDF-1.7\n" + b"x" * 100 + b"<" + b"30" * 8 + b">" + b"y" * 50


@pytest.mark.parametrize(
    ("br", "contents", "fragment"),
    [
        ([0, 109, 127, 50], b"\x30" * 8, None),
        ([0, 109, 127], b"\x30" * 8, "four integers"),
        ([1, 109, 127, 49], b"\x30" * 8, "start at 0"),
        ([0, 109, 127, 51], b"\x30" * 8, "beyond the end"),
        ([0, 108, 127, 50], b"\x30" * 8, "not exactly"),
        ([0, 109, 127, 50], b"\x30" * 7, "does not match"),
        ([0, 109, 127, 50], b"\x31" * 8, "does not hold"),
        ([0, 109, 127, 50], None, "no string /Contents"),
    ],
)
def test_byte_range_rules(br: list[int], contents: bytes | None, fragment: str | None) -> None:
    error = byte_range_error(DATA, br, contents)
    if fragment is None:
        assert error is None
    else:
        assert error is not None and fragment in error


def test_xref_walk_and_its_refusals(signed: bytes) -> None:
    index = read_xref(signed)
    assert index is not None and index.sections == 2 and index.root == (4, 0)
    assert index.body(signed, 4, 0) is not None and b"/AcroForm" in index.body(signed, 4, 0)
    assert index.body(signed, 4, 1) is None  # wrong generation
    start = signed.rfind(b"startxref")
    offset = int(signed[start + 10 :].split()[0])
    prev = re.findall(rb"/Prev \d+", signed)[-1]
    looped = signed.replace(prev, b"/Prev %d" % offset)
    assert read_xref(looped) is None  # /Prev cycle
    assert read_xref(signed + b"junk") is None  # data after %%EOF
    assert read_xref(signed.replace(b"xref\n0 1\n", b"xref\n0 9\n")) is None  # short table


@pytest.fixture(scope="module")
def signed() -> bytes:
    return corpus.sign_rsa(corpus.plain_pdf(), corpus.make_rsa_pki())


@pytest.mark.parametrize(
    ("marker", "located"),
    [(b"/Neutral", True), (b"/ObjStm", False), (b"/Encrypt", False), (b"/XRefStm", False),
     (b"/Linearized", False), (b"/Byt#65Range", False), (b"/DocTimeStamp", False)],
)
def test_fast_path_declines_unusual_files(signed: bytes, marker: bytes, located: bool) -> None:
    # same length, inside the signed first range: only the shape matters here
    at = signed.index(b"/Producer")
    patched = signed[:at] + marker + signed[at + len(marker) :]
    assert (locate(patched) is not None) is located
