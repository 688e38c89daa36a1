"""The fast-path locator (verification/pdf/locate.py) against a forward scan of every byte.

``locate`` reads the signature from the end and runs the whole-file rules last,
skipping the /Contents hex string and (for the rules about text outside
streams) stream data. ``_forward_locate`` below is the scan it replaced, kept
as the reference: both must give the same answer on every input (an
exception counts as None: the caller then takes the full path either way).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import astuple
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import pdf_corpus as corpus
from tests.licence_corpus import Licences, open_licences
from tests.test_verify_fuzz import _mutate
from verification.pdf import locate as loc
from verification.pdf.xref import read_xref

# ---------------------------------------------------------------- the reference
_UNUSUAL: Final = re.compile(rb"/(?:ObjStm|Encrypt|Linearized|XRefStm|DocTimeStamp)")


def _forward_escape(data: bytes) -> bool:
    pos = 0
    for m in loc._STREAM.finditer(data):
        if m.start() < pos:
            continue  # "stream" inside data already skipped
        if loc._NAME_ESCAPE.search(data, pos, m.start()):
            return True
        header = data.rfind(b" obj", pos, m.start())
        lengths = list(loc._DIRECT_LENGTH.finditer(data, max(header, pos), m.start()))
        if header < 0 or len(lengths) != 1:
            return True
        end = m.end() + int(lengths[0].group(1))
        tail = loc._ENDSTREAM.match(data, end)
        if end > len(data) or tail is None:
            return True
        pos = tail.end()
    return loc._NAME_ESCAPE.search(data, pos) is not None


def _forward_locate(data: bytes) -> loc.Located | None:
    if not data.startswith(b"%PDF-") or not data.rstrip(b"\r\n\t \x00").endswith(b"%%EOF"):
        return None
    if data.count(b"/ByteRange") != 1 or _UNUSUAL.search(data):
        return None
    if _forward_escape(data):
        return None
    br_at = data.rfind(b"/ByteRange")
    m = loc._BYTE_RANGE.match(data, br_at)
    if m is None:
        return None
    a, b, c, d = (int(x) for x in m.groups())
    if a != 0 or not 0 < b < c or c + d != len(data):
        return None
    if data[b : b + 1] != b"<" or data[c - 1 : c] != b">":
        return None
    hex_part = data[b + 1 : c - 1]
    try:
        contents = bytes.fromhex(hex_part.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    if len(contents) * 2 != len(hex_part):
        return None
    if not data[:b].rstrip().endswith(b"/Contents"):
        return None
    obj = loc._enclosing_object(data, b, c)
    if obj is None:
        return None
    num, gen, start, end = obj
    if not start <= br_at < end:
        return None
    dict_bytes = data[start:b] + data[c:end]
    if dict_bytes.count(b"/Contents") != 1:
        return None
    kind = loc._TYPE.search(dict_bytes)
    if kind is not None and kind.group(1) != b"Sig":
        return None
    sub = loc._SUBFILTER.search(dict_bytes)
    if sub is None:
        return None
    claimed = loc._claimed_time(dict_bytes)
    if isinstance(claimed, bool):
        return None
    index = read_xref(data)
    if index is None or index.offsets.get(num) != (start, gen):
        return None
    field_name = loc._field_name(data, index, num, gen)
    if field_name is None:
        return None
    revisions = index.sections
    if data.rfind(b"%%EOF", 0, b) > start or data.count(b"%%EOF") != revisions:
        return None
    return loc.Located(
        byte_range=(a, b, c, d),
        contents=contents,
        field_name=field_name,
        subfilter="/" + sub.group(1).decode("ascii"),
        claimed_time=claimed,
        revisions=revisions,
    )


def _answer(fn: Any, data: bytes) -> tuple[object, ...] | None:
    try:
        found = fn(data)
    except Exception:  # extract_facts treats a raise as "take the full path"
        return None
    return None if found is None else astuple(found)


def _agree(data: bytes) -> bool:
    return _answer(loc.locate, data) == _answer(_forward_locate, data)


# ---------------------------------------------------------------- corpora
@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    for licences in open_licences(tmp_path_factory.mktemp("locate") / "home"):
        licences.issue("sm2", "sm2", number=1)
        licences.issue("rsa", "rsa", number=2)
        licences.issue("dual", "sm2+rsa", number=3)
        yield licences


@pytest.fixture(scope="module")
def files(lic: Licences) -> dict[str, bytes]:
    rsa_pki = corpus.make_rsa_pki()
    signed = corpus.sign_rsa(corpus.plain_pdf(), rsa_pki)
    out = dict(lic.pdfs)
    out["pyhanko_rsa"] = signed
    out["pyhanko_sm2"] = corpus.sign_sm2(corpus.plain_pdf(), corpus.make_sm2_pki())
    out["adbe"] = corpus.sign_rsa(corpus.plain_pdf(), rsa_pki, pades=False)
    out["decoy"] = corpus.sign_rsa(corpus.with_bogus_signature_field(corpus.plain_pdf()), rsa_pki)
    out["doc_timestamp"] = corpus.add_doc_timestamp(signed, corpus.make_tsa())
    out.update({name: attack(signed) for name, attack in corpus.ATTACKS.items()})
    return out


def test_locator_agrees_with_the_forward_scan_on_the_corpus(files: dict[str, bytes]) -> None:
    located = set()
    for name, data in files.items():
        assert _agree(data), name
        if loc.locate(data) is not None:
            located.add(name)
    assert {"sm2", "rsa", "pyhanko_rsa", "pyhanko_sm2", "adbe"} <= located
    assert "dual" not in located and "decoy" not in located


# Names, keywords and delimiters the locator's rules look at.
TOKENS: Final = [
    b"/ByteRange", b"/ObjStm", b"/Encrypt", b"/Linearized", b"/XRefStm", b"/DocTimeStamp",
    b"%%EOF", b"/A#41", b"#41", b">>stream\n", b">> stream\r\n", b"endstream", b"\nendstream",
    b" obj", b"endobj", b"/Length 9", b"/Length 2 0 R", b"/Contents", b"/Type /Sig",
    b"/Type/Annot", b"/Kids", b"/Parent", b"xref", b"trailer", b"startxref", b"/Prev 0",
    b"<", b">", b"<<", b">>", b"(", b"\\", b"\n", b" ", b"\x00", b"0",
]


def _splice(data: bytes, edits: list[tuple[int, bool, bytes]], tail: int = 4096) -> bytes:
    """Overwrite tokens in place (the byte range stays valid), near the end or anywhere."""
    out = bytearray(data)
    for pos, near_end, token in edits:
        span = tail if near_end else len(out)
        at = len(out) - span + pos % span
        out[at : at + len(token)] = token
    return bytes(out[: len(data)])


SPLICES = st.lists(
    st.tuples(st.integers(0, 1 << 20), st.booleans(), st.sampled_from(TOKENS)),
    min_size=1, max_size=4,
)
EDITS = st.lists(
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 8), st.binary(max_size=8)),
    min_size=1, max_size=4,
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["sm2", "rsa", "pyhanko_rsa", "adbe"]), edits=SPLICES)
def test_spliced_tokens_give_the_same_answer(files: dict[str, bytes], which: str,
                                            edits: list[tuple[int, bool, bytes]]) -> None:
    assert _agree(_splice(files[which], edits))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["sm2", "pyhanko_sm2"]), edits=EDITS)
def test_mutated_files_give_the_same_answer(files: dict[str, bytes], which: str,
                                            edits: list[tuple[int, int, bytes]]) -> None:
    assert _agree(_mutate(files[which], edits))


def _inside_stream(data: bytes, token: bytes) -> bytes:
    """``token`` written into the largest stream's data (the byte range stays valid)."""
    spans = []
    for m in loc._STREAM.finditer(data):
        length = loc._DIRECT_LENGTH.findall(data, data.rfind(b" obj", 0, m.start()), m.start())
        if len(length) == 1:
            spans.append((int(length[0]), m.end()))
    size, start = max(spans)
    at = start + size // 2
    return data[:at] + token + data[at + len(token):]


