"""SM3 (GB/T 32905) and the SM2 Z value, against independent implementations.

Known answers are the standard's two examples ("abc" is also in
tests/vectors/sm2.json); hashlib (system OpenSSL), ``cryptography`` and the
pure-Python ``gmssl`` are the oracles for everything else.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from gmssl import sm3 as gm_sm3
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import require
from trust import sm3
from trust.errors import InputError

# GB/T 32905-2016 Appendix A, example 2: "abcd" * 16 (one full 512-bit block).
ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def _cryptography(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _hashlib_has_sm3() -> bool:
    return "sm3" in hashlib.algorithms_available


def test_abc_vector_against_hashlib_and_cryptography(sm2_vectors: dict[str, Any]) -> None:
    for vector in sm2_vectors["sm3"]:
        msg, digest = vector["msg"].encode(), bytes.fromhex(vector["digest"])
        assert sm3.sm3(msg) == digest
        assert _cryptography(msg) == digest
        if _hashlib_has_sm3():
            assert hashlib.new("sm3", msg).digest() == digest


def test_hashlib_sm3_agrees() -> None:
    require(_hashlib_has_sm3(), "hashlib without SM3 (Python linked to an OpenSSL lacking it)")
    assert hashlib.new("sm3", b"abc").digest() == sm3.sm3(b"abc")


def test_standard_example_two() -> None:
    assert sm3.sm3(b"abcd" * 16).hex() == ABCD16


def test_incremental_matches_one_shot() -> None:
    h = sm3.new()
    for chunk in (b"ab", b"cd" * 31, b"", b"abcd"):
        h.update(chunk)
    assert h.finalize() == sm3.sm3(b"ab" + b"cd" * 31 + b"abcd")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_matches_cryptography_and_gmssl(data: bytes) -> None:
    expected = _cryptography(data)
    assert sm3.sm3(data) == expected
    assert gm_sm3.sm3_hash(list(data)) == expected.hex()


def test_z_value_default_id_matches_gmssl() -> None:
    from gmssl import sm2 as gm

    point = bytes.fromhex(
        "04"
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    )
    crypt = gm.CryptSM2(private_key="", public_key="")
    crypt.public_key = point[1:].hex()
    assert sm3.e_value(point, b"message digest", b"1234567812345678").hex() == crypt._sm3_z(
        b"message digest"
    )


@pytest.mark.parametrize(
    ("point", "uid"),
    [(b"\x04" + bytes(63), b""), (b"\x02" + bytes(64), b""), (b"\x04" + bytes(64), b"u" * 8192)],
)
def test_z_value_rejects_bad_input(point: bytes, uid: bytes) -> None:
    with pytest.raises(sm3.SM3InputError) as info:
        sm3.z_value(point, uid)
    assert isinstance(info.value, InputError)
    assert isinstance(info.value, ValueError)  # callers that caught ValueError still work


def test_longest_uid_accepted() -> None:
    """ENTL is 16 bits: 8191 bytes is the longest ID it can describe."""
    assert len(sm3.z_value(b"\x04" + bytes(64), b"u" * 8191)) == sm3.DIGEST_SIZE


@pytest.mark.parametrize("library", ["hashlib", "cryptography"])
@settings(max_examples=60, deadline=None)
@given(prefix=st.binary(max_size=200), messages=st.lists(st.binary(max_size=200), max_size=4))
def test_prefixed_equals_hashing_the_concatenation(
    library: str, prefix: bytes, messages: list[bytes]
) -> None:
    """``prefixed(p)(m) == SM3(p || m)`` for each m in turn: the base context is copied,
    never updated, so one message cannot leak into the next (checked with gmssl)."""
    if library == "hashlib":
        require(_hashlib_has_sm3(), "hashlib without SM3")
        make = sm3.prefixed
    else:
        import unittest.mock

        with unittest.mock.patch.object(hashlib, "new", side_effect=ValueError("no sm3")):
            make = sm3._pick_prefixed()
    run = make(prefix)
    for message in [*messages, b"", *messages]:
        assert run(message).hex() == gm_sm3.sm3_hash(list(prefix + message))


@pytest.mark.parametrize("use_hashlib", [True, False])
def test_one_sm3_context_for_the_package_whichever_backend(
    monkeypatch: pytest.MonkeyPatch, use_hashlib: bool
) -> None:
    """trust.sm3 decides the SM3 backend once; the verifier's incremental hashing
    (verification.cms.new_hash) takes its contexts from there, with hashlib's interface
    either way: chunked and memoryview updates, independent copies, a digest that leaves
    the context usable."""
    from verification import cms

    if use_hashlib and not sm3.HASHLIB:
        pytest.skip("this OpenSSL has no SM3 in hashlib")
    monkeypatch.setattr(sm3, "HASHLIB", use_hashlib)
    monkeypatch.setattr(cms, "_EMPTY", {})
    data = bytes(range(256)) * 70
    h = cms.new_hash("sm3")
    assert isinstance(h, type(sm3.context()))
    h.update(memoryview(data)[:1000])
    fork = h.copy()
    h.update(data[1000:])
    assert h.digest() == h.digest() == sm3.sm3(data)
    fork.update(b"other")
    assert fork.digest() == sm3.sm3(data[:1000] + b"other")
    assert cms.digest_ranges(data, ((0, 100), (200, 300)), "sm3") == sm3.sm3(
        data[:100] + data[200:500])
