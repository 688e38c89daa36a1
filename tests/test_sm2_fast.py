"""Fast SM2 verification (ipp-crypto, crypto_mb) against OpenSSL, and its selection.

OpenSSL is the reference: every verdict of the fast path is compared with the
OpenSSL backend's verdict on the same (key, message, signature, ID), including
malformed and out-of-range signatures, IDs of every length and messages across
SM3 block boundaries. The bounded campaign here runs a few thousand verdicts;
``SEALTRUST_SM2_CAMPAIGN=1000000 pytest -m slow tests/test_sm2_fast.py`` runs
the long one. Which backends ran is printed in the pytest header
(tests/conftest.py) and asserted in ``test_selected_backends``.
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import require
from trust import (
    _ippcp,
    _sm2_batch,
    _sm2_common,
    _sm2_fastcheck,
    _sm2_ipp,
    _sm2_openssl,
    keys,
    sm2,
    sm3,
)
from trust.errors import CryptoError, InputError

N = sm2.N
P = _sm2_common.P


def _ipp_available() -> str | None:
    """None if ipp-crypto loads on a fast code path here, else why not."""
    try:
        _sm2_ipp.IppBackend()
    except (OSError, ImportError, CryptoError) as exc:
        return str(exc)
    return None


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.fixture(scope="module")
def openssl() -> _sm2_openssl.OpenSSLBackend:
    return _sm2_openssl.OpenSSLBackend()


@pytest.fixture(scope="module")
def ipp() -> _sm2_ipp.IppBackend:
    reason = _ipp_available()
    if reason is not None and "code path" in reason:
        pytest.skip(f"ipp-crypto has no fast code path on this CPU: {reason}")
    require(reason is None, f"ipp-crypto (sealtrust[fast]) unavailable: {reason}")
    return _sm2_ipp.IppBackend()


@pytest.fixture
def fresh_selection() -> Iterator[None]:
    """Forget the fast-path choice before and after the test (environment changes)."""
    sm2._reset_fast()
    yield
    sm2._reset_fast()


@pytest.fixture
def on_ipp(ipp: _sm2_ipp.IppBackend) -> Iterator[None]:
    """Single verifications through ipp-crypto (whatever an earlier test selected)."""
    sm2.use_backend("ipp")
    assert sm2.verify_backend_name() == "ipp"
    yield
    sm2._reset_fast()


def _der(r: int, s: int) -> bytes:
    """Independent DER encoder (asn1crypto), also for r, s out of range."""
    return algos.DSASignature({"r": r, "s": s}).dump()  # type: ignore[no-any-return]


def _reference(
    openssl: _sm2_openssl.OpenSSLBackend, point: bytes, message: bytes, der: bytes, uid: bytes
) -> bool | str:
    """OpenSSL's verdict with trust.sm2's format and range rules; 'format' for bad DER."""
    try:
        r, s = sm2.decode_der(der)
    except sm2.SignatureFormatError:
        return "format"
    if not (0 < r < N and 0 < s < N):
        return False
    return openssl.verify(openssl.load_public(point), message, r, s, uid)


def _ours(key: sm2.PublicKey, message: bytes, der: bytes, uid: bytes) -> bool | str:
    try:
        return key.verify(message, der, uid)
    except sm2.SignatureFormatError:
        return "format"


# ---------------------------------------------------------------- selection


def test_selected_backends() -> None:
    """Says which backends this run verifies with; ipp must be chosen wherever it can run."""
    single, batch = sm2.fast_paths()
    print(f"\nsingle: {sm2.verify_backend_name()} - {single}\nbatch: {batch}")
    assert sm2.backend_name() in ("openssl", "gmssl")  # the only signers
    if os.environ.get("SEALTRUST_SM2_FAST", "").lower() in ("0", "off", "no", "false") or (
        os.environ.get("SEALTRUST_SM2_BACKEND")
    ):
        assert not single.active
        return
    if _ipp_available() is None and sm2.backend_name() == "openssl":
        assert single.active, single.detail
        assert sm2.verify_backend_name() == "ipp"
        assert single.code_path in _sm2_ipp.FAST_CODE_PATHS
    else:
        assert sm2.verify_backend_name() == sm2.backend_name()
    if "avx512ifma" not in _cpu_flags():
        assert not batch.active
        assert sm2.batch_backend_name() is None


def test_known_answers_from_the_vector_file(
    ipp: _sm2_ipp.IppBackend, sm2_vectors: dict[str, Any]
) -> None:
    v = next(v for v in sm2_vectors["vectors"] if v["name"] == "annex_a")
    handle = ipp.load_public(bytes.fromhex("04" + v["xA"] + v["yA"]))
    msg, r, s = v["msg"].encode(), int(v["r"], 16), int(v["s"], 16)
    assert ipp.verify(handle, msg, r, s, v["id"].encode())
    assert not ipp.verify(handle, msg, r, s, b"")
    assert not ipp.verify(handle, msg + b" ", r, s, v["id"].encode())
    assert not ipp.verify(handle, msg, r, s - 1, v["id"].encode())
    # e as the vector gives it: SM3(Z || M) through the common digest module.
    assert _sm2_common.digest(bytes.fromhex(v["z"]), msg).hex().upper() == v["e"]


def test_fast_path_is_used_by_public_key_verify(on_ipp: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: PublicKey.verify really goes through ipp (OpenSSL's verify is not called)."""
    key = sm2.PrivateKey.generate()
    sig = key.sign(b"licence")

    def forbidden(*args: object) -> bool:
        raise AssertionError("OpenSSL verify called although ipp is the verifier")

    monkeypatch.setattr(_sm2_openssl.OpenSSLBackend, "verify", forbidden)
    assert key.public_key().verify(b"licence", sig)
    assert not key.public_key().verify(b"licencE", sig)


