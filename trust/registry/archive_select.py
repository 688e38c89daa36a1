"""Choose licences for an archive package and gather what goes into it from the registry.

Personal data (holder record, file) is read only through the one decryption
path (:mod:`trust.registry.sealed`) and handed to :mod:`trust.archive`,
which encrypts it for the records office. The rest (status, history, audit
inclusion proofs against one signed tree head) is not personal and goes in
clear. Proofs come from one pass over the log's leaves, not one per entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from trust import merkle
from trust.errors import InputError, NotFoundError
from trust.registry.models import AuditEntry, Licence, LicenceEvent, TreeHead
from trust.registry.sealed import licence_file, licence_record

__all__ = ["MAX_LICENCES", "ArchiveItem", "Selection", "gather", "select_licences"]

MAX_LICENCES: Final = 100_000


@dataclass(frozen=True)
class Selection:
    """Exactly one of: licence ids, a licence type, a department."""

    licence_ids: tuple[str, ...] = ()
    type_code: str | None = None
    department: str | None = None

    def __post_init__(self) -> None:
        given = sum((bool(self.licence_ids), self.type_code is not None,
                     self.department is not None))
        if given != 1:
            raise InputError("choose the licences by ids, by --type or by --department "
                             "(exactly one) / 请只选择一种方式", code="archive.selection")

    def to_dict(self) -> dict[str, Any]:
        if self.licence_ids:
            return {"licences": list(self.licence_ids)}
        if self.type_code is not None:
            return {"type": self.type_code}
        return {"department": self.department}


def select_licences(session: Session, selection: Selection) -> list[Licence]:
    """The selected licences in id order; an unknown id is an error, not a silent gap."""
    stmt = select(Licence).order_by(Licence.id).limit(MAX_LICENCES + 1)
    if selection.licence_ids:
        stmt = stmt.where(Licence.id.in_(set(selection.licence_ids)))
    elif selection.type_code is not None:
        stmt = stmt.where(Licence.type_code == selection.type_code)
    else:
        stmt = stmt.where(Licence.department_code == selection.department)
    rows = list(session.execute(stmt).scalars())
    if len(rows) > MAX_LICENCES:
        raise InputError(f"more than {MAX_LICENCES} licences: export them in parts",
                         code="archive.too_many")
    missing = set(selection.licence_ids) - {r.id for r in rows}
    if missing:
        raise NotFoundError(f"no licence {sorted(missing)[0]!r}")
    if not rows:
        raise NotFoundError("no licence matches the selection / 没有符合条件的证照",
                            code="archive.empty")
    return rows


@dataclass(frozen=True)
class ArchiveItem:
    """One licence in a package: clear metadata, and its personal record and file."""

    metadata: dict[str, Any]
    record: bytes = field(repr=False)  # canonical JSON {"holder_name", "holder"}
    file: bytes = field(repr=False)
    file_ext: str = "pdf"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _record_json(holder_name: str, holder: dict[str, Any]) -> bytes:
    return json.dumps({"holder_name": holder_name, "holder": holder}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def gather(session: Session, licences: Sequence[Licence], head: TreeHead) -> list[ArchiveItem]:
    """Metadata, history and audit proofs (against ``head``) of each licence, with its data."""
    ids = [lic.id for lic in licences]
    leaves = [bytes(h) for h in session.execute(
        select(AuditEntry.leaf_hash).where(AuditEntry.seq <= head.size)
        .order_by(AuditEntry.seq)).scalars()]
    if len(leaves) != head.size:
        raise NotFoundError(f"the audit log has fewer than {head.size} entries")
    entries: dict[str, list[AuditEntry]] = {i: [] for i in ids}
    events: dict[str, list[LicenceEvent]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for entry in session.execute(select(AuditEntry).where(
                AuditEntry.subject.in_(chunk), AuditEntry.seq <= head.size)
                .order_by(AuditEntry.seq)).scalars():
            entries[entry.subject].append(entry)
        for event in session.execute(select(LicenceEvent).where(
                LicenceEvent.licence_id.in_(chunk)).order_by(LicenceEvent.id)).scalars():
            events[event.licence_id].append(event)
    items = []
    for lic in licences:
        held = licence_record(session, lic)  # the one decryption path
        data = licence_file(session, lic.id)
        ext = "ofd" if data[:2] == b"PK" else "pdf"
        metadata = {
            "id": lic.id, "type": lic.type_code, "department": lic.department_code,
            "status": lic.status, "status_index": lic.status_index,
            "valid_from": _iso(lic.valid_from), "valid_to": _iso(lic.valid_to),
            "issued_at": _iso(lic.issued_at), "superseded_by": lic.superseded_by,
            "file_sm3": lic.file_sm3, "file": f"personal/{lic.id}.{ext}",
            "record": f"personal/{lic.id}.record.json",
            "history": [{"at": _iso(e.at), "from": e.from_status, "to": e.to_status,
                         "reason": e.reason} for e in events[lic.id]],
            "audit": [{"seq": e.seq, "kind": e.kind,
                       "entry": bytes(e.canonical).decode("utf-8"),
                       "leaf_hash": bytes(e.leaf_hash).hex(),
                       "proof": [p.hex() for p in merkle.inclusion_proof(e.seq - 1, leaves)]}
                      for e in entries[lic.id]],
        }
        items.append(ArchiveItem(metadata, _record_json(held.holder_name, held.holder), data,
                                 ext))
    return items
