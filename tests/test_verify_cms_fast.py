"""The fast CMS walk (verification/cms_fast.py) against the asn1crypto parse.

Whenever the walk answers, it must answer exactly what asn1crypto answers
(same SignedCms, hence the same facts and verdict); when it is unsure it
must say None, never raise. Checked on real issued licences (SM2, RSA, dual),
the pyHanko-made attack corpus and hypothesis-mutated CMS and PDF bytes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import pdf_corpus as corpus
from tests.licence_corpus import Licences, open_licences
from tests.test_verify_fuzz import _mutate  # the same edit model as the PDF fuzzing
from verification import UnsafeNoRevocationCheck, VerificationPolicy, cms, cms_fast, judge
from verification.cms import _der_length, _parse
from verification.errors import CmsFormatError
from verification.extract import extract_facts

_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f]+)>")
AT = datetime.now(UTC)  # the corpus is issued now; its certificates start today


def _cms_blobs(pdf: bytes) -> list[bytes]:
    """Every /Contents CMS of a file, trimmed of its zero padding."""
    out = []
    for m in _CONTENTS.finditer(pdf):
        raw = bytes.fromhex(m[1].decode())
        if raw[:1] == b"\x30" and len(raw) >= 2:  # emptied or damaged: nothing to walk
            out.append(raw[: _der_length(raw)])
    return out


def _slow(der: bytes, timestamp: bool) -> object:
    try:
        return _parse(der, timestamp)
    except Exception as exc:
        return type(exc)


def _same(der: bytes, timestamp: bool) -> bool:
    """The walk either defers (None) or equals the asn1crypto parse."""
    fast = cms_fast.walk_cms(der, timestamp)
    return fast is None or fast == _slow(der, timestamp)


@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    for licences in open_licences(tmp_path_factory.mktemp("cmsfast") / "home"):
        licences.issue("sm2", "sm2", number=1)
        licences.issue("rsa", "rsa", number=2)
        licences.issue("dual", "sm2+rsa", number=3)
        yield licences


@pytest.fixture(scope="module")
def attack_corpus() -> list[bytes]:
    rsa_pki, sm2_pki = corpus.make_rsa_pki(), corpus.make_sm2_pki()
    rsa = corpus.sign_rsa(corpus.plain_pdf(), rsa_pki)
    sm2 = corpus.sign_sm2(corpus.plain_pdf(), sm2_pki)
    return [
        rsa, sm2,
        corpus.sign_rsa(corpus.plain_pdf(), rsa_pki, pades=False),
        corpus.sign_rsa(corpus.plain_pdf(), rsa_pki, md="sha512"),
        corpus.add_doc_timestamp(rsa, corpus.make_tsa()),
        corpus.incremental_text_change(sm2), corpus.signature_wrapping(rsa),
        corpus.contents_emptied(sm2), corpus.signature_copied(rsa, sm2),
        corpus.truncated(sm2), corpus.flip_inside(sm2), corpus.flip_outside(rsa),
    ]


def test_walk_reads_real_licences_itself_and_equals_asn1crypto(lic: Licences) -> None:
    for name in ("sm2", "rsa"):
        (der,) = _cms_blobs(lic.pdfs[name])
        fast = cms_fast.walk_cms(der, False)
        assert fast is not None and fast == _parse(der, False)  # licences take the walk
        assert fast.timestamp_token is not None
        stamp = cms_fast.walk_cms(fast.timestamp_token, True)
        assert stamp is not None and stamp == _parse(fast.timestamp_token, True)
    for der in _cms_blobs(lic.pdfs["dual"]):
        assert _same(der, False)


def test_walk_equals_asn1crypto_on_the_attack_corpus(attack_corpus: list[bytes]) -> None:
    for pdf in attack_corpus:
        for der in _cms_blobs(pdf):
            assert _same(der, False) and _same(der, True)


def _reports(pdf: bytes, policy: VerificationPolicy, monkeypatch: pytest.MonkeyPatch) -> tuple[
        str, str]:
    fast = judge(extract_facts(pdf), policy, AT).to_json()
    with monkeypatch.context() as m:
        m.setattr(cms_fast, "walk_cms", lambda der, timestamp: None)
        slow = judge(extract_facts(pdf), policy, AT).to_json()
    return fast, slow


def test_reports_are_identical_with_and_without_the_walk(
    lic: Licences, attack_corpus: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    offline = lic.offline(AT)
    for pdf in [*lic.pdfs.values(), *attack_corpus]:
        fast, slow = _reports(pdf, offline, monkeypatch)
        assert fast == slow


EDITS = st.lists(
    st.tuples(st.integers(0, 1 << 16), st.integers(0, 4), st.binary(max_size=4)),
    min_size=1, max_size=3,
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=EDITS, which=st.sampled_from(["sm2", "rsa"]), token=st.booleans())
def test_mutated_cms_walk_defers_or_agrees(
    lic: Licences, edits: list[tuple[int, int, bytes]], which: str, token: bool
) -> None:
    (der,) = _cms_blobs(lic.pdfs[which])
    if token:
        parsed = _parse(der, False)
        assert parsed.timestamp_token is not None
        der = parsed.timestamp_token
    assert _same(_mutate(der, edits), token)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_mutated_licence_gets_the_same_report_with_and_without_the_walk(
    lic: Licences, edits: list[tuple[int, int, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = lic.pdfs["sm2"]
    m = _CONTENTS.search(pdf)
    assert m is not None
    room = len(m[1]) // 2
    der = _mutate(bytes.fromhex(m[1].decode()).rstrip(b"\x00"), edits)[:room]
    mutated = pdf[: m.start(1)] + der.ljust(room, b"\x00").hex().encode() + pdf[m.end(1) :]
    policy = VerificationPolicy(revocation=UnsafeNoRevocationCheck())
    fast, slow = _reports(mutated, policy, monkeypatch)
    assert fast == slow


def test_walk_never_raises_on_garbage() -> None:
    for blob in (b"", b"\x30", b"\x30\x80", b"\x30\x84\xff\xff\xff\xff", b"\x30\x00" * 8):
        assert cms_fast.walk_cms(blob, False) is None


_DATA_OID = bytes.fromhex("06092a864886f70d010701")
_MD_OID = bytes.fromhex("06092a864886f70d010904")


@pytest.mark.parametrize(("old", "nth", "new"), [
    (_DATA_OID, 1, bytes.fromhex("06092a864886f70d010702")),  # content-type attr not "data"
    (_MD_OID, 0, bytes.fromhex("06092a864886f70d010903")),  # duplicate content-type
    (_MD_OID, 0, bytes.fromhex("06092a864886f70d010963")),  # unknown attribute, no digest
])
def test_targeted_attribute_edits_defer_to_asn1crypto(lic: Licences, old: bytes, nth: int,
                                                      new: bytes) -> None:
    (der,) = _cms_blobs(lic.pdfs["sm2"])
    at = -1
    for _ in range(nth + 1):  # the signer's own attribute, not the token's
        at = der.index(old, at + 1)
    edited = der[:at] + new + der[at + len(old):]
    assert _slow(edited, False) is CmsFormatError  # the full parse rejects each edit
    assert cms_fast.walk_cms(edited, False) is None



@pytest.mark.parametrize("token", [False, True])
def test_attribute_that_is_not_a_sequence_defers(lic: Licences, token: bool) -> None:
    """Found by hypothesis in CI: an Attribute with a constructed non-SEQUENCE tag."""
    (der,) = _cms_blobs(lic.pdfs["sm2"])
    # the signer's first signed attribute, or the signature time-stamp attribute
    # (content-type is short: "30 len"; the token attribute is long: "30 82 hi lo")
    oid = bytes.fromhex("060b2a864886f70d010910020e" if token else "06092a864886f70d010903")
    at = der.index(oid) - (4 if token else 2)  # the Attribute SEQUENCE header
    assert der[at] == 0x30 and (der[at + 1] == 0x82) == token
    edited = der[:at] + b"\x20" + der[at + 1:]
    rejected = _slow(edited, False)
    assert isinstance(rejected, type) and issubclass(rejected, ValueError)  # asn1crypto refuses
    assert cms_fast.walk_cms(edited, False) is None


def _element_starts(der: bytes) -> list[int]:
    """The offset of every DER element of ``der``, depth first (constructed ones opened)."""
    from verification.der import Unusual, children, element

    starts: list[int] = []
    stack = [element(der, 0, len(der))]
    while stack:
        e = stack.pop()
        starts.append(e.start)
        if e.tag & 0x20:
            with contextlib.suppress(Unusual):  # primitive content that looks constructed
                stack.extend(children(der, e))
    return starts


@pytest.mark.parametrize("which", ["sm2", "rsa"])
def test_every_element_with_another_tag_defers_or_agrees(lic: Licences, which: str) -> None:
    """Each element's tag swapped for another class/form: the walk never answers differently.

    (A byte sweep over whole CMS blobs found two such gaps; this keeps the class covered.)
    """
    (der,) = _cms_blobs(lic.pdfs[which])
    token = _parse(der, False).timestamp_token
    assert token is not None
    for blob, is_token in ((der, False), (token, True)):
        for at in _element_starts(blob):
            for tag in {0x00, 0x04, 0x20, 0x30, 0x31, 0x80, 0xA0} - {blob[at]}:
                assert _same(blob[:at] + bytes([tag]) + blob[at + 1:], is_token), (at, tag)


def test_certificate_name_that_asn1crypto_cannot_humanise(lic: Licences) -> None:
    """Found by a long hypothesis run: a name value re-tagged as ObjectDescriptor made
    asn1crypto raise AttributeError inside the walk's signer lookup; it must defer."""
    from asn1crypto import x509

    from verification.cms import parse_cms

    (der,) = _cms_blobs(lic.pdfs["sm2"])
    signer = _parse(der, False).signer_cert
    pair = x509.Certificate.load(signer).subject.chosen[0][0]
    old = pair.dump()
    oid, value = pair["type"].dump(), pair["value"].dump()
    assert oid[:2] == b"\x06\x03"  # 2.5.4.x: make it an unknown 2.5.4.127, the value a tag 7
    new = old.replace(oid, oid[:-1] + b"\x7f").replace(value, b"\x07" + value[1:])
    at = der.index(signer) + signer.index(old)
    edited = der[:at] + new + der[at + len(old):]
    assert _same(edited, False)
    with pytest.raises(CmsFormatError):
        parse_cms(edited)