def test_not_selected_without_the_library(
    fresh_selection: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(*args: object) -> Any:
        raise ImportError("ipp-crypto is not installed")

    monkeypatch.setattr(_ippcp, "wheel_library", missing)
    key = sm2.PrivateKey.generate()
    assert key.public_key().verify(b"m", key.sign(b"m"))
    assert sm2.verify_backend_name() == "openssl"
    single, _ = sm2.fast_paths()
    assert not single.active and "not installed" in single.detail


def test_not_selected_on_a_slow_code_path(
    fresh_selection: None, monkeypatch: pytest.MonkeyPatch, ipp: _sm2_ipp.IppBackend
) -> None:
    real = _sm2_ipp.load_library

    def generic() -> Any:
        lib, _, version = real()
        return lib, "y8", version

    monkeypatch.setattr(_sm2_ipp, "load_library", generic)
    assert sm2.verify_backend_name() == "openssl"
    assert "y8" in sm2.fast_paths()[0].detail


def test_not_selected_when_a_symbol_is_missing(
    fresh_selection: None, monkeypatch: pytest.MonkeyPatch, ipp: _sm2_ipp.IppBackend
) -> None:
    """Another ipp-crypto release without a function we bind: OpenSSL verifies, nothing raises."""
    real_bind = _sm2_ipp._bind

    def bind_missing(lib: Any) -> None:
        real_bind(lib)
        raise AttributeError("undefined symbol: ippsGFpECVerifySM2")

    monkeypatch.setattr(_sm2_ipp, "_bind", bind_missing)
    key = sm2.PrivateKey.generate()
    assert key.public_key().verify(b"m", key.sign(b"m"))
    assert sm2.verify_backend_name() == "openssl"
    assert "lacks a needed function" in sm2.fast_paths()[0].detail


def test_disabled_by_environment() -> None:
    code = "from trust import sm2; print(sm2.verify_backend_name(), sm2.fast_paths()[0].detail)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "SEALTRUST_SM2_FAST": "off"},
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    assert out == "openssl disabled by SEALTRUST_SM2_FAST=off"


def test_forced_backend_verifies_too() -> None:
    code = "from trust import sm2; print(sm2.verify_backend_name(), sm2.fast_paths()[0].detail)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "SEALTRUST_SM2_BACKEND": "gmssl"},
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    assert out == "gmssl off: SEALTRUST_SM2_BACKEND=gmssl forces one backend"


def test_concurrent_threads_agree(on_ipp: None) -> None:
    """Each thread gets its own IPP context: shared state would corrupt verdicts under load."""
    from concurrent.futures import ThreadPoolExecutor

    key = sm2.PrivateKey.generate()
    public = key.public_key()
    cases = []
    for i in range(64):
        message = b"thread %d" % i
        sig = key.sign(message)
        cases.append((message if i % 3 else message + b"x", sig, bool(i % 3)))

    def run(offset: int) -> list[bool]:
        return [public.verify(m, sig) for m, sig, _ in cases[offset:] + cases[:offset]]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(0, 64, 8)))
    for offset, got in zip(range(0, 64, 8), results, strict=True):
        want = [ok for _, _, ok in cases[offset:] + cases[:offset]]
        assert got == want


