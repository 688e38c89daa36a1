"""A quick SM2 throughput probe for ``sealtrust doctor``.

It tells an operator whether this host signs at C speed (system libcrypto) or
fell back to pure Python (about 20x slower), which decides how many licences a
batch can issue per minute. Precise figures come from ``benchmarks/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from trust import sm2
from trust.errors import CryptoError, InputError

__all__ = ["measure_sm2"]

_MESSAGE = b"SealTrust doctor: SM2 throughput probe"


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
    return {
        "backend": sm2.backend_name(),
        "self_test": sm2.self_test().passed,
        "sign_per_s": round(sign_rate, 1),
        "verify_per_s": round(verify_rate, 1),
        "seconds": seconds,
    }
