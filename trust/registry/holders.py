"""Holder references in the registry: backfill for licences issued before they existed.

Resumable: each batch commits on its own and only rows whose ``holder_ref``
is still NULL are read, walking the primary key, so an interrupted run picks
up where it stopped and a finished one is a no-op. Rows of types that name no
holder identifier stay NULL (no holder sees them), and are passed over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from sqlalchemy import select, update

from trust.holder_ref import HolderKey
from trust.registry.db import Registry
from trust.registry.models import Licence
from trust.registry.sealed import licence_record

__all__ = ["BACKFILL_BATCH", "backfill_holder_refs"]

BACKFILL_BATCH: Final = 500


def backfill_holder_refs(
    registry: Registry, key: HolderKey, holder_fields: Mapping[str, str | None], *,
    batch: int = BACKFILL_BATCH, on_batch: Callable[[int], None] | None = None,
) -> int:
    """Set ``holder_ref`` where it is NULL; ``holder_fields`` maps type code -> id field.

    Returns how many rows it set. The identifier is read through the ORM (the
    one decryption path, once records are encrypted) and never logged.
    """
    done, after = 0, ""
    while True:
        with registry.session() as session:
            rows = list(session.execute(
                select(Licence).where(Licence.holder_ref.is_(None), Licence.id > after)
                .order_by(Licence.id).limit(max(1, batch))).scalars())
            if not rows:
                return done
            for licence in rows:
                field_name = holder_fields.get(licence.type_code)
                # the one read path: plaintext rows as they are, sealed ones decrypted
                holder = licence_record(session, licence).holder if field_name else {}
                value = holder.get(field_name) if field_name else None
                if value is not None and value != "":
                    session.execute(update(Licence).where(Licence.id == licence.id)
                                    .values(holder_ref=key.ref(str(value))))
                    done += 1
            after = rows[-1].id
        if on_batch is not None:
            on_batch(done)
