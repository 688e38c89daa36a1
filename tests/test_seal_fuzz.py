"""Hostile bytes: the seal parsers and verifiers end in a typed error or a result, never a crash.

Random bytes, random DER-looking prefixes, and byte-level mutations (flip,
cut, insert) of valid V4 seals and signatures. A mutation that still parses
must still go through verification and come out as a result object.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.seal_certs import DOCUMENT, T0, CaChain, Kit, make_kit
from tests.work_budget import calls_made
from trust.seal import (
    SealFormatError,
    SealResult,
    SealSignatureResult,
    parse_seal,
    parse_seal_signature,
    verify_seal,
    verify_seal_signature,
)

_KIT: Kit = make_kit("sm2")
_SEAL: bytes = _KIT.seal()
_SIG: bytes = _KIT.signature(_SEAL)
_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_typed_error(der: bytes) -> int:
    """Each parser raises SealFormatError or returns a value that owns exactly these bytes.

    Returns how many parsers accepted the input. The properties: no other exception type
    escapes; an accepted input is kept byte for byte (no trailing garbage silently dropped,
    so what is verified is what was read); parsing is stable (same bytes, same facts).
    """
    accepted = 0
    for parse in (parse_seal, parse_seal_signature):
        try:
            parsed = parse(der)
        except SealFormatError as exc:
            assert exc.code == "seal.format"  # noqa: PT017
            continue
        accepted += 1
        assert parsed.der == der
        assert parse(der) == parsed
    return accepted


@st.composite
def _mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "set"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(1, 64))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@_FUZZ
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    assert _parse_or_typed_error(data) == 0  # random bytes are never a well-formed seal
    assert not verify_seal(data, T0, chain_validator=CaChain(_KIT.maker)).passed


@_FUZZ
@given(st.binary(max_size=256), st.sampled_from([b"\x30\x82", b"\x30\x81", b"\x30\x84\xff\xff"]))
def test_der_looking_prefixes(tail: bytes, head: bytes) -> None:
    assert _parse_or_typed_error(head + tail) == 0
    result = verify_seal_signature(head + tail, T0, data=DOCUMENT, chain_validator=CaChain(_KIT.maker))
    assert not result.passed and result.checks[0].name == "signature.format"


@_FUZZ
@given(_mutated(_SEAL))
def test_mutated_seal(data: bytes) -> None:
    _parse_or_typed_error(data)
    result = verify_seal(data, T0, chain_validator=CaChain(_KIT.maker))
    assert isinstance(result, SealResult)
    # Every byte is covered: sealInfo by the maker signature, the maker
    # certificate by its issuer's (checked by the chain validator).
    if data != _SEAL:
        assert not result.passed, result.summary


@_FUZZ
@given(_mutated(_SIG))
def test_mutated_signature(data: bytes) -> None:
    _parse_or_typed_error(data)
    result = verify_seal_signature(
        data,
        T0,
        data=DOCUMENT,
        chain_validator=CaChain(_KIT.maker),
        signer_chain_validator=CaChain(_KIT.maker),
    )
    assert isinstance(result, SealSignatureResult)
    if result.passed:  # only the unsigned timeStamp may differ
        original, mutated = parse_seal_signature(_SIG), parse_seal_signature(data)
        assert (mutated.signed_message, mutated.signature, mutated.signer_cert) == (
            original.signed_message,
            original.signature,
            original.signer_cert,
        )


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_bounded(depth: int) -> None:
    """Refused up front, whatever the depth: bounded work (counted calls), not a stopwatch."""
    nested = b"\x30\x80" * depth + b"\x00\x00" * depth  # indefinite-length BER nesting
    accepted, calls = calls_made(_parse_or_typed_error, nested)
    assert accepted == 0
    assert calls < 500, calls  # about 40 at either depth: no walk down the nesting


def test_oversized_input_refused_before_parsing() -> None:
    from trust.seal.asn1 import MAX_DER_SIZE

    huge = b"\x30\x84" + (MAX_DER_SIZE + 10).to_bytes(4, "big") + bytes(MAX_DER_SIZE + 10)
    with pytest.raises(SealFormatError, match="limit"):
        parse_seal(huge)
