"""A quick SM2 throughput probe for ``sealtrust doctor``.

It tells an operator whether this host signs at C speed (system libcrypto) or
fell back to pure Python (about 20x slower), which decides how many licences a
batch can issue per minute, and how much faster than OpenSSL the selected
verification backend is on this CPU (ipp-crypto, crypto_mb: see
docs/operations.md). Precise figures come from ``benchmarks/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from trust import sm2
from trust.errors import CryptoError, InputError

__all__ = ["cpu_features", "measure_sm2"]

_MESSAGE = b"SealTrust doctor: SM2 throughput probe"
# CPU flags (Linux /proc/cpuinfo names) that decide which SM2 code can run here.
# SM2 (ipp-crypto, crypto_mb) and SM4 (AES-NI S-box, PCLMULQDQ GHASH) fast paths.
_FLAGS = ("avx2", "bmi2", "adx", "sha_ni", "avx512f", "avx512ifma", "avx512vbmi2", "avx_ifma",
          "aes", "pclmulqdq")
_BATCH = 64


def cpu_features() -> dict[str, object]:
    """The CPU model and which of the flags that matter for fast SM2 and SM4 it has."""
    model, flags = "unknown", set[str]()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("model name") and model == "unknown":
            model = line.split(":", 1)[1].strip()
        elif line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    return {"model": model, "flags": {f: f in flags for f in _FLAGS}}


def _rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``operation`` run repeatedly for about ``seconds``."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    now = start
    while now < deadline or count == 0:
        operation()
        count += 1
        now = time.perf_counter()
    return count / (now - start)


def measure_sm2(seconds: float = 0.3) -> dict[str, object]:
    """Sign/s and verify/s through :mod:`trust.sm2` with the current backend.

    Each of the two loops runs for ``seconds`` (at least one operation), so the
    call takes about ``2 * seconds``. The returned dict is JSON-ready:
    ``{"backend", "self_test", "sign_per_s", "verify_per_s", "seconds"}``.
    """
    if not 0 < seconds <= 60:
        raise InputError("measurement time must be in (0, 60] seconds")
    key = sm2.PrivateKey.generate()
    public = key.public_key()
    signature = key.sign(_MESSAGE)
    if not public.verify(_MESSAGE, signature):
        raise CryptoError("SM2 signature made by the probe does not verify")
    sign_rate = _rate(lambda: key.sign(_MESSAGE), seconds)
    verify_rate = _rate(lambda: public.verify(_MESSAGE, signature), seconds)
    report: dict[str, object] = {
        "backend": sm2.backend_name(),
        "self_test": sm2.self_test().passed,
        "sign_per_s": round(sign_rate, 1),
        "verify_per_s": round(verify_rate, 1),
        "seconds": seconds,
    }
    verifier = sm2.verify_backend_name()
    report["verify_backend"] = verifier
    if verifier != sm2.backend_name() and sm2.backend_name() == "openssl":
        # The reference in the same run: the fast path's gain is a ratio on this CPU.
        r, s = sm2.decode_der(signature)
        reference = sm2.get_backend()
        handle = reference.load_public(public.point)
        openssl_rate = _rate(
            lambda: reference.verify(handle, _MESSAGE, r, s, sm2.DEFAULT_UID), seconds
        )
        report["verify_openssl_per_s"] = round(openssl_rate, 1)
        report["verify_ratio_vs_openssl"] = round(verify_rate / openssl_rate, 2)
    items = [(public, _MESSAGE, signature)] * _BATCH
    many_rate = _rate(lambda: sm2.verify_many(items), seconds) * _BATCH
    report["verify_many_backend"] = sm2.batch_backend_name() or f"loop over {verifier}"
    report["verify_many_per_s"] = round(many_rate, 1)
    return report
