"""Signatures per second through each key adapter, beside the raw library in the same run.

Run: ``.venv/bin/pytest benchmarks/bench_keys.py --benchmark-only``

Pairs (raw = the underlying library called directly, same key, same run):

- file: SM2 — ``FileKey.sign`` vs ``trust.sm2.PrivateKey.sign`` (OpenSSL);
- SoftHSM2 RSA-2048 / ECDSA P-256 — ``Pkcs11Key.sign`` vs python-pkcs11
  ``key.sign`` (ECDSA raw: C_Sign on a precomputed SHA-256 digest);
- SDF — ``SdfKey.sign`` vs a bare ctypes ``SDF_InternalSign_ECC`` on a
  precomputed e (the adapter adds Z and e on the host and DER encoding).

Targets: adapter overhead under 15%; two threads signing through one PKCS#11
key reach >= 1.6x the one-thread rate on 2 cores. ``SEALTRUST_BENCH_ENFORCE=1``
turns the targets into assertions.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hsm_adapters import LiteralPin
from hsm_adapters.pkcs11 import Pkcs11Config, Pkcs11KeyStore
from hsm_adapters.sdf import SdfKeyStore
from hsm_adapters.sdf_structs import layout
from hsm_adapters.software import FileKeyStore
from trust import sm2, sm3
from trust.keys import signature_algorithm_oid, verify_signature

_spec = importlib.util.spec_from_file_location(
    "sealtrust_hsm_harness", Path(__file__).resolve().parents[1] / "tests" / "sdf" / "harness.py")
assert _spec is not None
assert _spec.loader is not None
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

MESSAGE = b"0123456789abcdefghij"
OVERHEAD_TARGET = 0.15
SCALING_TARGET = 1.6
BATCH = 200
ENFORCE = os.environ.get("SEALTRUST_BENCH_ENFORCE") == "1"


ROUNDS = int(os.environ.get("SEALTRUST_BENCH_ROUNDS", "5"))
STAT = f"median of {ROUNDS} rounds of {BATCH} signatures, wall clock, 1 thread"


def _batch(sign: Callable[[bytes], bytes]) -> Callable[[], int]:
    def batch() -> int:
        for _ in range(BATCH):
            sign(MESSAGE)
        return BATCH

    return batch


def _adapter_vs_raw(name: str, benchmark: Any, pair: Any, figure: Any,
                    adapter: Callable[[bytes], bytes], raw: Callable[[bytes], bytes]) -> None:
    """The adapter's signatures/s against the bare library call, alternating in this test."""
    rates = pair(benchmark, _batch(adapter), _batch(raw))
    if rates is None:
        return
    ours, (bare,) = rates
    figure(benchmark, "Key stores: signing through the adapter", name, ours, "signatures/s",
           statistic=STAT, reference="the same call on the raw library", reference_value=bare)
    if ENFORCE:
        assert 1 - ours / bare < OVERHEAD_TARGET, f"{name}: overhead {1 - ours / bare:.1%}"


# --- software (file:) ------------------------------------------------------------


@pytest.fixture(scope="module")
def file_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    store = FileKeyStore(tmp_path_factory.mktemp("keys"))
    with store.generate("file:sm2.p8", "sm2", LiteralPin("bench")) as key:
        yield key


def test_file_sm2(benchmark: Any, file_key: Any, pair: Any, figure: Any) -> None:
    raw_key: sm2.PrivateKey = file_key._key.private
    assert raw_key.public_key().verify(MESSAGE, file_key.sign(MESSAGE))
    _adapter_vs_raw("file sm2", benchmark, pair, figure, file_key.sign, raw_key.sign)


# --- PKCS#11 on SoftHSM2 ---------------------------------------------------------


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not harness.have_softhsm():
        pytest.skip("SoftHSM2 not installed")
    harness.init_softhsm(tmp_path_factory.mktemp("softhsm"))
    pin = LiteralPin(harness.USER_PIN)
    base = f"pkcs11:token={harness.TOKEN_LABEL}"
    with Pkcs11KeyStore(Pkcs11Config(pool_size=4)) as store:
        keys: dict[str, Any] = {alg: store.generate(f"{base};object=bench-{alg}", alg, pin)
                for alg in ("rsa-2048", "ecdsa-p256")}
        import pkcs11

        p11_token = pkcs11.lib(harness.SOFTHSM_MODULE).get_token(token_label=harness.TOKEN_LABEL)
        raw_sessions = [p11_token.open() for _ in range(2)]  # share the adapter's login
        keys["raw-session"] = raw_sessions[0]
        keys["raw-sessions"] = raw_sessions
        yield keys
        for raw_session in raw_sessions:
            raw_session.close()
        for alg in ("rsa-2048", "ecdsa-p256"):
            keys[alg].close()


def _raw_pkcs11(session: Any, algorithm: str) -> Callable[[bytes], bytes]:
    from pkcs11 import Mechanism, ObjectClass

    key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=f"bench-{algorithm}")
    if algorithm == "rsa-2048":
        return lambda m: bytes(key.sign(m, mechanism=Mechanism.SHA256_RSA_PKCS))
    digest = hashlib.sha256(MESSAGE).digest()
    return lambda m: bytes(key.sign(digest, mechanism=Mechanism.ECDSA))


