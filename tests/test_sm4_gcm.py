"""SM4-GCM backends: the fast one (ipp-crypto SM4 in OpenSSL's GCM) against ``cryptography``.

``cryptography`` is the independent oracle: every value the fast backend writes
must open there, and every value written there must open here, over the length
classes that exercise a different code path (empty, partial block, whole blocks,
OpenSSL's 3 KiB GHASH chunks, large files). A decryptor that accepts an altered
value would show an edited row as a citizen's record: every bit flip must fail.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from trust import sm4_gcm
from trust.errors import CryptoError, TagMismatchError

try:
    from trust._sm4_gcm_ipp import IppSm4Gcm

    FAST: IppSm4Gcm | None = IppSm4Gcm()
    WHY = ""
except (ImportError, OSError) as exc:  # without sealtrust[fast]
    FAST, WHY = None, f"ipp-crypto not usable here: {exc}"

needs_fast = pytest.mark.skipif(FAST is None, reason=WHY or "ipp-crypto present")
LENGTHS = (0, 1, 15, 16, 17, 31, 255, 2047, 2048, 3071, 3072, 3073, 6144, 6161, 65_536,
           100_003)


def oracle_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def oracle_decrypt(key: bytes, nonce: bytes, body_and_tag: bytes, aad: bytes) -> bytes:
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, body_and_tag[-16:])).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(body_and_tag[:-16]) + dec.finalize()


@pytest.fixture
def fresh_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test make the facade choose its backend again (restored afterwards)."""
    monkeypatch.setattr(sm4_gcm, "_chosen", False)
    monkeypatch.setattr(sm4_gcm, "_fast", None)
    monkeypatch.setattr(sm4_gcm, "_why_not", "")


def test_rfc8998_vector_through_the_facade_and_the_oracle() -> None:
    key, iv, aad, pt, expected = sm4_gcm._KAT
    assert oracle_encrypt(key, iv, pt, aad) == expected  # the vector itself is right
    assert sm4_gcm.encrypt(key, iv, pt, aad) == expected
    assert sm4_gcm.decrypt(key, iv, expected, aad) == pt


@needs_fast
@pytest.mark.parametrize("length", LENGTHS)
def test_fast_backend_agrees_with_cryptography_both_ways(length: int) -> None:
    assert FAST is not None
    key, nonce, data, aad = os.urandom(16), os.urandom(12), os.urandom(length), \
        os.urandom(length % 53)
    ours = FAST.encrypt(key, nonce, data, aad, b"HDR")
    assert ours[:3] == b"HDR"
    assert ours[3:] == oracle_encrypt(key, nonce, data, aad)
    assert oracle_decrypt(key, nonce, ours[3:], aad) == data
    theirs = b"xy" + oracle_encrypt(key, nonce, data, aad)
    assert FAST.decrypt(key, nonce, theirs, aad, 2) == data


@needs_fast
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=7000), aad=st.binary(max_size=80), prefix=st.binary(max_size=20),
       key=st.binary(min_size=16, max_size=16), nonce=st.binary(min_size=12, max_size=12))
def test_fast_backend_matches_cryptography_on_random_inputs(data: bytes, aad: bytes,
                                                           prefix: bytes, key: bytes,
                                                           nonce: bytes) -> None:
    assert FAST is not None
    sealed = FAST.encrypt(key, nonce, data, aad, prefix)
    assert sealed == prefix + oracle_encrypt(key, nonce, data, aad)
    assert FAST.decrypt(key, nonce, sealed, aad, len(prefix)) == data


@needs_fast
@pytest.mark.parametrize("length", [0, 5, 16, 3073, 20_000])
def test_fast_backend_refuses_any_altered_bit_key_nonce_or_aad(length: int) -> None:
    assert FAST is not None
    key, nonce, data, aad = os.urandom(16), os.urandom(12), os.urandom(length), b"licence L1"
    sealed = FAST.encrypt(key, nonce, data, aad)
    positions = sorted({0, len(sealed) // 2, len(sealed) - 17, len(sealed) - 1} & set(
        range(len(sealed))))
    for pos in positions:
        bad = bytearray(sealed)
        bad[pos] ^= 0x01
        with pytest.raises(TagMismatchError):
            FAST.decrypt(key, nonce, bytes(bad), aad, 0)
    for wrong in ((os.urandom(16), nonce, aad), (key, os.urandom(12), aad),
                  (key, nonce, b"licence L2")):
        with pytest.raises(TagMismatchError):
            FAST.decrypt(wrong[0], wrong[1], sealed, wrong[2], 0)
    with pytest.raises(InvalidTag):  # the oracle agrees that the altered value is bad
        bad = bytearray(sealed)
        bad[-1] ^= 0x80
        oracle_decrypt(key, nonce, bytes(bad), aad)


