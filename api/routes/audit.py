"""The audit log: entries, signed tree heads, inclusion and consistency proofs (auditors)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.auth import Auditor
from api.deps import DeploymentDep, SessionDep
from api.schemas import AuditEntryOut, ProofOut, TreeHeadOut
from trust import audit
from trust.errors import NotFoundError
from trust.registry.models import AuditEntry, TreeHead

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_MAX = 2**62  # tree sizes fit a signed 64-bit column


def _head(head: TreeHead) -> TreeHeadOut:
    return TreeHeadOut(size=head.size, root_hash=head.root_hash.hex(), at=head.at,
                       signed_bytes=head.signed_bytes.decode(), signature=head.signature.hex(),
                       signature_algorithm=head.signature_algorithm,
                       key_spki_sha256=head.key_spki_sha256)


@router.get("/entries", operation_id="audit_entries")
def entries(_: Auditor, session: SessionDep, after: int = Query(0, ge=0),
            limit: int = Query(100, ge=1, le=1000)) -> list[AuditEntryOut]:
    """Entries as their signed canonical documents say, not as the editable columns do."""
    rows = session.execute(select(AuditEntry.canonical, AuditEntry.leaf_hash).where(
        AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)).all()
    out = []
    for body, leaf in rows:
        # An insider editing the actor column must not change what auditors read.
        signed = audit.entry_fields(bytes(body))
        out.append(AuditEntryOut(seq=signed["seq"], at=signed["at"], kind=signed["kind"],
                                 actor=signed["actor"], subject=signed["subject"],
                                 canonical=bytes(body).decode(), leaf_hash=bytes(leaf).hex()))
    return out


@router.get("/head", operation_id="audit_head")
def head(_: Auditor, session: SessionDep) -> TreeHeadOut:
    latest = audit.latest_head(session)
    if latest is None:
        raise NotFoundError("no signed tree head yet")
    return _head(latest)


@router.get("/key", operation_id="audit_log_key")
def log_key(_: Auditor, deployment: DeploymentDep) -> dict[str, str]:
    """The log's public key (SubjectPublicKeyInfo, hex DER), for witnesses to pin."""
    spki = deployment.key("audit").public_key_der()
    return {"spki_der": spki.hex(), "sha256": hashlib.sha256(spki).hexdigest()}


@router.get("/heads", operation_id="audit_heads")
def heads(_: Auditor, session: SessionDep) -> list[TreeHeadOut]:
    return [_head(h) for h in session.execute(select(TreeHead).order_by(TreeHead.size)).scalars()]


@router.get("/proof/inclusion", operation_id="audit_inclusion_proof")
def inclusion(_: Auditor, session: SessionDep, seq: int = Query(ge=1, le=_MAX),
              size: int = Query(ge=1, le=_MAX)) -> ProofOut:
    leaf, path = audit.inclusion(session, seq, size)
    return ProofOut(leaf_hash=leaf.hex(), proof=[p.hex() for p in path], size=size)


@router.get("/proof/consistency", operation_id="audit_consistency_proof")
def consistency(_: Auditor, session: SessionDep, old: int = Query(ge=1, le=_MAX),
                new: int = Query(ge=1, le=_MAX)) -> ProofOut:
    if old > new:
        raise NotFoundError("old size must not exceed new size")
    proof = audit.consistency(session, old, new)
    return ProofOut(proof=[p.hex() for p in proof], size=new, old_size=old)