@pytest.mark.parametrize(("token", "located"), [
    (b"/ByteRange", False), (b"/ObjStm", False), (b"/Encrypt", False), (b"%%EOF", False),
    (b"/A#41", True), (b"#41", True), (b"endstream", True), (b"<<>>", True),
])
def test_stream_data_is_skipped_only_for_the_escape_rule(files: dict[str, bytes], token: bytes,
                                                         located: bool) -> None:
    for name in ("sm2", "pyhanko_rsa"):
        data = _inside_stream(files[name], token)
        assert data != files[name]
        assert _agree(data)
        assert (loc.locate(data) is not None) is located, (name, token)


# ---------------------------------------------------------------- the helpers alone
PIECES: Final = [*TOKENS, b"stream\n", b"1 0 obj", b"2 0 obj\n<</Length 3>>stream\nabc\nendstream",
                 b"/Length 0>>stream\n\nendstream", b"x", b"/", b"%", b"\r\n"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=12).map(b"".join)
HEX = st.text("0123456789abcdefABCDEF", max_size=12).map(lambda s: s.encode())


@settings(max_examples=1500, deadline=None)
@given(before=TEXT, hex_digits=HEX, after=TEXT, revisions=st.integers(0, 3))
def test_whole_file_rules_skip_the_hex_string_exactly(before: bytes, hex_digits: bytes,
                                                      after: bytes, revisions: int) -> None:
    """Any "<hex>" gap: the rules read around it and answer as a scan of every byte."""
    data = before + b"<" + hex_digits + b">" + after
    gap = (len(before), len(before) + len(hex_digits) + 2)
    assert loc._escape_outside_streams(data, gap) == _forward_escape(data)
    forward = (data.count(b"/ByteRange") == 1 and not _UNUSUAL.search(data)
               and data.count(b"%%EOF") == revisions and not _forward_escape(data))
    assert loc._plain_file(data, gap, revisions) == forward


@settings(max_examples=500, deadline=None)
@given(head=st.binary(max_size=80), spaces=st.text(" \t\r\n\x0b\x0c", max_size=150),
       name=st.sampled_from([b"/Contents", b"Contents", b"/Content", b""]))
def test_contents_key_before_the_gap(head: bytes, spaces: str, name: bytes) -> None:
    data = head + name + spaces.encode() + b"<00>"
    b = data.rindex(b"<")
    assert loc._ends_with_contents(data, b) == data[:b].rstrip().endswith(b"/Contents")


@pytest.mark.parametrize("data", [
    b"", b"%PDF-1.7\n%%EOF", b"%PDF-1.7\n/ByteRange [0 1 2 3]\n%%EOF",
    b"%PDF-1.7\n/ByteRange [0 10 12 3]<>\n%%EOF", b"%PDF-1.7 /ByteRange [0 20 22 0]<0>",
])
def test_small_inputs(data: bytes) -> None:
    assert loc.locate(data) is None and _agree(data)

