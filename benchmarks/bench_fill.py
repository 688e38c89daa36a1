"""一证通办 form filling: fills/s for a service needing 3 licences (RIC, DL, SSC), 1 process.

What one fill does here is what ``POST /v1/services/{code}/fill`` does after
the grant is spent (redemption excluded, as the issue asks): read each of the
3 stored files through the registry's decryption path, verify each with the
deployment's online policy (signature, seal, chain, time-stamp, live status,
file SM3 against the registry), cut each record to the scope and fill the
form. References measured in the same test: the 3 verifications alone (same
bytes, same policy; one at a time, and as the one chunk the fill verifies them
in, ``verify_pdfs``) and ``fill_form`` alone, which together say where the time
goes (the rest is reading and decrypting the 3 files); and the fill's
cryptographic floor (``crypto_floor``: SM4-GCM at rest, SM3 of the signed ranges
and files, the 6 SM2 verifications, nothing of ours around the calls), which
says how many fills per CPU-second this machine could do at best.
Run: ``.venv/bin/pytest benchmarks/bench_fill.py --benchmark-only``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest

from api.routes.verification import deployment_policy
from benchmarks.fill_support import (
    chunk_only,
    crypto_floor,
    fill_deployment,
    fill_form_only,
    fills,
    stored_files,
    verifications_only,
)

N_PERSONS: Final = 20
PATH: Final = "Form filling (一证通办), 3 SM2 licences, online"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    deployment, service, redemptions = fill_deployment(
        tmp_path_factory.mktemp("bench-fill") / "home", N_PERSONS)
    try:
        yield deployment, service, redemptions
    finally:
        deployment.close()


def test_fill_three_licences(benchmark: Any, setup: tuple[Any, ...], pair: Any,
                             figure: Any) -> None:
    """Fills/s (verification included) vs the 3 verifications alone and fill_form alone."""
    deployment, service, redemptions = setup
    policy = deployment_policy(deployment)
    files = stored_files(deployment, redemptions)
    fills(deployment, service, redemptions, policy)()  # warm the policy's caches
    rates = pair(benchmark, fills(deployment, service, redemptions, policy),
                 verifications_only(files, policy),
                 fill_form_only(service, redemptions, repeat=10))
    if rates is None:
        return
    ours, (verifies, form_only) = rates
    stat = f"median of rounds of {N_PERSONS} fills, wall clock, 1 process"
    figure(benchmark, PATH, "fills (verification included)", ours, "fills/s", statistic=stat,
           reference="the 3 verifications alone, same files and policy",
           reference_value=verifies)
    figure(benchmark, PATH, "fill_form alone (no verification)", form_only, "fills/s",
           statistic=stat)
    # Per core: CPU time of this process (robust on a shared machine), best of 3 alternating.
    ours_cpu, ref_cpu, chunk_cpu, floor_cpu = _cpu_rate(
        fills(deployment, service, redemptions, policy), verifications_only(files, policy),
        chunk_only(files, redemptions, policy), crypto_floor(deployment, redemptions))
    stat_cpu = (f"best of 3 alternating rounds of {N_PERSONS} fills, time.process_time, "
                "1 thread")
    figure(benchmark, PATH, "fills per CPU-second (verification included)", ours_cpu,
           "fills/s", statistic=stat_cpu, reference="the 3 verifications alone (CPU time)",
           reference_value=ref_cpu)
    figure(benchmark, PATH, "fills per CPU-second vs the fill's chunked verification",
           ours_cpu, "fills/s", statistic=stat_cpu,
           reference="the 3 verified as one chunk, verify_pdfs (CPU time)",
           reference_value=chunk_cpu)
    figure(benchmark, PATH, "fills per CPU-second vs the cryptographic floor", ours_cpu,
           "fills/s", statistic=stat_cpu,
           reference=("floor: SM4-GCM of the 3 stored files + SM3 of their signed ranges and "
                      "files + 6 SM2 verifies (verify_many), CPU time"),
           reference_value=floor_cpu)


def _cpu_rate(*batches: Callable[[], int]) -> list[float]:
    best = [0.0 for _ in batches]
    for _ in range(3):
        for k, batch in enumerate(batches):
            started = time.process_time()
            n = batch()
            best[k] = max(best[k], n / (time.process_time() - started))
    return best
