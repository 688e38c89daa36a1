"""A province-sized deployment: ~90 departments and ~160 seals, then issuance across them.

    .venv/bin/pytest benchmarks/bench_scale.py --benchmark-only -s

Measures how long setting up the departments (SM2 key + certificate each) and
their seals takes, and that issuance speed does not depend on how many seals
the registry holds (seal choice is an indexed query per department).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from api.deployment import Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.departments import add_department, department_certificates
from signing.seals import make_department_seal
from signing.types import builtin_types
from trust.licence_id import uscc_check_char
from trust.registry.models import SealRecord

DEPARTMENTS = 90
SEALS = 160
TYPES = builtin_types()


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, float]]:
    root = tmp_path_factory.mktemp("province") / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    now = datetime.now(UTC)
    start = time.perf_counter()
    maker, maker_cert = dep.key("sm2-seal-maker"), dep.certificate("sm2-seal-maker")
    with dep.registry.session() as s:
        for i in range(DEPARTMENTS):
            body = f"1133010000{i:07d}"
            add_department(s, dep.stores, dep.home.pin(), code=f"d{i:03d}",
                           name=f"示例市第{i}局", uscc=body + uscc_check_char(body),
                           region="330100", roots=dep.roots(), algorithms=("sm2",), at=now,
                           actor="bench")
        for n in range(SEALS):
            code = f"d{n % DEPARTMENTS:03d}"
            make_department_seal(s, department_code=code, maker_key=maker, maker_cert=maker_cert,
                                 signer_certs=department_certificates(s, code), valid_start=now,
                                 valid_end=now + timedelta(days=365), at=now, actor="bench")
    yield dep, time.perf_counter() - start
    dep.close()


def test_setup_of_a_province(benchmark: Any, province: tuple[Deployment, float]) -> None:
    dep, seconds = province
    with dep.registry.session() as s:
        seals = s.execute(select(func.count()).select_from(SealRecord)).scalar_one()
    assert seals >= SEALS
    benchmark.extra_info.update({"departments": DEPARTMENTS, "seals": seals,
                                 "setup_seconds": round(seconds, 1)})
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\n{DEPARTMENTS} departments and {seals} seals set up in {seconds:.1f} s")


def test_issue_across_departments(benchmark: Any, province: tuple[Deployment, float]) -> None:
    dep, _ = province
    rng = random.Random(7)
    counter = itertools.count()
    driving = TYPES.get("DL")

    def one() -> None:
        code = f"d{rng.randrange(DEPARTMENTS):03d}"
        with dep.registry.session() as s:
            issue_one(dep, s, type_code="DL", record=driving.example(next(counter)),
                      department=code, actor="bench")

    benchmark.pedantic(one, rounds=60, iterations=1, warmup_rounds=3)
    benchmark.extra_info["licences_per_s"] = round(1 / benchmark.stats.stats.median, 1)
