"""`sealtrust verify --json --workers 1` as a user runs it, registry online: CPU per licence.

Issue 15's end-to-end measurement. Per-file CPU time comes from a 1-file and an
N-file run of the real CLI (a subprocess each, so start-up, policy building, the
registry connection, NDJSON output and cold caches are all in it):
``(cpu(N) - cpu(1)) / (N - 1)``. CPU time (user + system of the child, from
``wait4``) because eight agents share this machine; the best of ``--rounds``
alternating rounds is kept. The reference, ``openssl speed sm2`` (verify/s),
runs in the same invocation between the rounds.

    PYTHONPATH=$PWD python benchmarks/cli_verify_cpu.py [--n 400] [--rounds 3]
        [--corpus DIR] [--profile FILE.prof] [--openssl-seconds 3]

``--corpus DIR`` keeps (or reuses) the deployment and the issued files, so two
code versions can be compared on the same licences; ``--profile`` also runs the
N-file command once in process under cProfile and writes the stats there;
``--stages`` prints the CPU a licence spends in each stage of the bulk path,
measured stage by stage over the N files without a profiler (cProfile inflates
the many small Python calls several times over).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

def make_corpus(root: Path, n: int) -> tuple[Path, list[Path]]:
    """``n`` distinct SM2 licences issued in a fresh deployment under ``root`` (reused when
    already there)."""
    home, files_dir = root / "home", root / "files"
    files = sorted(files_dir.glob("lic*.pdf"))
    if len(files) >= n and (home / "deployment.json").exists():
        return home, files[:n]
    from tests.licence_corpus import open_licences

    logging.disable(logging.CRITICAL)
    files_dir.mkdir(parents=True, exist_ok=True)
    gen = open_licences(home)
    lic = next(gen)
    try:
        for i in range(n):
            path = files_dir / f"lic{i:05d}.pdf"
            path.write_bytes(lic.issue(f"sm2{i}", "sm2", number=i + 1))
    finally:
        gen.close()
    return home, sorted(files_dir.glob("lic*.pdf"))[:n]


def cli_cpu(home: Path, files: list[Path]) -> float:
    """CPU seconds (user + system) of one `sealtrust verify --json --workers 1` process,
    as the growth of RUSAGE_CHILDREN."""
    import resource

    cmd = [sys.executable, "-c", "from api.cli import main; main()", "verify", "--home",
           str(home), "--json", "--workers", "1", *map(str, files)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = done.stdout.splitlines()
    if len(lines) != len(files) or any(b'"TOTAL_PASSED"' not in line for line in lines):
        raise SystemExit(f"not every file passed ({len(lines)} reports for {len(files)} files):"
                         f" {done.stderr.decode()[-500:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def openssl_sm2_verify_rate(seconds: int = 1) -> float:
    """Verifies per second from `openssl speed sm2` (its own timing, one core)."""
    out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "sm2"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        # "CurveSM2  sign  verify  sign/s  verify/s" header, then
        # " 256 bits SM2 (CurveSM2)   0.0005s   0.0004s   2100.0   2300.0"
        if "SM2" in line and len(parts) >= 4 and re.fullmatch(r"[\d.]+", parts[-1]):
            return float(parts[-1])
    raise RuntimeError(f"cannot read openssl speed output:\n{out}")


def profile(home: Path, files: list[Path], out: Path) -> None:
    """The N-file command in this process under cProfile (stdout discarded)."""
    import contextlib
    import cProfile
    import io
    import pstats

    from api.cli import cli

    args = ["verify", "--home", str(home), "--json", "--workers", "1", *map(str, files)]
    prof = cProfile.Profile()
    # (a text stream with a .buffer, as the CLI writes bytes to sys.stdout.buffer)
    with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):
        prof.enable()
        with contextlib.suppress(SystemExit):
            cli(args, prog_name="sealtrust")
        prof.disable()
    prof.dump_stats(out)
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(40)
    pstats.Stats(str(out)).sort_stats("tottime").print_stats(25)


def stages(home: Path, files: list[Path], offline: bool = False) -> None:
    """CPU per licence of each stage of ``verify_files`` + the NDJSON line, in process
    (``offline``: the policy of ``sealtrust verify --offline``, no file SM3), then the
    whole ``verify_files`` call (``workers=1``, best of 3)."""
    import hashlib
    from datetime import UTC, datetime

    from api.cli._common import CliContext
    from api.cli.verify import _policy
    from verification.cms import digest_signed_and_whole, parse_cms
    from verification.engine import _prefetched, judge, verify_files
    from verification.extract import finish_facts, plan_facts
    from verification.pdf.locate import locate
    from verification.sm2_batch import verified_together

    logging.disable(logging.CRITICAL)
    policy = _policy(CliContext(home=home, json=True), offline, None, None, [], (), None)
    at = datetime.now(UTC)
    list(verify_files(files[:40], policy, at=at))  # warm the per-process caches
    n = len(files)

    def stage(name: str, work: Any, inputs: list[Any]) -> list[Any]:
        best = float("inf")
        for _ in range(2):  # (the first pass over 46 MB of new objects runs ~2x slower)
            start = time.process_time()
            out = [work(x) for x in inputs]
            best = min(best, time.process_time() - start)
        print(f"  {name:28s} {best / n * 1e3:7.3f} ms")
        return out

    print(f"stages, CPU a licence over {n} licences:")
    datas = stage("read", lambda p: p.read_bytes(), files)
    stage("SHA-256 of the file", lambda d: hashlib.sha256(d).hexdigest(), datas)
    found = stage("locate the signature", locate, datas)
    signed = stage("CMS walk", lambda f: parse_cms(f.contents), found)
    stage("time-stamp token walk", lambda c: parse_cms(c.timestamp_token, timestamp=True), signed)
    if offline:
        from verification.cms import digest_ranges
        stage("SM3: signed ranges", lambda df: digest_ranges(
            df[0], (df[1].byte_range[:2], df[1].byte_range[2:]), "sm3"),
            list(zip(datas, found, strict=True)))
    else:
        stage("SM3: signed ranges + file", lambda df: digest_signed_and_whole(
            df[0], *df[1].byte_range[1:], "sm3"), list(zip(datas, found, strict=True)))
    plans = stage("plan_facts (all of the above)",
                  lambda d: plan_facts(d, name="x", file_sm3=not offline), datas)
    inputs = [i for p in plans for i in p.signature_inputs()]
    start = time.process_time()
    with verified_together(inputs):
        print(f"  {'SM2 verify_many':28s} {(time.process_time() - start) / n * 1e3:7.3f} ms")
        facts = stage("finish_facts", finish_facts, plans)
    start = time.process_time()
    reports = []
    for i in range(0, n, 32):
        with _prefetched(policy, facts[i:i + 32], at):
            reports += [judge(f, policy, at) for f in facts[i:i + 32]]
    print(f"  {'registry chunk + judge':28s} {(time.process_time() - start) / n * 1e3:7.3f} ms")
    stage("NDJSON line", lambda r: r.to_json_line(), reports)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        assert all(r.passed for r in verify_files(files, policy, at=at))
        best = min(best, time.process_time() - start)
    print(f"  {'verify_files, whole':28s} {best / n * 1e3:7.3f} ms"
          f" = {n / best:,.0f} licences/s per core")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--profile", type=Path, default=None)
    ap.add_argument("--label", default="run")
    ap.add_argument("--stages", action="store_true")
    ap.add_argument("--offline", action="store_true",
                    help="--stages with the offline policy (signed lists, no file SM3)")
    ap.add_argument("--openssl-seconds", type=int, default=1,
                    help="length of each `openssl speed -seconds N sm2` reference run")
    args = ap.parse_args()
    root = args.corpus or Path(tempfile.mkdtemp(prefix="cliverify-"))
    t0 = time.perf_counter()
    home, files = make_corpus(root, args.n)
    print(f"corpus: {len(files)} licences in {root} ({time.perf_counter() - t0:.0f} s)")
    if args.profile is not None:
        profile(home, files, args.profile)
    if args.stages:
        stages(home, files, args.offline)
    if args.rounds < 1:
        return  # (--rounds 0: only the corpus, --profile and --stages)
    one, many, ossl = float("inf"), float("inf"), 0.0
    for _ in range(args.rounds):
        one = min(one, cli_cpu(home, files[:1]))
        many = min(many, cli_cpu(home, files))
        ossl = max(ossl, openssl_sm2_verify_rate(args.openssl_seconds))
    per_file = (many - one) / (len(files) - 1)
    rate = 1 / per_file
    print(f"{args.label}: 1 file {one * 1e3:.0f} ms CPU, {len(files)} files {many:.2f} s CPU; "
          f"per file {per_file * 1e3:.3f} ms = {rate:,.0f} licences/s per core; "
          f"openssl speed sm2 verify {ossl:,.0f}/s; ratio {rate / ossl:.3f} "
          f"(load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
