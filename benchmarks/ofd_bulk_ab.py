"""The bulk engine over OFD licences, in CPU time, for an A/B of two code versions (issue 15).

Issues ``--n`` OFD licences into ``--corpus DIR`` once (a later run, of either tree,
reuses the deployment and the files, so both versions verify the same licences), then
times over them, with ``time.process_time`` in alternating rounds (best kept):
``verify_files`` (1 process, the deployment's online policy, chunks of 32: the batched
path) and ``verify_pdf`` file by file (one at a time). Run each tree in turn:

    (cd TREE && PYTHONPATH=$PWD python benchmarks/ofd_bulk_ab.py --corpus /tmp/ofdab \
        [--n 100] [--rounds 7] --label TREE)

(the script imports the tree it sits in: copy it into an older tree to run it there)
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_corpus(root: Path, n: int) -> tuple[Path, list[Path]]:
    """``n`` OFD licences issued in a fresh deployment under ``root`` (reused when there)."""
    home, files_dir = root / "home", root / "files"
    files = sorted(files_dir.glob("lic*.ofd"))
    if len(files) >= n and (home / "deployment.json").exists():
        return home, files[:n]
    from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
    from api.issuance import issue_one
    from signing.types import builtin_types

    init_deployment(home)
    dep = Deployment(Home(home), load_config(Home(home)))
    driving = builtin_types().get("DL")
    counter = itertools.count(400_000)
    files_dir.mkdir(parents=True, exist_ok=True)
    try:
        for i in range(n):
            with dep.registry.session() as s:
                data = issue_one(dep, s, type_code="DL", record=driving.example(next(counter)),
                                 department=DEMO_DEPARTMENT, actor="bench",
                                 file_format="ofd").pdf
            (files_dir / f"lic{i:05d}.ofd").write_bytes(data)
    finally:
        dep.close()
    return home, sorted(files_dir.glob("lic*.ofd"))[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--label", default="run")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)

    from api.deployment import Deployment, Home, load_config
    from api.routes.verification import deployment_policy
    from trust import sm2
    from verification import verify_files, verify_pdf

    home, paths = make_corpus(args.corpus, args.n)
    dep = Deployment(Home(home), load_config(Home(home)))
    try:
        policy = deployment_policy(dep)
        datas = [p.read_bytes() for p in paths]
        calls: list[int] = []
        real = sm2.verify_many

        def counted(items: object) -> list[bool]:
            items = list(items)  # type: ignore[call-overload]
            calls.append(len(items))
            return real(items)

        sm2.verify_many = counted  # type: ignore[assignment]
        assert all(r.passed for r in verify_files(paths, policy, chunk=32))
        sm2.verify_many = real  # type: ignore[assignment]
        assert all(verify_pdf(d, policy).passed for d in datas)

        def bulk() -> None:
            assert all(r.passed for r in verify_files(paths, policy, chunk=32))

        def single() -> None:
            assert all(verify_pdf(d, policy).passed for d in datas)

        rows = {"bulk verify_files (chunks of 32)": bulk, "verify_pdf one at a time": single}
        best = dict.fromkeys(rows, float("inf"))
        for _ in range(args.rounds):
            for name, fn in rows.items():
                start = time.process_time()
                fn()
                best[name] = min(best[name], time.process_time() - start)
    finally:
        dep.close()
    n = len(paths)
    print(f"{args.label}: {n} OFD licences, best of {args.rounds} alternating rounds, "
          f"SM2 verify {sm2.verify_backend_name()} (batch {sm2.batch_backend_name()}), "
          f"verify_many calls in one bulk pass "
          f"{calls or 'none'}, load {os.getloadavg()[0]:.2f}")
    for name, seconds in best.items():
        print(f"  {name}: {seconds / n * 1e3:.3f} ms a licence ({n / seconds:,.0f}/s CPU)")


if __name__ == "__main__":
    main()