def test_z_cache_is_per_key_and_exact_id(on_ipp: None) -> None:
    """Z is cached per (key, ID) in the key's own object: a signature under one ID must
    not verify under another ID of the same length, nor under another key cached with the
    same ID; each verdict is also OpenSSL's."""
    openssl = _sm2_openssl.OpenSSLBackend()
    signer, other = sm2.PrivateKey.generate(), sm2.PrivateKey.generate()
    public, other_public = signer.public_key(), other.public_key()
    uids = [b"alice", b"alicf", b"", sm2.DEFAULT_UID, b"1234567812345679"]
    signed = {uid: signer.sign(b"licence", uid) for uid in uids}
    for signing_uid, sig in signed.items():
        r, s = sm2.decode_der(sig)
        for uid in uids:
            want = openssl.verify(openssl.load_public(public.point), b"licence", r, s, uid)
            assert want is (uid == signing_uid)
            assert public.verify(b"licence", sig, uid) is want, (signing_uid, uid)
            assert other_public.verify(b"licence", sig, uid) is False
    handle = public._handles["ipp"]
    assert isinstance(handle, _sm2_ipp._IppKey)
    assert set(handle.hashers) == set(uids)  # every ID was cached, each under its own bytes
    assert handle.hashers is not other_public._handles["ipp"].hashers  # type: ignore[attr-defined]


def test_z_cache_is_bounded(on_ipp: None) -> None:
    """IDs come from signed input: beyond MAX_CACHED_UIDS they are hashed per call, not kept."""
    key = sm2.PrivateKey.generate()
    public = key.public_key()
    for n in range(3 * _sm2_ipp.MAX_CACHED_UIDS):
        uid = b"id-%d" % n
        sig = key.sign(b"m", uid)
        assert public.verify(b"m", sig, uid)
        assert not public.verify(b"m", sig, uid + b"!")
    hashers = public._handles["ipp"].hashers  # type: ignore[attr-defined]
    assert len(hashers) == _sm2_ipp.MAX_CACHED_UIDS
    assert sm2.DEFAULT_UID in hashers  # loaded with the key, never pushed out


def test_one_key_object_from_four_threads(on_ipp: None) -> None:
    """One PublicKey (one IPP point, one Z cache) shared by 4 threads, each with its own IDs
    (more than the cache holds, so threads race on filling it): every verdict as expected."""
    from concurrent.futures import ThreadPoolExecutor

    key = sm2.PrivateKey.generate()
    public = key.public_key()
    uids = [sm2.DEFAULT_UID, b""] + [b"thread-id-%d" % n for n in range(12)]
    cases = []
    for n in range(96):
        uid = uids[n % len(uids)]
        message = b"m%d" % n
        sig = key.sign(message, uid)
        check_uid = uid if n % 4 else uids[(n + 1) % len(uids)]  # every 4th: wrong ID
        cases.append((message, sig, check_uid, bool(n % 4)))

    def run(offset: int) -> list[bool]:
        rotated = cases[offset:] + cases[:offset]
        return [public.verify(m, sig, uid) for m, sig, uid, _ in rotated * 3]

    offsets = [0, 24, 48, 72]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, offsets))
    for offset, got in zip(offsets, results, strict=True):
        rotated = cases[offset:] + cases[:offset]
        assert got == [ok for _, _, _, ok in rotated * 3]
    assert len(public._handles["ipp"].hashers) <= _sm2_ipp.MAX_CACHED_UIDS  # type: ignore[attr-defined]


