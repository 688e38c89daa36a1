"""COSE_Sign1 envelope: per-algorithm signatures, byte layout, strict decoding."""

from __future__ import annotations

import cbor2
import pytest
from gmssl import sm3 as gm_sm3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trust.keys import SoftwareKey
from trust.token import cose
from trust.token.cose import (
    ALG_ES256,
    ALG_RS256,
    ALG_SM2_SM3,
    Sign1,
    _bstr_head,
    decode_sign1,
    kid_of,
    sign1,
    verify_sign1,
)
from trust.token.errors import CoseFormatError

KID = bytes.fromhex("0102030405060708")


@pytest.fixture(scope="module", params=["sm2", "ecdsa-p256", "rsa-2048"])
def key(request: pytest.FixtureRequest) -> SoftwareKey:
    return SoftwareKey.generate(request.param)


def test_sign_verify_each_algorithm(key: SoftwareKey) -> None:
    blob = sign1(b"payload", key, kid=KID)
    msg = decode_sign1(blob)
    expected_alg = {"sm2": ALG_SM2_SM3, "ecdsa-p256": ALG_ES256, "rsa-2048": ALG_RS256}
    assert msg.alg == expected_alg[key.algorithm]
    assert msg.kid == KID
    assert verify_sign1(msg, key.public_key_der())
    assert not verify_sign1(msg, SoftwareKey.generate(key.algorithm).public_key_der())
    tampered = decode_sign1(blob.replace(b"payload", b"paylaod"))
    assert tampered.signature == msg.signature
    assert not verify_sign1(tampered, key.public_key_der())


def test_algorithm_confusion_is_refused() -> None:
    sm2_key, p256 = SoftwareKey.generate("sm2"), SoftwareKey.generate("ecdsa-p256")
    msg = decode_sign1(sign1(b"x", sm2_key, kid=KID))
    assert not verify_sign1(msg, p256.public_key_der())
    relabelled = decode_sign1(
        cbor2.dumps(
            cbor2.CBORTag(18, [cbor2.dumps({1: ALG_ES256, 4: KID}), {}, msg.payload, msg.signature])
        )
    )
    assert not verify_sign1(relabelled, sm2_key.public_key_der())


def test_wire_layout_matches_rfc_9052() -> None:
    """Protected header and Sig_structure bytes written out by hand."""
    key = SoftwareKey.generate("sm2")
    msg = decode_sign1(sign1(b"\x01\x02", key, kid=KID))
    # {1: -65537, 4: h'0102..08'}: -65537 is major type 1, 4-byte argument 65536.
    assert msg.protected == bytes.fromhex("a2013a00010000") + bytes.fromhex("0448") + KID
    expected = (
        b"\x84"
        + b"\x6aSignature1"
        + bytes([0x40 + len(msg.protected)])
        + msg.protected
        + b"\x40"
        + b"\x42\x01\x02"
    )
    assert msg.to_be_signed() == expected
    assert sign1(b"\x01\x02", key, kid=KID)[:2] == bytes.fromhex("d284")  # tag 18, array(4)


@settings(max_examples=300)
@given(st.binary(max_size=300), st.one_of(
    st.binary(max_size=300),
    st.sampled_from([bytes(n) for n in (255, 256, 65535, 65536)])))
def test_sig_structure_is_what_cbor2_encodes(protected: bytes, payload: bytes) -> None:
    """The hand-written Sig_structure against cbor2's encoding of the RFC 9052 array,
    byte strings with 1-, 2- and 3-byte heads."""
    msg = Sign1(protected, ALG_SM2_SM3, KID, None, payload, bytes(64))
    assert msg.to_be_signed() == cbor2.dumps(["Signature1", protected, b"", payload])


@given(st.integers(0, 2**64 - 1))
def test_byte_string_heads_of_every_size(size: int) -> None:
    """Heads too long to build a string for: an unsigned integer's head (major type 0,
    encoded by cbor2) with the major type set to 2 is the byte-string head."""
    uint = cbor2.dumps(size)
    assert _bstr_head(size) == bytes((uint[0] | 0x40,)) + uint[1:]


def test_kid_is_truncated_sm3_of_certificate() -> None:
    cert = b"\x30\x03\x02\x01\x05"
    assert kid_of(cert).hex() == gm_sm3.sm3_hash(list(cert))[:16]


def _envelope(
    protected: object,
    unprotected: object = None,
    payload: object = b"p",
    signature: object = bytes(64),
    tag: int | None = 18,
) -> bytes:
    body = [protected, {} if unprotected is None else unprotected, payload, signature]
    return cbor2.dumps(cbor2.CBORTag(tag, body) if tag is not None else body)


