"""OFD verification of our SM2 licences against its per-file floor, in CPU time (issue 13).

The ratios of ``bench_ofd.py::test_ofd_verification_against_its_floor`` (floor time /
our time; floor = two SM2 verifies + SM3 of every referenced entry and Signature.xml,
``bench_ofd._floor_one``, and the same with the verifier's SES_Signature reader), plus
the cryptography alone (inputs inflated and parsed beforehand), and the same files
through the bulk engine (``verify_files``: one registry read per chunk), measured with
``time.process_time`` in alternating rounds, best round of each kept: usable on a
shared machine where wall clock is noise.

    PYTHONPATH=$PWD python benchmarks/ofd_verify_cpu.py [--n 100] [--rounds 7]
        [--profile FILE.prof]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--profile", type=Path, default=None)
    ap.add_argument("--label", default="run")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)

    from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
    from api.issuance import issue_one
    from api.routes.verification import deployment_policy
    from benchmarks import bench_ofd

    _floor_one = bench_ofd._floor_one
    # absent in trees older than the seal reader (A/B against an old checkout)
    _floor_fast_reader = getattr(bench_ofd, "_floor_fast_reader", None)
    from signing.types import builtin_types
    from trust.indications import Indication
    from trust.keys import verify_signature
    from trust.sm3 import sm3
    from verification import verify_files, verify_pdf

    root = Path(tempfile.mkdtemp(prefix="ofdverify-")) / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    counter = itertools.count(300_000)
    driving = builtin_types().get("DL")
    files = []
    try:
        for _ in range(args.n):
            with dep.registry.session() as s:
                files.append(issue_one(dep, s, type_code="DL",
                                       record=driving.example(next(counter)),
                                       department=DEMO_DEPARTMENT, actor="bench",
                                       file_format="ofd").pdf)
        policy = deployment_policy(dep)
        assert all(verify_pdf(f, policy).indication is Indication.TOTAL_PASSED for f in files)
        if args.profile is not None:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            for f in files:
                verify_pdf(f, policy)
            prof.disable()
            prof.dump_stats(args.profile)
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(30)
        crypto = [_crypto_inputs(f) for f in files]

        def pure(item: tuple[list[bytes], list[tuple[Any, ...]]]) -> None:
            for blob in item[0]:
                sm3(blob)
            for args_ in item[1]:
                assert verify_signature(*args_)

        best: dict[str, float] = {}
        folder = root.parent / "files"
        folder.mkdir()
        paths = []
        for i, data in enumerate(files):
            paths.append(folder / f"l{i:04d}.ofd")
            paths[-1].write_bytes(data)

        def bulk(chunk: list[Path]) -> None:
            assert all(r.passed for r in verify_files(chunk, policy, chunk=32))

        rows: list[tuple[str, Any, list[Any]]] = [
            ("ours", lambda f: verify_pdf(f, policy), files),
            ("ours, bulk engine (verify_files, 1 process, files read from disk)", bulk,
             [paths]),
            ("floor (bench_ofd._floor_one)", _floor_one, files),
            ("crypto alone (inputs prepared)", pure, crypto)]
        if _floor_fast_reader is not None:
            rows.insert(2, ("floor, verifier's seal reader", _floor_fast_reader, files))
        for _ in range(args.rounds):
            for name, fn, items in rows:
                start = time.process_time()
                for item in items:
                    fn(item)
                best[name] = min(best.get(name, float("inf")), time.process_time() - start)
    finally:
        dep.close()
    n = len(files)
    ours = [k for k in best if k.startswith("ours")]
    print(f"{args.label}: best of {args.rounds} alternating rounds over {n} licences, "
          f"load {os.getloadavg()[0]:.2f}")
    for name, seconds in best.items():
        ratios = "" if name in ours else "; ratio (its time / ours) " + ", ".join(
            f"{seconds / best[o]:.2f} ({o.split(' (')[0]})" for o in ours)
        print(f"  {name}: {n / seconds:,.0f}/s CPU ({seconds / n * 1e3:.3f} ms){ratios}")


def _crypto_inputs(data: bytes) -> tuple[list[bytes], list[tuple[Any, ...]]]:
    """The referenced entries (inflated) and the two SM2 verifications' arguments."""
    import io
    import zipfile

    from trust import oids
    from verification.certinfo import cert_info
    from verification.cms import parse_cms
    try:
        from verification.ofd.seal_value import read_seal_signature
    except ImportError:  # an older tree
        from trust.seal import parse_seal_signature as read_seal_signature

    z = zipfile.ZipFile(io.BytesIO(data))
    blobs = [z.read(i) for i in z.infolist() if not i.filename.endswith("SignedValue.dat")]
    sig = read_seal_signature(z.read("Doc_0/Signs/Sign_0/SignedValue.dat"))
    assert sig.timestamp is not None
    token = parse_cms(sig.timestamp, timestamp=True)
    return blobs, [(cert_info(sig.signer_cert).spki, oids.SM2_WITH_SM3, sig.signed_message,
                    sig.signature),
                   (cert_info(token.signer_cert).spki, token.signature_oid, token.signed_attrs,
                    token.signature)]


if __name__ == "__main__":
    main()
