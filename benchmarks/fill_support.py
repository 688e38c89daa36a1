"""What the form-filling benchmarks share: the deployment, the redemptions and the batches.

``bench_fill.py`` (pytest-benchmark, wall clock and CPU rows) and ``fill_cpu.py``
(CPU-time A/B between trees, profile, floor) time the same work: one fill of a
service needing RIC, DL and SSC per person, and the parts a fill is made of. Each
batch function returns a callable that does the work once for every person and
returns how many fills' worth it did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.counter_fill import fill_redemption, scoped_source
from api.deployment import Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from api.services import ServiceDefinition, catalogue_for, fill_form
from tests.counter_support import SERVICE, person_records, write_service
from trust.indications import Indication
from trust.registry.models import Licence
from trust.registry.sealed import licence_file, licence_record
from trust.registry.service_grants import RedeemedLicence, ServiceRedemption
from verification import verify_pdf, verify_pdfs

TYPES = ("RIC", "DL", "SSC")
Batch = Callable[[], int]


def fill_deployment(root: Path, persons: int
                    ) -> tuple[Deployment, ServiceDefinition, list[ServiceRedemption]]:
    """A deployment at ``root`` with the test service and ``persons`` holders' 3 licences each,
    and the redemptions a counter would hold for them (records cut to the service's scope)."""
    init_deployment(root)
    write_service(root)
    deployment = Deployment(Home(root), load_config(Home(root)))
    try:
        service = catalogue_for(root).get(SERVICE)
        scope = service.scope()
        now = dt.datetime.now(dt.UTC)
        redemptions: list[ServiceRedemption] = []
        with deployment.registry.session() as session:
            for n in range(persons):
                records = person_records(9000 + n)
                items = []
                for code in TYPES:
                    issued = issue_one(deployment, session, type_code=code, record=records[code],
                                       department=deployment.config["demo_department"],
                                       actor="bench")
                    holder = licence_record(session,
                                            session.get(Licence, issued.licence_id)).holder
                    items.append(RedeemedLicence(issued.licence_id, code, True,
                                                 {f: holder[f] for f in scope[code]
                                                  if f in holder}))
                redemptions.append(ServiceRedemption(f"g{n}", SERVICE, service.version, "ref",
                                                     tuple(items), now))
    except BaseException:
        deployment.close()
        raise
    return deployment, service, redemptions


def stored_files(deployment: Deployment,
                 redemptions: list[ServiceRedemption]) -> list[list[bytes]]:
    """Each redemption's 3 files as the registry returns them (decrypted)."""
    with deployment.registry.session() as session:
        return [[licence_file(session, i.licence_id) for i in r.licences] for r in redemptions]


def fills(deployment: Deployment, service: ServiceDefinition,
          redemptions: list[ServiceRedemption], policy: Any) -> Batch:
    """What ``POST /v1/services/{code}/fill`` does after the grant is spent."""
    def batch() -> int:
        at = dt.datetime.now(dt.UTC)
        with deployment.registry.session() as session:
            for redemption in redemptions:
                out = fill_redemption(session, service, redemption, policy, at)
                assert not out["missing"], out["missing"]
        return len(redemptions)

    return batch


def verifications_only(files: list[list[bytes]], policy: Any) -> Batch:
    """The 3 files of each fill verified one at a time (same bytes, same policy)."""
    def batch() -> int:
        at = dt.datetime.now(dt.UTC)
        for triple in files:
            for data in triple:
                assert verify_pdf(data, policy, at).indication is Indication.TOTAL_PASSED
        return len(files)

    return batch


def chunk_only(files: list[list[bytes]], redemptions: list[ServiceRedemption],
               policy: Any) -> Batch:
    """The 3 files of each fill verified as the one chunk the fill uses (``verify_pdfs``)."""
    def batch() -> int:
        at = dt.datetime.now(dt.UTC)
        for triple, redemption in zip(files, redemptions, strict=True):
            named = [(i.licence_id, d) for i, d in zip(redemption.licences, triple, strict=True)]
            assert all(r.indication is Indication.TOTAL_PASSED
                       for r in verify_pdfs(named, policy, at))
        return len(files)

    return batch


def reads_only(deployment: Deployment, redemptions: list[ServiceRedemption]) -> Batch:
    """The 3 stored files of each fill read and decrypted, nothing else."""
    def batch() -> int:
        with deployment.registry.session() as session:
            for redemption in redemptions:
                for item in redemption.licences:
                    licence_file(session, item.licence_id)
        return len(redemptions)

    return batch


def fill_form_only(service: ServiceDefinition, redemptions: list[ServiceRedemption],
                   repeat: int = 1) -> Batch:
    """``fill_form`` alone, from records already verified (``repeat`` passes a batch)."""
    scope = service.scope()

    def batch() -> int:
        at = dt.datetime.now(dt.UTC)
        for _ in range(repeat):
            for redemption in redemptions:
                fill_form(service, [scoped_source(scope, item, "TOTAL_PASSED", at)
                                    for item in redemption.licences])
        return repeat * len(redemptions)

    return batch