@pytest.mark.parametrize("algorithm", ["rsa-2048", "ecdsa-p256"])
def test_pkcs11_sign(benchmark: Any, token: dict[str, Any], algorithm: str, pair: Any,
                     figure: Any) -> None:
    key = token[algorithm]
    assert verify_signature(key.public_key_der(), signature_algorithm_oid(algorithm),
                            MESSAGE, key.sign(MESSAGE))
    _adapter_vs_raw(f"softhsm {algorithm}", benchmark, pair, figure, key.sign,
                    _raw_pkcs11(token["raw-session"], algorithm))


def _threaded_batch(sign: Callable[[bytes], bytes], threads: int) -> float:
    """Seconds for BATCH signatures split over ``threads`` threads."""
    per = BATCH // threads

    def work() -> None:
        for _ in range(per):
            sign(MESSAGE)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - start


def _raw_threaded_batch(signers: list[Callable[[bytes], bytes]], threads: int) -> float:
    """Like _threaded_batch, one raw python-pkcs11 session per thread."""
    per = BATCH // threads

    def work(sign: Callable[[bytes], bytes]) -> None:
        for _ in range(per):
            sign(MESSAGE)

    pool = [threading.Thread(target=work, args=(signers[i],)) for i in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - start


@pytest.mark.parametrize("algorithm", ["rsa-2048", "ecdsa-p256"])
@pytest.mark.parametrize("kind", ["raw", "adapter"])
def test_pkcs11_two_threads(benchmark: Any, token: dict[str, Any], algorithm: str, kind: str,
                            figure: Any) -> None:
    """1- and 2-thread batches alternate, so load from other processes hits both alike.

    ``raw`` is python-pkcs11 with one session per thread: the ceiling the
    adapter's session pool is compared against.
    """
    key = token[algorithm]
    times: dict[int, list[float]] = {1: [], 2: []}
    raw_signers = [_raw_pkcs11(session, algorithm) for session in token["raw-sessions"]]

    def round_() -> None:
        for threads in (1, 2):
            times[threads].append(
                _raw_threaded_batch(raw_signers, threads) if kind == "raw"
                else _threaded_batch(key.sign, threads))

    benchmark.pedantic(round_, rounds=9, warmup_rounds=1)
    one, two = (BATCH / statistics.median(times[n]) for n in (1, 2))
    scaling = two / one
    benchmark.extra_info.update({"one_thread_per_s": round(one, 1),
                                 "two_threads_per_s": round(two, 1),
                                 "scaling": round(scaling, 2)})
    cores = len(os.sched_getaffinity(0))
    line = (f"keys softhsm {algorithm} {kind:7s} threads: 1 -> {one:9.1f}/s  2 -> {two:9.1f}/s"
            f"  scaling {scaling:.2f}x ({cores} cores, load {os.getloadavg()[0]:.1f})")
    print(line)
    figure(benchmark, "Key stores: SoftHSM2 threads", f"{algorithm} {kind}, 2 threads", two,
           "signatures/s", statistic=f"median of 9 alternating rounds of {BATCH} signatures, "
           "wall clock", reference="1 thread, same rounds", reference_value=one)
    if ENFORCE and kind == "adapter" and algorithm == "rsa-2048" and cores >= 2:
        assert scaling >= SCALING_TARGET, line


# --- GM/T 0018 SDF (software library) --------------------------------------------


@pytest.fixture(scope="module")
def sdf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not harness.have_gcc():
        pytest.skip("gcc/libssl-dev not installed")
    base = tmp_path_factory.mktemp("sdf")
    lib_path = harness.build_softsdf(base)
    harness.add_sdf_key(base / "device", 1, b"bench")
    os.environ["SOFTSDF_DIR"] = str(base / "device")
    uri = f"sdf:key-index=1?module-path={lib_path}"
    with SdfKeyStore().open_key(uri, LiteralPin(b"bench")) as key:
        lib = ctypes.CDLL(str(lib_path))
        device, session = ctypes.c_void_p(), ctypes.c_void_p()
        assert lib.SDF_OpenDevice(ctypes.byref(device)) == 0
        assert lib.SDF_OpenSession(device, ctypes.byref(session)) == 0
        assert lib.SDF_GetPrivateKeyAccessRight(session, 1, b"bench", 5) == 0
        yield {"key": key, "lib": lib, "session": session}
        lib.SDF_CloseSession(session)
        lib.SDF_CloseDevice(device)


def test_sdf_sign(benchmark: Any, sdf: dict[str, Any], pair: Any, figure: Any) -> None:
    key = sdf["key"]
    lib, session = sdf["lib"], sdf["session"]
    e = sm3.e_value(sm2.PublicKey.from_der(key.public_key_der()).point, MESSAGE, sm2.DEFAULT_UID)
    sig = layout(64).new_signature()
    ref = ctypes.byref(sig)

    def raw(_: bytes) -> bytes:
        if lib.SDF_InternalSign_ECC(session, 1, e, 32, ref) != 0:
            raise RuntimeError("SDF_InternalSign_ECC failed")
        return bytes(sig)

    assert verify_signature(key.public_key_der(), signature_algorithm_oid("sm2"), MESSAGE,
                            key.sign(MESSAGE))
    _adapter_vs_raw("sdf sm2", benchmark, pair, figure, key.sign, raw)
