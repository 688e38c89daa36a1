"""CPU-time A/B of a 一证通办 fill (3 SM2 licences, online), for a shared machine.

Run it once per code version, alternating (the label is printed first):

    cd OLD_TREE && PYTHONPATH=$PWD python benchmarks/fill_cpu.py old
    cd NEW_TREE && PYTHONPATH=$PWD python benchmarks/fill_cpu.py new
    PYTHONPATH=$PWD python benchmarks/fill_cpu.py new --profile   # cProfile of the fills
    PYTHONPATH=$PWD python benchmarks/fill_cpu.py new --floor     # what a fill cannot skip

Each run issues 20 persons' RIC, DL and SSC in a temporary deployment (as
``bench_fill.py`` does) and times ``fill_redemption`` over the 20 redemptions
(redemption excluded), then the 3 verifications alone with ``verify_pdf``
(same files, same policy), the fill's chunked ``verify_pdfs`` of the 3 (where the
tree has it), the 3 stored files' reads alone (registry + SM4-GCM) and
``fill_form`` alone, each 15 rounds with
``time.process_time``; the best round is reported. ``--floor`` prints, per
fill, the cryptography every fill must redo (the 6 SM2 verifications through
``verify_many``, SM3 and SHA-256 of the 3 files) and the judging of already
extracted facts (checks and status read, no parsing, no signature maths).
"""

from __future__ import annotations

import cProfile
import datetime as dt
import logging
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from api.counter_fill import fill_redemption, scoped_source
from api.deployment import Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from api.routes.verification import deployment_policy
from api.services import catalogue_for, fill_form
from tests.counter_support import SERVICE, person_records, write_service
from trust.indications import Indication
from trust.registry.models import Licence
from trust.registry.sealed import licence_file, licence_record
from trust.registry.service_grants import RedeemedLicence, ServiceRedemption
from verification import verify_pdf

N = 20
ROUNDS = 15


def _best(batch: Callable[[], int]) -> float:
    """Items per CPU-second of the best of ``ROUNDS`` rounds."""
    best = 0.0
    for _ in range(ROUNDS):
        start = time.process_time()
        n = batch()
        best = max(best, n / (time.process_time() - start))
    return best


def _floor(files: list[list[bytes]], policy: Any) -> None:
    """Milliseconds of CPU per fill of the parts no fill can skip, and of judging alone."""
    import hashlib

    from verification import extract_facts, judge
    from verification.engine import _prefetched
    from verification.extract import plan_facts
    from verification.sm2_batch import verified_together

    inputs = [[i for d in triple for i in plan_facts(d).signature_inputs()] for triple in files]
    assert all(len(i) == 6 for i in inputs)
    facts = [[extract_facts(d, file_sm3=True) for d in triple] for triple in files]

    def sm2_batches() -> int:
        for batch in inputs:
            with verified_together(batch):
                pass
        return len(files)

    def digests() -> int:
        for triple in files:
            for d in triple:
                hashlib.new("sm3", d).digest()
                hashlib.sha256(d).digest()
        return len(files)

    def judging() -> int:
        at = dt.datetime.now(dt.UTC)
        for triple in facts:
            with _prefetched(policy, triple, at):
                assert all(judge(f, policy, at).passed for f in triple)
        return len(files)

    sizes = sorted(len(d) for triple in files for d in triple)
    print(f"files: {sizes[0]:,} to {sizes[-1]:,} bytes", flush=True)
    for name, batch in (("6 SM2 verifications (verify_many)", sm2_batches),
                        ("SM3 + SHA-256 of the 3 files", digests),
                        ("judging 3 extracted facts (checks + status read)", judging)):
        print(f"{name}: {1000 / _best(batch):.2f} ms CPU per fill", flush=True)


def main(label: str, profile: bool, floor: bool = False) -> None:
    logging.disable(logging.CRITICAL)
    root = Path(tempfile.mkdtemp()) / "home"
    init_deployment(root)
    write_service(root)
    deployment = Deployment(Home(root), load_config(Home(root)))
    service = catalogue_for(root).get(SERVICE)
    scope = service.scope()
    now = dt.datetime.now(dt.UTC)
    redemptions: list[ServiceRedemption] = []
    try:
        with deployment.registry.session() as session:
            for n in range(N):
                records = person_records(9000 + n)
                items = []
                for code in ("RIC", "DL", "SSC"):
                    issued = issue_one(deployment, session, type_code=code,
                                       record=records[code],
                                       department=deployment.config["demo_department"],
                                       actor="bench")
                    holder = licence_record(session,
                                            session.get(Licence, issued.licence_id)).holder
                    items.append(RedeemedLicence(issued.licence_id, code, True,
                                                 {f: holder[f] for f in scope[code]
                                                  if f in holder}))
                redemptions.append(ServiceRedemption(f"g{n}", SERVICE, service.version, "ref",
                                                     tuple(items), now))
        policy = deployment_policy(deployment)
        with deployment.registry.session() as session:
            files = [[licence_file(session, i.licence_id) for i in r.licences]
                     for r in redemptions]

        def fills() -> int:
            at = dt.datetime.now(dt.UTC)
            with deployment.registry.session() as session:
                for redemption in redemptions:
                    out = fill_redemption(session, service, redemption, policy, at)
                    assert not out["missing"], out["missing"]
            return len(redemptions)

        def verifications() -> int:
            at = dt.datetime.now(dt.UTC)
            for triple in files:
                for data in triple:
                    assert verify_pdf(data, policy, at).indication is Indication.TOTAL_PASSED
            return len(files)

        def form_only() -> int:
            at = dt.datetime.now(dt.UTC)
            for redemption in redemptions:
                fill_form(service, [scoped_source(scope, item, "TOTAL_PASSED", at)
                                    for item in redemption.licences])
            return len(redemptions)

        def reads() -> int:  # the 3 stored files read and decrypted, nothing else
            with deployment.registry.session() as session:
                for redemption in redemptions:
                    for item in redemption.licences:
                        licence_file(session, item.licence_id)
            return len(redemptions)

        rows: dict[str, Callable[[], int]] = {"fills": fills, "verifications_only": verifications}
        try:  # the fill's own chunk verification (trees that have it)
            from verification import verify_pdfs

            def chunked() -> int:
                at = dt.datetime.now(dt.UTC)
                for r, triple in zip(redemptions, files, strict=True):
                    reports = verify_pdfs([(i.licence_id, d) for i, d in
                                           zip(r.licences, triple, strict=True)], policy, at)
                    assert all(rep.passed for rep in reports)
                return len(files)

            rows["verify_pdfs_only"] = chunked
        except ImportError:
            pass
        rows.update(reads_only=reads, fill_form_only=form_only)
        fills()  # warm the policy's caches
        if floor:
            _floor(files, policy)
            return
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(10):
                fills()
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(120)
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
            return
        rates = {name: _best(batch) for name, batch in rows.items()}
        print(label, " ".join(f"{k}={v:,.0f}/s" for k, v in rates.items()),
              f"ratio={rates['fills'] / rates['verifications_only']:.2f}", flush=True)
    finally:
        deployment.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run", "--profile" in sys.argv,
         "--floor" in sys.argv)
