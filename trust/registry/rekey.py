"""Resumable bulk work on sealed data: encrypt plaintext rows, re-wrap data keys under a new KEK.

Both walk the licences in id order in batches, one transaction per batch,
and pick rows by what they still need (``data_key IS NULL``; ``data_kek`` is
another KEK), so an interrupted run (crash, kill, exception) leaves whole
batches done or untouched and a second run continues where the first one
stopped. Every row update repeats its selection condition, so two runs at
once never seal a row twice. Re-wrapping rewrites only ``data_key`` and
``data_kek``: the sealed record and file are not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from trust import envelope
from trust.envelope import SealedDataError
from trust.registry.db import Registry, begin_write
from trust.registry.models import Licence, LicenceFile
from trust.registry.sealed import DataKeys, seal_row_values

__all__ = ["BatchProgress", "count_plaintext", "count_to_rewrap", "encrypt_rows",
           "rewrap_rows"]

_LICENCES = cast(Table, Licence.__table__)
_FILES = cast(Table, LicenceFile.__table__)
Progress = Callable[["BatchProgress"], object]


@dataclass(frozen=True)
class BatchProgress:
    """One committed batch: how many rows it changed and the last licence id it reached."""

    rows: int
    last_id: str


def count_plaintext(session: Session) -> int:
    """Licences whose personal data is still in clear."""
    return int(session.execute(select(func.count()).select_from(_LICENCES).where(
        _LICENCES.c.data_key.is_(None))).scalar_one())


def count_to_rewrap(session: Session, target_kek: str) -> int:
    """Sealed licences whose data key is wrapped by a KEK other than ``target_kek``."""
    return int(session.execute(select(func.count()).select_from(_LICENCES).where(
        _LICENCES.c.data_kek.is_not(None), _LICENCES.c.data_kek != target_kek)).scalar_one())


def _encrypt_one(session: Session, keys: DataKeys, row: Any) -> bool:
    connection = session.connection()
    pdf = connection.execute(select(_FILES.c.pdf).where(_FILES.c.licence_id == row.id)
                             ).scalar()
    if pdf is None:
        raise SealedDataError(f"licence {row.id} has no stored file", code="data.missing")
    if envelope.is_sealed(bytes(pdf)):
        raise SealedDataError(f"the file of licence {row.id} is sealed but its record is not",
                              code="data.missing")
    # The keyed holder reference needs no plaintext here: issuance sets it, and
    # trust.registry.holders.backfill_holder_refs reads sealed records through licence_record.
    sealed = seal_row_values(keys, row.id, row.holder_name, row.holder or {}, bytes(pdf))
    done = connection.execute(update(_LICENCES).where(
        _LICENCES.c.id == row.id, _LICENCES.c.data_key.is_(None)).values(**sealed.licence))
    if getattr(done, "rowcount", 0) != 1:
        return False  # sealed meanwhile by another run
    connection.execute(update(_FILES).where(_FILES.c.licence_id == row.id)
                       .values(pdf=sealed.pdf))
    return True


def encrypt_rows(registry: Registry, keys: DataKeys, *, batch_size: int = 200,
                 on_batch: Progress | None = None,
                 after_batch: Callable[[Session], object] | None = None) -> int:
    """Seal every plaintext licence with ``keys`` (current KEK); returns how many were sealed.

    ``after_batch`` runs inside each batch's transaction (the CLI signs the
    audit head there).
    """
    total, last = 0, ""
    while True:
        with registry.session() as session:
            begin_write(session)
            rows = session.execute(
                select(_LICENCES.c.id, _LICENCES.c.holder_name, _LICENCES.c.holder)
                .where(_LICENCES.c.data_key.is_(None), _LICENCES.c.id > last)
                .order_by(_LICENCES.c.id).limit(batch_size)).all()
            if not rows:
                return total
            changed = sum(_encrypt_one(session, keys, row) for row in rows)
            last = rows[-1].id
            if after_batch is not None:
                after_batch(session)
        total += changed
        if on_batch is not None:
            on_batch(BatchProgress(changed, last))


def rewrap_rows(registry: Registry, keys: DataKeys, target_kek: str, *, batch_size: int = 500,
                on_batch: Progress | None = None,
                after_batch: Callable[[Session], object] | None = None) -> int:
    """Re-wrap every data key not under ``target_kek`` with it; returns how many were re-wrapped."""
    target = keys.kek(target_kek)
    total, last = 0, ""
    while True:
        with registry.session() as session:
            begin_write(session)
            rows = session.execute(
                select(_LICENCES.c.id, _LICENCES.c.data_key, _LICENCES.c.data_kek)
                .where(_LICENCES.c.data_kek.is_not(None), _LICENCES.c.data_kek != target_kek,
                       _LICENCES.c.id > last)
                .order_by(_LICENCES.c.id).limit(batch_size)).all()
            if not rows:
                return total
            changed = 0
            connection = session.connection()
            for row in rows:
                data_key = keys.data_key(row.id, bytes(row.data_key), row.data_kek)
                wrapped = envelope.wrap_data_key(target, data_key, row.id)
                done = connection.execute(update(_LICENCES).where(
                    _LICENCES.c.id == row.id, _LICENCES.c.data_kek == row.data_kek)
                    .values(data_key=wrapped, data_kek=target_kek))
                changed += getattr(done, "rowcount", 0) == 1
            last = rows[-1].id
            if after_batch is not None:
                after_batch(session)
        total += changed
        if on_batch is not None:
            on_batch(BatchProgress(changed, last))