@needs_fast
def test_fast_backend_is_thread_safe() -> None:
    assert FAST is not None
    errors: list[str] = []

    def work() -> None:
        for _ in range(40):
            key, nonce, data = os.urandom(16), os.urandom(12), os.urandom(9000)
            sealed = FAST.encrypt(key, nonce, data, b"ad")
            if sealed != oracle_encrypt(key, nonce, data, b"ad") or \
                    FAST.decrypt(key, nonce, sealed, b"ad", 0) != data:
                errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@needs_fast
def test_an_ipp_failure_raises_instead_of_returning_unencrypted_bytes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    impl = IppSm4Gcm()

    class Failing:
        def __getattr__(self, name: str) -> Any:
            real = getattr(impl_lib, name)
            if name == "ippsSMS4EncryptCTR":
                return lambda *args: -1
            return real

    impl_lib = impl._ipp
    monkeypatch.setattr(impl, "_ipp", Failing())
    with pytest.raises(CryptoError, match="SM4-CTR failed"):
        impl.encrypt(os.urandom(16), os.urandom(12), b"x" * 64, b"")


@needs_fast
def test_facade_uses_the_fast_backend_for_files_and_says_so(fresh_choice: None,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.delenv(sm4_gcm.ENV_BACKEND, raising=False)
    assert sm4_gcm.backend_name().startswith("ipp-crypto SM4")
    assert sm4_gcm._backend_for(100_000).name.startswith("ipp-crypto")
    assert sm4_gcm._backend_for(300).name == "cryptography"  # records: cheaper per call


@needs_fast
def test_a_fast_backend_failing_its_self_test_is_not_used(fresh_choice: None,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Threat: a broken library build (wrong S-box path, wrong counter) writing garbage."""
    real = IppSm4Gcm.encrypt

    def wrong(self: IppSm4Gcm, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes,
              prefix: bytes = b"") -> bytes:
        out = bytearray(real(self, key, nonce, plaintext, aad, prefix))
        out[-1] ^= 1
        return bytes(out)

    monkeypatch.setattr(IppSm4Gcm, "encrypt", wrong)
    assert sm4_gcm.backend_name().startswith("cryptography (ipp-crypto SM4 unavailable: RFC")
    key = os.urandom(16)
    nonce = os.urandom(12)
    data = os.urandom(50_000)
    assert sm4_gcm.encrypt(key, nonce, data) == oracle_encrypt(key, nonce, data, b"")


def test_environment_forces_the_reference(fresh_choice: None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sm4_gcm.ENV_BACKEND, "cryptography")
    assert sm4_gcm.backend_name() == "cryptography (SEALTRUST_SM4=cryptography)"
    assert sm4_gcm._backend_for(1_000_000).name == "cryptography"


def test_facade_rejects_bad_sizes_with_typed_errors() -> None:
    with pytest.raises(CryptoError):
        sm4_gcm.encrypt(b"short", os.urandom(12), b"x")
    with pytest.raises(CryptoError):
        sm4_gcm.encrypt(os.urandom(16), os.urandom(16), b"x")
    with pytest.raises(TagMismatchError):
        sm4_gcm.decrypt(os.urandom(16), os.urandom(12), b"tooshort")


def test_the_service_chooses_the_backend_at_start_up(fresh_choice: None, tmp_path: Any) -> None:
    """The self-test (~6 ms, a 100 kB round trip) runs before the first request, not in it."""
    from tests.api_support import build_api

    assert not sm4_gcm._chosen
    api = build_api(tmp_path / "home")
    next(api)  # the app has started (lifespan ran)
    try:
        assert sm4_gcm._chosen
    finally:
        api.close()
