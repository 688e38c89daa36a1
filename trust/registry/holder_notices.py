"""Tell holders that a job changed their licences (expired, revoked, cancelled, renewed).

The notification is queued in the transaction that makes the change (so it
exists exactly when the change does), by holder reference and licence id
only, once per licence and kind (dedupe key ``<kind>:<licence id>``): a
rerun, or a second node, queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from trust.registry.models import Licence
from trust.registry.notifications import enqueue_notification

__all__ = ["notify_change"]


def notify_change(session: Session, kind: str, licence_ids: Sequence[str],
                  at: datetime) -> int:
    """Queue ``kind`` for the holders of ``licence_ids``; how many were queued now.

    Licences without a holder reference (no holder id in their type) are skipped:
    there is nobody to address.
    """
    if not licence_ids:
        return 0
    refs = session.execute(select(Licence.id, Licence.holder_ref)
                           .where(Licence.id.in_(list(licence_ids)),
                                  Licence.holder_ref.is_not(None)))
    return sum(enqueue_notification(session, kind=kind, holder_ref=str(r.holder_ref),
                                    licence_id=str(r.id), dedupe_key=f"{kind}:{r.id}", at=at)
               for r in refs)
