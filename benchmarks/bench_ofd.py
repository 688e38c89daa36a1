"""OFD licences end to end: issuance per core, and verification against its floor.

    .venv/bin/pytest benchmarks/bench_ofd.py --benchmark-only -s -p no:cacheprovider

Both figures are wall-clock over a stated number of distinct licences in one
process (one core), with the statistic named:

- issuance: ``issue_one(..., file_format="ofd")`` over ``N`` records (render,
  font subset, seal, RFC 3161 token, registry rows, audit entry; service head
  policy), licences per second = N / wall time, beside SM2 PDF issuance of
  ``N`` other records in the same test (the ratio survives a loaded machine).
  One licence of each format is issued untimed first, as a service's first
  requests would be: it opens the keys (scrypt-wrapped: ~0.3 s) and parses
  the font (~0.3 s) once per process, which the OFD run, timed first, used
  to pay alone while the PDF reference ran warm;
- verification: ``verify_pdf`` with the deployment's online policy (registry
  status, seal, chain, time-stamp) over the same ``N`` files, against the
  per-file floor measured in the same test on the same files: two SM2
  verifies through ``trust.keys`` (the seal signature over DER(TBS_Sign) and
  the time-stamp token's signature over its signed attributes) plus SM3 over
  every referenced entry and Signature.xml. The ratio is verify rate / floor
  rate (1.0 = nothing but the cryptography the format requires).
"""

from __future__ import annotations

import io
import itertools
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from api.routes.verification import deployment_policy
from signing.types import builtin_types
from trust import oids
from trust.indications import Indication
from trust.keys import verify_signature
from trust.seal import parse_seal_signature
from trust.sm3 import sm3
from verification import verify_pdf
from verification.certinfo import cert_info
from verification.cms import parse_cms
from verification.ofd.seal_value import read_seal_signature

TYPES = builtin_types()
N = int(os.environ.get("SEALTRUST_BENCH_OFD", "200"))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("bench-ofd") / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    dep.defer_audit_heads()  # what the service lifespan does
    yield dep
    dep.close()


@pytest.fixture(scope="module")
def issued(deployment: Deployment) -> dict[str, Any]:
    counter = itertools.count(300_000)
    driving = TYPES.get("DL")
    for file_format in ("ofd", "pdf"):  # the process's one-time costs, untimed (docstring)
        with deployment.registry.session() as s:
            issue_one(deployment, s, type_code="DL", record=driving.example(next(counter)),
                      department=DEMO_DEPARTMENT, actor="bench", heads=deployment.audit_heads,
                      file_format=file_format)
    files: list[bytes] = []
    start = time.perf_counter()
    for _ in range(N):
        with deployment.registry.session() as s:
            files.append(issue_one(deployment, s, type_code="DL",
                                   record=driving.example(next(counter)),
                                   department=DEMO_DEPARTMENT, actor="bench",
                                   heads=deployment.audit_heads, file_format="ofd").pdf)
    return {"files": files, "seconds": time.perf_counter() - start}


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def test_ofd_issuance_per_core(benchmark: Any, figure: Any, deployment: Deployment,
                               issued: dict[str, Any]) -> None:
    """OFD issuance, and PDF issuance of as many licences in the same test as reference."""
    counter = itertools.count(600_000)
    driving = TYPES.get("DL")
    start = time.perf_counter()
    for _ in range(N):
        with deployment.registry.session() as s:
            issue_one(deployment, s, type_code="DL", record=driving.example(next(counter)),
                      department=DEMO_DEPARTMENT, actor="bench", heads=deployment.audit_heads)
    pdf = N / (time.perf_counter() - start)
    rate = N / issued["seconds"]
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    figure(benchmark, "OFD issuance", "one at a time, sm2, OFD", rate, "licences/s",
           statistic=f"wall clock over {N} licences issued one after another, 1 process",
           reference=f"SM2 PDF issuance of {N} other licences, same test", reference_value=pdf)
    print(f"\nOFD issuance: {N} licences in {issued['seconds']:.2f} s = {rate:.1f}/s; "
          f"PDF issuance (SM2) {pdf:.1f}/s; OFD/PDF {rate / pdf:.2f} ({_load()})")


def _floor_one(data: bytes, read_seal: Callable[[bytes], Any] = parse_seal_signature) -> None:
    """Only the cryptography the format requires of one file.

    ``read_seal`` is the SES_Signature reader: the strict asn1crypto parse by default, or
    the verifier's own (``verification.ofd.seal_value``) for the fair floor, since the
    strict parse is parsing, not cryptography, and costs about as much as both SM2
    verifies; a floor that keeps it flatters any verifier that does not.
    """
    z = zipfile.ZipFile(io.BytesIO(data))
    for info in z.infolist():
        if not info.filename.endswith("SignedValue.dat"):
            sm3(z.read(info))  # every referenced entry and Signature.xml
    sig = read_seal(z.read("Doc_0/Signs/Sign_0/SignedValue.dat"))
    assert verify_signature(cert_info(sig.signer_cert).spki, oids.SM2_WITH_SM3,
                            sig.signed_message, sig.signature)
    assert sig.timestamp is not None
    token = parse_cms(sig.timestamp, timestamp=True)
    assert token.signed_attrs is not None
    assert token.signature_oid is not None
    assert verify_signature(cert_info(token.signer_cert).spki, token.signature_oid,
                            token.signed_attrs, token.signature)


def _floor_fast_reader(data: bytes) -> None:
    """:func:`_floor_one` with the SES_Signature read as the verifier reads it."""
    _floor_one(data, read_seal_signature)


def test_ofd_verification_against_its_floor(benchmark: Any, figure: Any,
                                            deployment: Deployment,
                                            issued: dict[str, Any]) -> None:
    files: list[bytes] = issued["files"]
    policy = deployment_policy(deployment)
    verify_pdf(files[0], policy)  # open the registry engine before timing
    start = time.perf_counter()
    reports = [verify_pdf(f, policy) for f in files]
    ours = time.perf_counter() - start
    assert all(r.indication is Indication.TOTAL_PASSED for r in reports)
    start = time.perf_counter()
    for f in files:
        _floor_one(f)
    floor = time.perf_counter() - start
    start = time.perf_counter()
    for f in files:
        _floor_fast_reader(f)
    fast_floor = time.perf_counter() - start
    ratio = floor / ours
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    figure(benchmark, "OFD verification", "our SM2 OFD licences, online, every check",
           N / ours, "licences/s",
           statistic=f"wall clock over {N} distinct licences, 1 process",
           reference="floor: 2 SM2 verifies + SM3 of the referenced bytes, same files",
           reference_value=N / floor)
    figure(benchmark, "OFD verification", "our SM2 OFD licences, online, every check",
           N / ours, "licences/s",
           statistic=f"wall clock over {N} distinct licences, 1 process",
           reference="the same floor, SES_Signature read by the verifier's reader",
           reference_value=N / fast_floor)
    print(f"\nOFD verification: {N / ours:.1f}/s; floor (2 SM2 verifies + SM3 of the "
          f"referenced bytes) {N / floor:.1f}/s; ratio {ratio:.2f}; with the verifier's "
          f"seal reader {N / fast_floor:.1f}/s, ratio {fast_floor / ours:.2f} ({_load()})")
