"""What the form-filling benchmarks share: the deployment, the redemptions and the batches.

``bench_fill.py`` (pytest-benchmark, wall clock and CPU rows) and ``fill_cpu.py``
(CPU-time A/B between trees, profile, floor) time the same work: one fill of a
service needing RIC, DL and SSC per person, the parts a fill is made of, and its
cryptographic floor (:func:`crypto_floor`). Each batch function returns a callable
that does the work once for every person and returns how many fills' worth it did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.counter_fill import fill_redemption, scoped_source
from api.deployment import Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from api.services import ServiceDefinition, catalogue_for, fill_form
from tests.counter_support import SERVICE, person_records, write_service
from trust import envelope, sm2, sm4_gcm
from trust.indications import Indication
from trust.keys import sm2_verification_key
from trust.registry.models import Licence, LicenceFile
from trust.registry.sealed import FILE_COLUMN, data_keys_of, licence_file, licence_record
from trust.registry.service_grants import RedeemedLicence, ServiceRedemption
from verification import verify_pdf, verify_pdfs
from verification.extract import plan_facts

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


# One stored file as the floor needs it: (data key, nonce, sealed bytes, associated data,
# the plaintext, the signed byte range's b, c, d).
_SealedFile = tuple[bytes, bytes, bytes, bytes, bytes, int, int, int]
FLOOR_PARTS = frozenset({"sm4", "sm3", "sm2"})


def crypto_floor(deployment: Deployment, redemptions: list[ServiceRedemption],
                 parts: frozenset[str] = FLOOR_PARTS) -> Batch:
    """The cryptography one fill cannot skip, with nothing of ours around the calls.

    For each of a fill's 3 stored files: SM4-GCM decryption at rest
    (``trust.sm4_gcm``, its fastest backend), SM3 of the signed byte ranges and of
    the file as issued (the registry binding), the common prefix hashed once as
    the verifier does (``hashlib``, OpenSSL); then the fill's 6 SM2 verifications
    (each file's CMS signature and its time-stamp token's) in one
    ``trust.sm2.verify_many`` call. Everything else -- reading the rows, unwrapping
    the data keys (cached in a fill too), parsing, building the inputs -- is done
    before timing. Not counted: SHA-256 of each file (a report field, not a check),
    certificate chains (cached across licences), the status read. ``parts`` times a
    subset (``sm4``, ``sm3``, ``sm2``) to say where the floor goes.
    """
    sealed: list[list[_SealedFile]] = []
    signatures: list[list[sm2.VerifyItem]] = []
    with deployment.registry.session() as session:
        keys = data_keys_of(session)
        assert keys is not None, "the bench deployment encrypts at rest"
        for redemption in redemptions:
            files: list[_SealedFile] = []
            items: list[sm2.VerifyItem] = []
            for item in redemption.licences:
                lid = item.licence_id
                row = session.get(LicenceFile, lid)
                licence = session.get(Licence, lid)
                assert row is not None
                assert licence is not None
                assert licence.data_key is not None
                stored = bytes(row.pdf)
                header = stored[:envelope.HEADER_BYTES]
                key = keys.data_key(lid, bytes(licence.data_key), licence.data_kek)
                plain = licence_file(session, lid)
                plan = plan_facts(plain, file_sm3=True)
                assert plan.fast is not None, "a licence the verifier reads on its fast path"
                _, b, c, d = plan.fast.found.byte_range
                files.append((key, header[5:], stored,
                              envelope.associated_data(header, FILE_COLUMN, lid), plain,
                              b, c, d))
                for spki, oid, message, signature in plan.signature_inputs():
                    public = sm2_verification_key(spki, oid)
                    assert public is not None, "both signatures of a licence are SM2"
                    items.append((public, message, signature))
            assert len(items) == 6, len(items)
            sealed.append(files)
            signatures.append(items)
    start = envelope.HEADER_BYTES
    sm4, sm3, sm2s = "sm4" in parts, "sm3" in parts, "sm2" in parts

    def batch() -> int:
        for files, items in zip(sealed, signatures, strict=True):
            for key, nonce, stored, aad, plain, b, c, d in files:
                view = memoryview(sm4_gcm.decrypt(key, nonce, stored, aad, start)
                                  if sm4 else plain)
                if sm3:
                    signed = hashlib.new("sm3", view[:b])
                    whole = signed.copy()
                    signed.update(view[c:c + d])
                    whole.update(view[b:c + d])
                    signed.digest()
                    whole.digest()
            if sm2s:
                assert all(sm2.verify_many(items))
        return len(sealed)

    return batch