GOOD_HDR = cbor2.dumps({1: ALG_SM2_SM3, 4: KID})


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\xff",
        cbor2.dumps([GOOD_HDR, {}, b"p"]),
        _envelope(GOOD_HDR, tag=98),
        _envelope(cbor2.dumps({1: ALG_SM2_SM3})),
        _envelope(cbor2.dumps({1: ALG_SM2_SM3, 4: KID, 33: b"x5chain"})),
        _envelope(cbor2.dumps({1: "SM2", 4: KID})),
        _envelope(cbor2.dumps({1: -8, 4: KID})),
        _envelope(cbor2.dumps([1, 2])),
        _envelope(GOOD_HDR, unprotected={4: KID}),
        _envelope(GOOD_HDR, payload=None),
        _envelope(GOOD_HDR, signature=bytes(63)),
        _envelope(GOOD_HDR, signature=bytes(72)),
        _envelope(cbor2.dumps({1: ALG_RS256, 4: KID}), signature=bytes(64)),
        _envelope(GOOD_HDR)[:-1],
        _envelope(GOOD_HDR) + b"\x00",
        b"\x81" * 5000,
        b"\x9f" * 10 + b"\xff" * 10,
        cbor2.dumps(cbor2.CBORTag(18, [GOOD_HDR, {}, b"p" * 5000, bytes(64)])),
    ],
)
def test_decode_rejects(blob: bytes) -> None:
    with pytest.raises(CoseFormatError):
        decode_sign1(blob)


def test_untagged_envelope_is_accepted() -> None:
    assert decode_sign1(_envelope(GOOD_HDR, tag=None)).kid == KID


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzz_decode_is_typed_and_never_verifies(blob: bytes) -> None:
    """Random bytes: CoseFormatError (nothing else escapes), or an envelope no key verifies."""
    try:
        msg = decode_sign1(blob)
    except CoseFormatError:
        return
    assert not verify_sign1(msg, _SM2.public_key_der())
    assert not verify_sign1(msg, _P256.public_key_der())


def _general_decode(blob: bytes) -> Sign1 | str:
    """decode_sign1 with its shortest-form shortcut switched off (the reference)."""
    original = cose._split_sign1
    cose._split_sign1 = lambda data: None  # type: ignore[assignment]
    try:
        return decode_sign1(blob)
    except CoseFormatError as exc:
        return f"{exc.code}: {exc.message}"
    finally:
        cose._split_sign1 = original


def _outcome(blob: bytes) -> Sign1 | str:
    try:
        return decode_sign1(blob)
    except CoseFormatError as exc:
        return f"{exc.code}: {exc.message}"


_SIZES = st.sampled_from([0, 1, 17, 23, 24, 64, 255, 256, 300])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_SIZES, _SIZES, _SIZES, st.sampled_from([18, 98, None]), st.booleans(),
       st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=3),
       st.integers(-3, 3))
def test_shortcut_reads_what_the_general_decoder_reads(
        p: int, n: int, s: int, tag: int | None, header: bool,
        edits: list[tuple[int, int]], cut: int) -> None:
    """Envelopes with byte strings around every head size, edited, cut or extended: the
    shortcut either declines or gives the general decoder's exact items, and decode_sign1
    answers as the general path does (same envelope or same error)."""
    protected = GOOD_HDR[:p] if header else bytes(p)
    blob = bytearray(_envelope(protected, payload=bytes(n), signature=bytes(s), tag=tag))
    for at, value in edits:
        blob[at % len(blob)] = value
    data = bytes(blob[:cut] if cut < 0 else blob + bytes(cut))
    split = cose._split_sign1(data)
    if split is not None:
        item = cbor2.loads(data)
        assert isinstance(item, cbor2.CBORTag) and item.tag == 18
        assert list(item.value) == [split[0], {}, split[1], split[2]]
        assert cbor2.dumps(item) == data  # shortest form, nothing trailing
    assert _outcome(data) == _general_decode(data)


def test_shortcut_declines_longer_heads() -> None:
    """A byte string of 17 bytes written with a 2-byte head is valid CBOR, but not the form
    the shortcut reads: the general decoder judges it."""
    longer = b"\xd2\x84\x58" + bytes((len(GOOD_HDR),)) + GOOD_HDR + b"\xa0\x41p\x58\x40" + bytes(64)
    assert cose._split_sign1(longer) is None
    assert decode_sign1(longer).kid == KID


def test_shortcut_reads_every_token_and_list_this_code_signs() -> None:
    for payload in (b"", b"p", bytes(200), bytes(300)):
        blob = sign1(payload, _SM2, kid=KID)
        assert cose._split_sign1(blob) is not None
        assert decode_sign1(blob) == _general_decode(blob)
    rsa = sign1(b"p", SoftwareKey.generate("rsa-2048"), kid=KID)
    assert cose._split_sign1(rsa) is not None


_SM2 = SoftwareKey.generate("sm2")
_P256 = SoftwareKey.generate("ecdsa-p256")
_BLOB = sign1(b"payload-bytes", _SM2, kid=KID)


@settings(max_examples=300)
@given(st.integers(0, len(_BLOB) - 1), st.integers(1, 255))
def test_any_flipped_byte_is_refused_or_fails(position: int, mask: int) -> None:
    mutated = bytearray(_BLOB)
    mutated[position] ^= mask
    try:
        msg = decode_sign1(bytes(mutated))
    except CoseFormatError:
        return
    assert not verify_sign1(msg, _SM2.public_key_der())
