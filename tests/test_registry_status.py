"""RegistryStatus (online status) on SQLite and PostgreSQL: the prebuilt Core statements
read the same answers the ORM did, and the registered file SM3 comes with the status."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from tests.db_support import db_url  # noqa: F401  (fixture)
from trust.indications import Indication, SubIndication
from trust.registry import Registry
from trust.registry.db import migrate
from trust.registry.models import (
    CertificateRecord,
    Department,
    Licence,
    LicenceEvent,
    SealRecord,
)
from verification.status import RegistryStatus

T0 = datetime(2026, 6, 1, tzinfo=UTC)
LID = "L1-BL-11330100002482077H-20260601-00000001-X"


def _fill(url: str) -> tuple[bytes, bytes]:
    leaf, ca = b"leaf certificate", b"issuing ca"
    registry = Registry(url)
    try:
        with registry.session() as s:
            s.add(Department(code="d", name="d", uscc="11330100002482077H", created_at=T0))
            s.flush()
            s.add(SealRecord(es_id="S1", department_code="d", name="d", seal_type=1, der=b"x",
                             valid_start=T0, valid_end=T0 + timedelta(days=365),
                             status="revoked", revoked_at=T0 + timedelta(days=10)))
            s.flush()
            s.add(Licence(id=LID, type_code="BL", department_code="d", holder_name="h",
                          holder={}, valid_from=T0, status="revoked", status_index=1,
                          file_sm3="ab" * 32, seal_es_id="S1", key_uri="k", issued_at=T0))
            s.flush()
            s.add_all([LicenceEvent(licence_id=LID, at=T0, from_status=None, to_status="valid",
                                    reason="issued"),
                       LicenceEvent(licence_id=LID, at=T0 + timedelta(days=20),
                                    from_status="valid", to_status="revoked", reason="x")])
            for der, revoked in ((leaf, T0 + timedelta(days=30)), (ca, None)):
                s.add(CertificateRecord(fingerprint=hashlib.sha256(der).hexdigest(), role="r",
                                        subject=der.decode(), der=der, not_before=T0,
                                        not_after=T0 + timedelta(days=999), revoked_at=revoked))
    finally:
        registry.close()
    return leaf, ca


def test_registry_status_reads(db_url: str) -> None:  # noqa: F811
    migrate(db_url)
    leaf, ca = _fill(db_url)
    status = RegistryStatus(db_url)
    try:
        day = timedelta(days=1)
        assert status.licence_status(LID, T0 - day).sub_indication is SubIndication.TRY_LATER
        assert status.licence_status(LID, T0 + day).indication is Indication.TOTAL_PASSED
        late = status.licence_status(LID, T0 + 21 * day)
        assert late.sub_indication is SubIndication.REVOKED
        assert status.licence_status("L1-nope", T0).sub_indication is SubIndication.TRY_LATER
        assert status.registered_file(LID, "ab" * 32).indication is Indication.TOTAL_PASSED
        other = status.registered_file(LID, "cd" * 32)
        assert other.indication is Indication.TOTAL_FAILED and "not the registered" in other.detail
        assert status.registered_file(LID, None).indication is Indication.INDETERMINATE
        assert status.registered_file("L1-nope", "ab" * 32).indication is \
            Indication.INDETERMINATE
        assert status.seal_status("S1", T0 + 5 * day, T0).passed
        assert status.seal_status("S1", T0 + 11 * day, T0).sub_indication is \
            SubIndication.REVOKED
        assert status.seal_status("S2", T0, T0).sub_indication is SubIndication.TRY_LATER
        root = b"root"
        assert status.check((leaf, ca, root), T0 + day).passed
        assert status.check((leaf, ca, root), T0 + 31 * day).sub_indication is \
            SubIndication.REVOKED
        assert status.check((b"unknown", ca, root), T0).sub_indication is \
            SubIndication.TRY_LATER
    finally:
        status.close()


def test_registry_status_reads_the_same_from_a_chunk(db_url: str) -> None:  # noqa: F811
    """The bulk engine's one-statement chunk read (issue 15) answers every question above
    as the per-file statements do, on both databases; ids it did not cover still work."""
    migrate(db_url)
    leaf, ca = _fill(db_url)
    status = RegistryStatus(db_url)
    day = timedelta(days=1)
    fps = [hashlib.sha256(d).hexdigest() for d in (leaf, ca, b"unknown")]
    ids, seals = [LID, "L1-nope"], ["S1", "S2"]
    try:
        for at in (T0 - day, T0 + day, T0 + 5 * day, T0 + 11 * day, T0 + 21 * day,
                   T0 + 31 * day):
            plain = [status.licence_status(LID, at), status.licence_status("L1-nope", at),
                     status.registered_file(LID, "ab" * 32),
                     status.registered_file(LID, "cd" * 32),
                     status.seal_status("S1", at, at), status.seal_status("S2", at, at),
                     status.check((leaf, ca, b"root"), at),
                     status.check((b"unknown", ca, b"root"), at)]
            with status.chunk(ids, seals, fps, at):
                chunked = [status.licence_status(LID, at),
                           status.licence_status("L1-nope", at),
                           status.registered_file(LID, "ab" * 32),
                           status.registered_file(LID, "cd" * 32),
                           status.seal_status("S1", at, at), status.seal_status("S2", at, at),
                           status.check((leaf, ca, b"root"), at),
                           status.check((b"unknown", ca, b"root"), at)]
            assert chunked == plain, at
        with status.chunk([], [], [], T0):  # nothing prefetched: every answer queried
            assert status.licence_status(LID, T0 + day).passed
            assert status.check((leaf, ca, b"root"), T0 + day).passed
        with status.chunk([LID], [], [], T0 + day):  # another time than prefetched
            assert status.licence_status(LID, T0 + 21 * day).sub_indication is \
                SubIndication.REVOKED
    finally:
        status.close()


def test_a_chunk_answers_only_its_own_thread(db_url: str) -> None:  # noqa: F811
    """The service shares one policy between request threads: rows a thread prefetched
    for its chunk never answer another thread, which reads the registry as it is now."""
    import threading

    migrate(db_url)
    _fill(db_url)
    status = RegistryStatus(db_url)
    at = T0 + timedelta(days=1)
    other: list[Indication] = []
    try:
        with status.chunk([LID], ["S1"], [], at):
            registry = Registry(db_url)
            try:
                with registry.session() as s:  # suspended after the chunk was read
                    s.add(LicenceEvent(licence_id=LID, at=T0 + timedelta(hours=12),
                                       from_status="valid", to_status="suspended",
                                       reason="y"))
            finally:
                registry.close()
            thread = threading.Thread(
                target=lambda: other.append(status.licence_status(LID, at).indication))
            thread.start()
            thread.join()
            assert status.licence_status(LID, at).passed  # this chunk: as read at its start
        assert other == [Indication.INDETERMINATE]  # the other thread: suspended, now
        assert status.licence_status(LID, at).indication is Indication.INDETERMINATE
    finally:
        status.close()
