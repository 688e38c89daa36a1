"""Smallest reproductions of the crypto_mb SM2 traps, for an upstream report.

Run on a CPU with AVX-512 IFMA, after ``pip install 'sealtrust[fast-batch]'``:
``python scripts/crypto_mb_repro.py``. Each case runs in a child process so a
crash is reported (by its signal) instead of ending the run:

- ``mixed_blocks``: one mbx_sm2_ecdsa_verify_mb8 call whose 8 messages need
  different SM3 block counts (1 byte and 100 bytes after Z);
- ``empty_message``: a lane with a 0-byte (non-NULL) message;
- ``same_blocks``: the control, 8 lanes of one shape, all valid.

trust.sm2 never makes the first two calls (trust/_sm2_batch.py). On a CPU
without IFMA every case prints status 0xaaaaaaaa (unsupported ISA).
"""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import sys
from trust import _sm2_mb, sm2
case = sys.argv[1]
lib = _sm2_mb.load_library()
mb = _sm2_mb.MbBackend(lib, require_cpu=False)
key = sm2.PrivateKey.generate()
lengths = {"mixed_blocks": [1, 100] * 4, "empty_message": [0] + [5] * 7,
           "same_blocks": [5] * 8}[case]
msgs = [b"m" * n for n in lengths]
sigs = [sm2.decode_der(key.sign(m)) for m in msgs]
x, y = key.public_key().point[1:33][::-1], key.public_key().point[33:][::-1]
import ctypes
p8, i8 = ctypes.c_char_p * 8, ctypes.c_int * 8
uid = sm2.DEFAULT_UID
status = lib.mbx_sm2_ecdsa_verify_mb8(
    p8(*(r.to_bytes(32, "big") for r, _ in sigs)), p8(*(s.to_bytes(32, "big") for _, s in sigs)),
    p8(*[uid] * 8), i8(*[len(uid)] * 8), p8(*msgs), i8(*lengths),
    p8(*[x] * 8), p8(*[y] * 8), None, None)
print(f"{case}: supported={mb.supported} status={status:#010x} "
      f"verdicts={_sm2_mb.lane_verdicts(status)}")
"""


def main() -> int:
    for case in ("same_blocks", "mixed_blocks", "empty_message"):
        out = subprocess.run([sys.executable, "-c", CHILD, case], capture_output=True,
                             text=True, timeout=120, check=False)
        if out.returncode < 0:
            print(f"{case}: child killed by signal {-out.returncode}")
        else:
            print(out.stdout.strip() or f"{case}: exit {out.returncode} {out.stderr[-300:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