# ---------------------------------------------------------------- leaf values read directly
def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _tst_slow(raw: bytes) -> object:
    """What cms._parse reads from a TSTInfo, through asn1crypto."""
    from asn1crypto import tsp

    try:
        tst = tsp.TSTInfo.load(raw, strict=True)
        imprint = tst["message_imprint"]
        return (imprint["hash_algorithm"]["algorithm"].native,
                bytes(imprint["hashed_message"].native), tst["gen_time"].native)
    except Exception as exc:
        return type(exc)


def _tst_fast(raw: bytes) -> object:
    from verification.der import Unusual

    try:
        return cms_fast._tst_info(raw)
    except (Unusual, *cms._PARSE_ERRORS):
        return None


@pytest.fixture(scope="module")
def tst_fields(lic: Licences) -> list[bytes]:
    """The children of a real TSTInfo, as DER (version .. tsa)."""
    from verification.der import children, element

    (der,) = _cms_blobs(lic.pdfs["sm2"])
    token = _parse(der, False).timestamp_token
    assert token is not None
    raw = _parse(token, True).tst_info
    assert raw is not None
    return [raw[e.start:e.end] for e in children(raw, element(raw, 0, len(raw)))]


def test_plain_tst_info_is_read_directly_and_equals_asn1crypto(tst_fields: list[bytes]) -> None:
    raw = _tlv(0x30, b"".join(tst_fields))
    assert _tst_fast(raw) is not None and _tst_fast(raw) == _tst_slow(raw)