def test_failed_big_number_import_fails_closed(
    ipp: _sm2_ipp.IppBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If ipp-crypto refused to import e, the slot would still hold the previous
    verification's e: a signature replayed over another message would verify. A failed
    import must raise, never verify against stale numbers."""
    key = sm2.PrivateKey.generate()
    handle = ipp.load_public(key.public_key().point)
    r, s = sm2.decode_der(key.sign(b"genuine"))
    assert ipp.verify(handle, b"genuine", r, s, sm2.DEFAULT_UID)  # leaves e, r, s in the slots
    real = ipp._set_bn

    def refuse_e(data: bytes, size: int, bn: Any) -> int:
        if bn is ipp._context().e:
            return -7  # ippStsContextMatchErr: nothing written
        return int(real(data, size, bn))

    monkeypatch.setattr(ipp, "_set_bn", refuse_e)
    with pytest.raises(CryptoError):
        ipp.verify(handle, b"forged", r, s, sm2.DEFAULT_UID)


class _Faulty:
    """An ipp backend with one deliberate fault, to show the checks catch it."""

    def __init__(self, real: _sm2_ipp.IppBackend, fault: str) -> None:
        self.name, self._real, self._fault = "faulty", real, fault

    def load_public(self, point: bytes) -> object:
        if self._fault == "accepts_off_curve" and not _sm2_common.on_curve(point):
            return self._real.load_public(bytes.fromhex(_sm2_common.KAT_PUB))
        return self._real.load_public(point)

    def verify(self, handle: object, message: bytes, r: int, s: int, uid: bytes) -> bool:
        if self._fault == "accepts_all":
            return True
        if self._fault == "empty_id_means_default" and uid == b"":
            uid = sm2.DEFAULT_UID
        if self._fault == "id_truncated_to_255":  # a one-byte ENTL bug
            uid = uid[:255]
        if self._fault == "message_ignored_after_64":
            message = message[:64]
        return self._real.verify(handle, message, r, s, uid)


@pytest.mark.parametrize(
    "fault",
    ["accepts_all", "accepts_off_curve", "empty_id_means_default", "id_truncated_to_255",
     "message_ignored_after_64"],
)
def test_checks_refuse_a_faulty_fast_path(
    ipp: _sm2_ipp.IppBackend, openssl: _sm2_openssl.OpenSSLBackend, fault: str
) -> None:
    passed, detail = _sm2_fastcheck.check_verifier(_Faulty(ipp, fault), openssl)
    assert not passed, detail


def test_checks_pass_the_real_fast_path(
    ipp: _sm2_ipp.IppBackend, openssl: _sm2_openssl.OpenSSLBackend
) -> None:
    """Control for the test above: the checks themselves do not reject a correct backend."""
    passed, detail = _sm2_fastcheck.check_verifier(_Faulty(ipp, "none"), openssl)
    assert passed, detail
    passed, detail = _sm2_fastcheck.check_verifier(ipp, openssl)
    assert passed, detail


def test_fast_path_refuses_to_sign(ipp: _sm2_ipp.IppBackend) -> None:
    with pytest.raises(CryptoError):
        ipp.load_private(b"\x01" * 32)
    with pytest.raises(CryptoError):
        ipp.sign(object(), b"m", sm2.DEFAULT_UID)


def test_signing_stays_with_openssl(on_ipp: None) -> None:
    key = sm2.PrivateKey.generate()
    assert sm2.backend_name() == "openssl"
    sig = key.sign(b"m")
    assert key.public_key().verify(b"m", sig)


def test_key_cache_validates_and_prepares(on_ipp: None) -> None:
    key = sm2.PrivateKey.generate().public_key()
    cached = keys._sm2_public(key.to_der())
    assert "ipp" in cached._handles and "openssl" in cached._handles
    bad = key.point[:-1] + bytes([key.point[-1] ^ 1])
    spki = sm2._spki_der(bad)
    with pytest.raises(keys.UnsupportedKeyError):
        keys.verify_signature(spki, sm2.oids.SM2_WITH_SM3, b"m", _der(1, 1))


# ---------------------------------------------------------------- differential (hypothesis)

_UIDS = st.one_of(
    st.just(sm2.DEFAULT_UID),
    st.binary(min_size=0, max_size=80),
    st.integers(0, sm2.MAX_UID).map(lambda n: bytes([n % 251]) * n),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    length=st.integers(0, 5 * 64 + 3),
    uid=_UIDS,
    corruption=st.sampled_from(["none", "message", "uid", "r", "s", "swap", "key"]),
)
def test_agrees_with_openssl(
    on_ipp: None, openssl: _sm2_openssl.OpenSSLBackend, length: int, uid: bytes, corruption: str
) -> None:
    key = sm2.PrivateKey.generate()
    message = secrets.token_bytes(length)
    r, s = sm2.decode_der(key.sign(message, uid))
    point, check_uid = key.public_key().point, uid
    if corruption == "message":
        message = message + b"\x00" if not message else bytes([message[0] ^ 0x80]) + message[1:]
    elif corruption == "uid":
        check_uid = uid[:-1] if uid else b"\x00"
    elif corruption == "r":
        r = (r + 1) % N or 1
    elif corruption == "s":
        s ^= 1 << secrets.randbelow(256)
    elif corruption == "swap":
        r, s = s, r
    elif corruption == "key":
        point = sm2.PrivateKey.generate().public_key().point
    der = _der(r, s)
    public = sm2.PublicKey.from_point(point)
    expected = _reference(openssl, point, message, der, check_uid)
    assert _ours(public, message, der, check_uid) == expected
    assert corruption != "none" or expected is True
    assert sm2.verify_many([(public, message, der, check_uid)]) == [expected is True]


def test_every_message_and_id_length_agrees(
    on_ipp: None, openssl: _sm2_openssl.OpenSSLBackend
) -> None:
    """Every message length 0..264 (4 SM3 block boundaries of Z || M), every ID length 0..249
    (4 block boundaries of Z's input: 53, 117, 181, 245) and the ENTL limit; each signature
    checked as made and, every other one, with its last message byte changed."""
    key = sm2.PrivateKey.generate()
    public, point = key.public_key(), key.public_key().point
    shapes = [(n, sm2.DEFAULT_UID) for n in range(4 * 64 + 9)]
    shapes += [(20, bytes([n % 256]) * n) for n in [*range(250), 8189, 8190]]
    items, expected = [], []
    for n, (length, uid) in enumerate(shapes):
        message = bytes(range(256)) * 2
        message = message[:length]
        der = key.sign(message, uid)
        if n % 2 and message:
            message = message[:-1] + bytes([message[-1] ^ 0x01])
        want = _reference(openssl, point, message, der, uid)
        assert _ours(public, message, der, uid) == want, (length, len(uid))
        assert want is (not (n % 2 and length))
        items.append((public, message, der, uid))
        expected.append(want)
    assert sm2.verify_many(items) == expected


_EDGES = [0, 1, N - 1, N, N + 1, 2**256 - 1, 2**256, P]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(r_edge=st.sampled_from([*_EDGES, None]), s_edge=st.sampled_from([*_EDGES, None]))
def test_r_and_s_edges_agree(
    on_ipp: None, openssl: _sm2_openssl.OpenSSLBackend, r_edge: int | None, s_edge: int | None
) -> None:
    key = sm2.PrivateKey.generate()
    r, s = sm2.decode_der(key.sign(b"edge"))
    r = r if r_edge is None else r_edge
    s = s if s_edge is None else s_edge
    der = _der(r, s)
    point = key.public_key().point
    expected = _reference(openssl, point, b"edge", der, sm2.DEFAULT_UID)
    assert _ours(key.public_key(), b"edge", der, sm2.DEFAULT_UID) == expected
    assert (expected is True) == (r_edge is None and s_edge is None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=st.integers(0, 2**256 - 1), y=st.integers(0, 2**256 - 1))
def test_off_curve_keys_refused_like_openssl(
    ipp: _sm2_ipp.IppBackend, openssl: _sm2_openssl.OpenSSLBackend, x: int, y: int
) -> None:
    point = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    on = _sm2_common.on_curve(point)

    def loads(load: Any) -> bool:
        try:
            load(point)
        except CryptoError:
            return False
        return True

    assert loads(ipp.load_public) == loads(openssl.load_public) == on


@pytest.mark.parametrize(
    "point",
    [b"\x00", b"\x04" + b"\x00" * 64, b"\x04" + P.to_bytes(32, "big") + b"\x00" * 32,
     b"\x04" + bytes.fromhex(_sm2_common.KAT_PUB)[1:33] + P.to_bytes(32, "big")],
    ids=["infinity", "zero", "x=p", "y=p"],
)
def test_infinity_and_unreduced_keys_refused(
    ipp: _sm2_ipp.IppBackend, openssl: _sm2_openssl.OpenSSLBackend, point: bytes
) -> None:
    with pytest.raises(sm2.KeyFormatError):
        sm2.PublicKey.from_point(point)
    # OpenSSL itself imports the 1-byte infinity encoding; from_point's length check stops it.
    for backend in (ipp, openssl) if len(point) == 65 else (ipp,):
        with pytest.raises(CryptoError):
            backend.load_public(point)


def test_digest_reduces_e_mod_n(monkeypatch: pytest.MonkeyPatch) -> None:
    """e >= n (probability ~2**-32 per message) reaches the C code reduced, as SM2 defines it."""
    monkeypatch.setattr(sm3, "sm3", lambda data: (N + 5).to_bytes(32, "big"))
    assert _sm2_common.digest(b"z" * 32, b"m") == (5).to_bytes(32, "big")
    monkeypatch.setattr(sm3, "sm3", lambda data: (N - 1).to_bytes(32, "big"))
    assert _sm2_common.digest(b"z" * 32, b"m") == (N - 1).to_bytes(32, "big")


# ---------------------------------------------------------------- random campaign


def _campaign(count: int, seed: int, openssl: _sm2_openssl.OpenSSLBackend) -> int:
    """``count`` random verdicts, valid and corrupted, compared with OpenSSL; returns mismatches."""
    rng = random.Random(seed)
    private = [sm2.PrivateKey.generate() for _ in range(4)]
    public = [sm2.PublicKey.from_point(k.public_key().point) for k in private]
    items: list[tuple[sm2.PublicKey, bytes, bytes, bytes]] = []
    expected: list[bool] = []
    mismatches = 0
    while len(items) < count:
        i = rng.randrange(4)
        length = rng.choice([0, 1, 20, 23, 24, 55, 56, 64, 119, 120, rng.randrange(400)])
        message = rng.randbytes(length)
        uid = rng.choice([sm2.DEFAULT_UID, b"", rng.randbytes(rng.randrange(1, 300))])
        r, s = sm2.decode_der(private[i].sign(message, uid))
        for variant in range(5):
            m, u, rr, ss, k = message, uid, r, s, i
            kind = rng.choice(["valid", "message", "uid", "r", "s", "key", "edge"]) if variant else "valid"
            if kind == "message":
                m = message + b"!" if not message else bytes([message[0] ^ 1]) + message[1:]
            elif kind == "uid":
                u = uid + b"\x00"
            elif kind == "r":
                rr = r ^ (1 << rng.randrange(256))
            elif kind == "s":
                ss = s ^ (1 << rng.randrange(256))
            elif kind == "key":
                k = (i + 1) % 4
            elif kind == "edge":
                rr = rng.choice([0, N, N + r, 2**256 - 1])
            der = _der(rr, ss)
            want = _reference(openssl, public[k].point, m, der, u)
            if _ours(public[k], m, der, u) != want:
                mismatches += 1
            items.append((public[k], m, der, u))
            expected.append(want is True)
    if sm2.verify_many(items) != expected:
        mismatches += 1
    return mismatches


def test_bounded_random_campaign(on_ipp: None, openssl: _sm2_openssl.OpenSSLBackend) -> None:
    assert _campaign(2000, secrets.randbits(32), openssl) == 0


@pytest.mark.slow
def test_long_random_campaign(on_ipp: None, openssl: _sm2_openssl.OpenSSLBackend) -> None:
    """SEALTRUST_SM2_CAMPAIGN verdicts, on demand only (e.g. 1000000: about an hour per core)."""
    if "SEALTRUST_SM2_CAMPAIGN" not in os.environ:
        pytest.skip("long campaign on demand: SEALTRUST_SM2_CAMPAIGN=<count> pytest -m slow")
    count = int(os.environ["SEALTRUST_SM2_CAMPAIGN"])
    seed = secrets.randbits(32)
    done, mismatches = 0, 0
    while done < count:
        step = min(20000, count - done)
        mismatches += _campaign(step, seed + done, openssl)
        done += step
    assert mismatches == 0, f"seed {seed}: {mismatches} mismatches"


# ---------------------------------------------------------------- verify_many


def test_verify_many_mixed_items() -> None:
    a, b = sm2.PrivateKey.generate(), sm2.PrivateKey.generate()
    sig = a.sign(b"one")
    sig_uid = b.sign(b"two", uid=b"alice")
    items: list[Any] = [
        (a.public_key(), b"one", sig),
        (a.public_key(), b"one!", sig),
        (b.public_key(), b"one", sig),
        (a.public_key(), b"one", b"\x30\x00"),  # malformed: False, not raised
        (b.public_key(), b"two", sig_uid, b"alice"),
        (b.public_key(), b"two", sig_uid),  # default ID: wrong
        (a.public_key(), b"one", _der(N, 1)),
    ]
    assert sm2.verify_many(items) == [True, False, False, False, True, False, False]
    assert sm2.verify_many([]) == []


def test_verify_many_rejects_bad_items() -> None:
    key = sm2.PrivateKey.generate()
    with pytest.raises(InputError):
        sm2.verify_many([(key.public_key(), b"m")])  # type: ignore[list-item]
    with pytest.raises(InputError):
        sm2.verify_many([(key.public_key(), b"m", key.sign(b"m"), b"u" * (sm2.MAX_UID + 1))])


class _RecordingBatch:
    """A batch backend made of OpenSSL verdicts that asserts the lane rules crypto_mb needs."""

    name = "recording"

    def __init__(self, openssl: _sm2_openssl.OpenSSLBackend, no_verdict: bool = False) -> None:
        self.openssl, self.calls, self.no_verdict = openssl, 0, no_verdict

    def load_public(self, point: bytes) -> object:
        return self.openssl.load_public(point)

    def verify_lanes(self, entries: Any) -> list[bool | None]:
        assert len(entries) == _sm2_batch.LANES
        shapes = {_sm2_batch.shape_key(len(uid), len(m)) for _, m, _, _, uid in entries}
        assert len(shapes) == 1 and None not in shapes
        assert all(0 < r < N and 0 < s < N for _, _, r, s, _ in entries)
        self.calls += 1
        if self.no_verdict:
            return [None] * _sm2_batch.LANES
        return [self.openssl.verify(h, m, r, s, u) for h, m, r, s, u in entries]


@pytest.mark.parametrize("no_verdict", [False, True])
def test_verify_many_batches_by_shape(
    fresh_selection: None, openssl: _sm2_openssl.OpenSSLBackend, no_verdict: bool
) -> None:
    batch = _RecordingBatch(openssl, no_verdict)
    sm2._install_fast(None, batch)
    assert sm2.batch_backend_name() == "recording"
    keys_ = [sm2.PrivateKey.generate() for _ in range(3)]
    items: list[Any] = []
    expected = []
    for n in range(40):
        k = keys_[n % 3]
        message = b"x" * (n * 7 % 150)
        uid = [sm2.DEFAULT_UID, b"", b"bob"][n % 3]
        sig = k.sign(message, uid)
        if n % 4 == 3:
            message += b"?"
        items.append((k.public_key(), message, sig, uid))
        expected.append(n % 4 != 3)
    assert sm2.verify_many(items) == expected
    assert batch.calls >= 2


# ---------------------------------------------------------------- batch planning (pure)


@settings(max_examples=200, deadline=None)
@given(
    shapes=st.lists(
        st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 4))), max_size=60
    ),
    min_batch=st.integers(1, 8),
)
def test_plan_covers_every_item_once(shapes: list[tuple[int, int] | None], min_batch: int) -> None:
    plan = _sm2_batch.plan_batches(shapes, min_batch=min_batch)
    real = [i for b in plan.batches for i in b.lanes[: b.real]]
    assert sorted(real + list(plan.singles)) == list(range(len(shapes)))
    for b in plan.batches:
        assert len(b.lanes) == _sm2_batch.LANES and min_batch <= b.real <= _sm2_batch.LANES
        assert len({shapes[i] for i in b.lanes}) == 1 and shapes[b.lanes[0]] is not None
        assert set(b.lanes[b.real :]) <= set(b.lanes[: b.real])  # padding repeats members
    assert all(shapes[i] is None or True for i in plan.singles)


def test_shape_key_keeps_empty_items_out() -> None:
    assert _sm2_batch.shape_key(0, 10) is None
    assert _sm2_batch.shape_key(16, 0) is None
    # 32-byte Z || 23-byte message = 55 bytes: one SM3 block; 24 bytes: two.
    assert _sm2_batch.shape_key(16, 23) == (4, 1)
    assert _sm2_batch.shape_key(16, 24) == (4, 2)
    # Z input 194 + ID bytes, plus >= 9 padding: ID 53 -> 256 bytes (4 blocks), 54 -> 5.
    assert _sm2_batch.shape_key(53, 1)[0] == 4  # type: ignore[index]
    assert _sm2_batch.shape_key(54, 1)[0] == 5  # type: ignore[index]


def test_plan_example() -> None:
    shapes = [(1, 1)] * 9 + [(1, 2)] + [None] + [(2, 2)] * 3
    plan = _sm2_batch.plan_batches(shapes, min_batch=2)
    assert [b.real for b in plan.batches] == [8, 3]
    assert plan.batches[0].lanes == tuple(range(8))
    assert plan.batches[1].lanes == (11, 12, 13, 11, 11, 11, 11, 11)
    assert plan.singles == (8, 9, 10)


# ---------------------------------------------------------------- crypto_mb (needs AVX-512 IFMA)


def _mb_library() -> Any:
    from trust import _sm2_mb

    try:
        return _sm2_mb.load_library()
    except (OSError, ImportError) as exc:
        require(False, f"crypto_mb runtime (sealtrust[fast-batch]) unavailable: {exc}")


def test_lane_status_decoding() -> None:
    from trust import _sm2_mb

    assert _sm2_mb.lane_verdicts(0) == [True] * 8
    assert _sm2_mb.lane_verdicts(0x88888888) == [False] * 8
    assert _sm2_mb.lane_verdicts(0xAAAAAAAA) == [None] * 8  # unsupported ISA
    assert _sm2_mb.lane_verdicts(0x10000080) == [True, False, True, True, True, True, True, None]


def test_crypto_mb_refused_without_ifma(
    fresh_selection: None, openssl: _sm2_openssl.OpenSSLBackend
) -> None:
    """On a CPU without AVX-512 IFMA the batch backend is refused and verify_many loops."""
    if "avx512ifma" in _cpu_flags():
        pytest.skip("this CPU has AVX-512 IFMA: see test_crypto_mb_agrees_with_openssl")
    from trust import _sm2_mb

    lib = _mb_library()
    with pytest.raises(OSError, match="AVX-512 IFMA"):
        _sm2_mb.MbBackend(lib)
    assert sm2.batch_backend_name() is None
    assert "AVX-512 IFMA" in sm2.fast_paths()[1].detail
    # Forced anyway: the real library answers 'unsupported ISA' for every lane, and
    # verify_many falls back to the single path with the same verdicts.
    forced = _sm2_mb.MbBackend(lib, require_cpu=False)
    key = sm2.PrivateKey.generate()
    sigs = [key.sign(b"m%d" % i) for i in range(8)]
    entries = [(forced.load_public(key.public_key().point), b"m%d" % i, *sm2.decode_der(s),
                sm2.DEFAULT_UID) for i, s in enumerate(sigs)]
    assert forced.verify_lanes(entries) == [None] * 8
    sm2._install_fast(None, forced)
    items = [(key.public_key(), b"m%d" % i, s) for i, s in enumerate(sigs)]
    items[3] = (key.public_key(), b"m9", sigs[3])
    assert sm2.verify_many(items) == [True, True, True, False, True, True, True, True]
    passed, detail = _sm2_fastcheck.check_batch(forced, openssl)
    assert not passed, detail


def test_crypto_mb_agrees_with_openssl(openssl: _sm2_openssl.OpenSSLBackend) -> None:
    """Runs only where crypto_mb has SM2 code (AVX-512 IFMA); skipped elsewhere by CPU."""
    if "avx512ifma" not in _cpu_flags():
        pytest.skip("CPU without AVX-512 IFMA: crypto_mb cannot run here")
    from trust import _sm2_mb

    backend = _sm2_mb.MbBackend(_mb_library())
    passed, detail = _sm2_fastcheck.check_batch(backend, openssl)
    assert passed, detail
    sm2._install_fast(None, backend)
    try:
        assert _campaign(800, secrets.randbits(32), openssl) == 0
    finally:
        sm2._reset_fast()
