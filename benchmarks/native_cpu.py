"""Bulk SM2 licence verification, compiled parsers against their source: CPU per licence.

Issue 15's bulk target with ``[fast]`` alone, measured as the engine runs it:
``verify_files`` (``workers=1``) over N distinct SM2 licences with the policy of
``sealtrust verify --offline`` (signed lists, every check), in a child process
per build -- the build installed (mypyc, ``verification/_native.py``) and
``SEALTRUST_NATIVE=off`` (the same source, interpreted) -- alternating, best of
``--rounds``; CPU time of the calls (the machine is shared). The reference,
``openssl speed sm2`` verify/s, runs between the rounds.

    PYTHONPATH=$PWD python benchmarks/native_cpu.py [--n 400] [--rounds 2]
        [--corpus DIR] [--openssl-seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cli_verify_cpu import make_corpus, openssl_sm2_verify_rate

_CHILD = """
import json, logging, sys, time, warnings
warnings.filterwarnings("ignore")
from datetime import UTC, datetime
from pathlib import Path
from api.cli._common import CliContext
from api.cli.verify import _policy
from verification import native_state, verify_files
logging.disable(logging.CRITICAL)
home, files = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
policy = _policy(CliContext(home=home, json=True), True, None, None, [], (), None)
at = datetime.now(UTC)
list(verify_files(files[:40], policy, at=at))  # warm the per-process caches
best, passed = float("inf"), 0
for _ in range(3):
    start = time.process_time()
    passed = sum(r.passed for r in verify_files(files, policy, at=at))
    best = min(best, time.process_time() - start)
print(json.dumps({"compiled": native_state().compiled, "passed": passed,
                  "per_licence": best / len(files)}))
"""


def run_child(home: Path, files: list[Path], native: str | None) -> dict[str, object]:
    """One child's best CPU per licence, with the build ``native`` selects."""
    env = {k: v for k, v in os.environ.items() if k != "SEALTRUST_NATIVE"}
    if native is not None:
        env["SEALTRUST_NATIVE"] = native
    out = subprocess.run([sys.executable, "-c", _CHILD, str(home), *map(str, files)],
                         capture_output=True, text=True, check=True, env=env,
                         cwd=Path(__file__).resolve().parents[1])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--openssl-seconds", type=int, default=1)
    args = ap.parse_args()
    root = args.corpus or Path(tempfile.mkdtemp(prefix="native-cpu-"))
    home, files = make_corpus(root, args.n)
    best: dict[str, float] = {}
    ossl = 0.0
    for _ in range(args.rounds):
        for label, native in (("compiled", None), ("source", "off")):
            got = run_child(home, files, native)
            if label == "compiled" and not got["compiled"]:
                sys.exit("the compiled build is not in use here (see `sealtrust doctor`)")
            if got["passed"] != len(files):
                sys.exit(f"{label}: {got['passed']} of {len(files)} licences passed")
            per = float(got["per_licence"])  # type: ignore[arg-type]
            best[label] = min(best.get(label, per), per)
        ossl = max(ossl, openssl_sm2_verify_rate(args.openssl_seconds))
    load = os.getloadavg()[0]
    for label, per in best.items():
        rate = 1 / per
        print(f"{label:9s} {per * 1e3:.3f} ms a licence = {rate:,.0f}/s per core; "
              f"ratio to openssl speed sm2 verify ({ossl:,.0f}/s) {rate / ossl:.3f}")
    print(f"compiled / source: {best['source'] / best['compiled']:.2f}x (load {load:.2f})")


if __name__ == "__main__":
    main()