GEN_TIMES = [b"20261204211025Z", b"20261204211025.5Z", b"202612042110Z", b"2026120421Z",
             b"20261204211025+0800", b"20261204211025", b"00001204211025Z", b"20261304211025Z",
             b"20261204246025Z", b"2026120421102\xd9Z", b"20261204211025Z\n", b""]


@pytest.mark.parametrize("gen_time", GEN_TIMES)
def test_gen_time_forms_defer_or_agree(tst_fields: list[bytes], gen_time: bytes) -> None:
    fields = list(tst_fields)
    fields[4] = _tlv(0x18, gen_time)
    raw = _tlv(0x30, b"".join(fields))
    fast, slow = _tst_fast(raw), _tst_slow(raw)
    assert fast is None or fast == slow, (fast, slow)
    assert (fast is not None) is (gen_time == b"20261204211025Z")


def _optional_layouts(tst_fields: list[bytes]) -> Iterator[tuple[list[bytes], bool]]:
    """(children, whether the walk reads them itself) for optional-field layouts."""
    required, accuracy, nonce, tsa = tst_fields[:5], tst_fields[5], tst_fields[6], tst_fields[7]
    ordering, extensions = _tlv(0x01, b"\xff"), _tlv(0xA1, _tlv(0x30, b""))
    yield required, True
    yield [*required, accuracy, ordering, nonce, tsa, extensions], True
    yield [*required, nonce, tsa], True
    yield [*required, extensions], True
    yield [*required, nonce, accuracy], False  # out of order
    yield [*required, nonce, nonce], False  # twice
    yield [*required, accuracy, _tlv(0x04, b"x")], False  # unknown
    yield [*required, _tlv(0xA2, b"")], False
    yield required[:4], False  # genTime missing
    yield [required[1], required[0], *required[2:]], False
    alg_null = _tlv(0x30, _tlv(0x30, _tlv(0x06, bytes.fromhex("2a811ccf55018311")) + b"\x05\x00")
                    + _tlv(0x04, b"\x01" * 32))
    yield [*required[:2], alg_null, *required[3:]], True
    alg_other = _tlv(0x30, _tlv(0x30, _tlv(0x06, bytes.fromhex("2a811ccf55018311")) + b"\x04\x00")
                     + _tlv(0x04, b"\x01" * 32))
    yield [*required[:2], alg_other, *required[3:]], False
    constructed = _tlv(0x30, _tlv(0x30, _tlv(0x06, bytes.fromhex("2a811ccf55018311")))
                       + _tlv(0x24, _tlv(0x04, b"\x01" * 32)))
    yield [*required[:2], constructed, *required[3:]], False


