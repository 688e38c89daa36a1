"""CPU-time A/B of in-process QR token verification, for a shared machine.

Run it once per code version, alternating (the label is printed first):

    cd OLD_TREE && PYTHONPATH=$PWD python NEW_TREE/benchmarks/token_cpu.py old
    cd NEW_TREE && PYTHONPATH=$PWD python benchmarks/token_cpu.py new
    PYTHONPATH=$PWD python benchmarks/token_cpu.py new --stages   # where a token's time goes

Same token, lists and clock as ``bench_token.py``'s "verify offline" rows (``token_support.py``;
copy it into an older tree too): per token,
``verify_token`` (all offline checks), the bare ``PublicKey.verify_raw`` of the same
Sig_structure bytes, and OpenSSL's raw SM2 verify of them (issue 15 asks for >= 2x its
rate). Each is timed in batches of 200 with ``time.process_time``, the three batches
alternating, ``--rounds`` times (15); the best batch of each is reported. The wall-clock
rows of ``bench_token.py`` move with the load of other processes on a shared host; CPU
time moves much less, and the ratio of two best batches taken side by side least.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path.cwd()))  # the tree under test (run from its root)
from benchmarks.token_support import presentation
from tests.vectors.qr.testpki import CLOCK
from trust import _sm2_openssl, sm2
from trust.token import (
    decode_token,
    verify_token,
)
from trust.token.certs import CertFacts

BATCH = 200


def _setup() -> dict[str, Any]:
    s = presentation()
    options = {"trust_list": s["trust_list"], "status_lists": s["status"], "now": CLOCK}
    text = s["text"]
    assert verify_token(text, **options).passed
    envelope = decode_token(text).envelope
    key = sm2.PublicKey.from_der(CertFacts.from_der(s["pki"].token_signer.cert).spki)
    return {"text": text, "options": options, "key": key,
            "tbs": envelope.to_be_signed(), "signature": envelope.signature}


def _subjects(s: dict[str, Any]) -> dict[str, Callable[[], object]]:
    text, options, key, tbs, sig = s["text"], s["options"], s["key"], s["tbs"], s["signature"]
    openssl = _sm2_openssl.OpenSSLBackend()
    handle = openssl.load_public(key.point)
    r, s_ = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    assert key.verify_raw(tbs, sig)
    assert openssl.verify(handle, tbs, r, s_, sm2.DEFAULT_UID)
    return {
        "verify_token": lambda: verify_token(text, **options),
        "verify_raw (fast backend)": lambda: key.verify_raw(tbs, sig),
        "OpenSSL raw SM2 verify": lambda: openssl.verify(handle, tbs, r, s_, sm2.DEFAULT_UID),
    }


def _batch_us(call: Callable[[], object]) -> float:
    started = time.process_time()
    for _ in range(BATCH):
        call()
    return (time.process_time() - started) / BATCH * 1e6


def _stages(s: dict[str, Any], rounds: int) -> None:
    """Each decoding stage alone, then the checks after decoding (signature included)."""
    from trust.token import base45, codec, cose
    from trust.token import verify as verify_module
    from trust.token.claims import Claims as ClaimsType

    text, options = s["text"], s["options"]
    body = codec.unprefix(text)
    raw = base45.decode(body)
    token = decode_token(text)
    stages: dict[str, Callable[[], object]] = {
        "unprefix": lambda: codec.unprefix(text),
        "base45.decode": lambda: base45.decode(body),
        "decode_sign1": lambda: cose.decode_sign1(raw),
        "Claims.from_cbor": lambda: ClaimsType.from_cbor(token.envelope.payload),
        "decode_token (all of the above)": lambda: decode_token(text),
        "verify_decoded (checks + SM2)": lambda: verify_module.verify_decoded(token, **options),
    }
    for name, call in stages.items():
        print(f"  {name:34s} {min(_batch_us(call) for _ in range(rounds)):8.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("label")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--stages", action="store_true")
    args = parser.parse_args()
    s = _setup()
    print(args.label)
    if args.stages:
        _stages(s, args.rounds)
        return
    subjects = _subjects(s)
    times: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(args.rounds):
        for name, call in subjects.items():
            times[name].append(_batch_us(call))
    best = {name: min(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"  {name:28s} best {best[name]:7.1f} us  median {statistics.median(values):7.1f}"
              f" us  ({1e6 / best[name]:,.0f}/s of CPU)")
    token, raw, openssl = best.values()
    print(f"  verify_token / OpenSSL raw verify rate: {openssl / token:.2f}x; "
          f"Python around the fast verify: {token - raw:.1f} us a token")


if __name__ == "__main__":
    main()