def test_optional_field_layouts_defer_or_agree(tst_fields: list[bytes]) -> None:
    for fields, direct in _optional_layouts(tst_fields):
        raw = _tlv(0x30, b"".join(fields))
        fast, slow = _tst_fast(raw), _tst_slow(raw)
        assert fast is None or fast == slow, (fields, fast, slow)
        assert (fast is not None) is direct, fields


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_mutated_tst_info_defers_or_agrees(tst_fields: list[bytes],
                                           edits: list[tuple[int, int, bytes]]) -> None:
    raw = _mutate(_tlv(0x30, b"".join(tst_fields)), edits)
    fast = _tst_fast(raw)
    assert fast is None or fast == _tst_slow(raw)


def _outcome(fn: object, raw: bytes) -> object:
    from verification.der import Unusual

    assert callable(fn)
    try:
        return fn(raw)
    except Unusual:
        return "defer"
    except (CmsFormatError, *cms._PARSE_ERRORS):
        return "error"


STATUS_REFS = [
    bytes.fromhex("3008 0c03736c31 020100"), bytes.fromhex("3009 0c03736c31 02020005"),
    bytes.fromhex("3008 0c03736c31 0201ff"), bytes.fromhex("3007 0c03736c31 0200"),
    bytes.fromhex("3008 2c03736c31 020100"), bytes.fromhex("3008 0c03736cff 020100"),
    bytes.fromhex("3005 0c00 020107"), bytes.fromhex("3009 0c03736c31 020100 00"),
    bytes.fromhex("3081 08 0c03736c31 020100"), bytes.fromhex("3008 0c03736c31 0a0100"),
    bytes.fromhex("3108 0c03736c31 020100"), bytes.fromhex("300e 0c03736c31 02070100000000000000"),
    bytes.fromhex("3028 0c21") + b"x" * 33 + bytes.fromhex("020101"),
    bytes.fromhex("3007 0c03736c31 0201"), bytes.fromhex("3005 0c03736c31"),
]
LICENCE_IDS = [
    _tlv(0x0C, b"L1-BL-11330100MB0000001R-20261205-00000001-H"), _tlv(0x0C, b""),
    _tlv(0x0C, b"x" * 65), _tlv(0x0C, b"x" * 200), _tlv(0x0C, b"a\nb"), _tlv(0x0C, b"\xff"),
    _tlv(0x2C, _tlv(0x0C, b"ab")), _tlv(0x13, b"ab"), _tlv(0x0C, b"ab") + b"\x00",
    bytes.fromhex("0c8102") + b"ab", _tlv(0x0C, "证照".encode()),
]


@pytest.mark.parametrize("raw", STATUS_REFS)
def test_status_reference_defers_or_agrees(raw: bytes) -> None:
    fast, slow = _outcome(cms_fast._status_index, raw), _outcome(cms._status_index, raw)
    assert fast in (slow, "defer"), (fast, slow)
    if isinstance(slow, int) and raw[1] < 0x80 and raw[2] == 0x0C:
        assert fast == slow  # the plain encoding is read directly


@pytest.mark.parametrize("raw", LICENCE_IDS)
def test_licence_id_defers_or_agrees(raw: bytes) -> None:
    fast, slow = _outcome(cms_fast._licence_id, raw), _outcome(cms._licence_id, raw)
    assert fast == slow or (fast == "defer" and slow == "error"), (fast, slow)
