"""Certificate revocation in the registry, and the CRL each CA publishes from it.

The online verifier reads ``CertificateRecord.revoked_at`` directly; relying
parties outside SealTrust read the CRL (:func:`trust.pki.crl.build_crl`).
Both come from the same rows, so they cannot disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from trust import audit
from trust.errors import ConflictError, InputError, NotFoundError
from trust.keys import SigningKey
from trust.pki import Certificate
from trust.pki.crl import REASONS, RevokedCertificate, build_crl
from trust.registry.models import CertificateRecord

__all__ = ["CRL_VALIDITY", "issue_crl", "revoke_certificate"]

CRL_VALIDITY: Final = timedelta(days=1)  # nextUpdate: relying parties refetch at least daily


def revoke_certificate(session: Session, fingerprint: str, *, reason: str, at: datetime,
                       actor: str) -> CertificateRecord:
    """Mark a certificate revoked from ``at`` (final), with an RFC 5280 reason."""
    if at.tzinfo is None:
        raise InputError("revocation time must be timezone-aware")
    if reason not in REASONS:
        raise InputError(f"unknown revocation reason {reason!r}; "
                         f"one of {', '.join(sorted(REASONS))}", code="certificate.reason")
    record = None
    if len(fingerprint) <= 64:  # a SHA-256 hex digest; longer input is no key to look up
        record = session.get(CertificateRecord, fingerprint.lower())
    if record is None:
        raise NotFoundError(f"no certificate with SHA-256 fingerprint {fingerprint[:64]!r}",
                            code="certificate.not_found")
    if record.revoked_at is not None:
        raise ConflictError(f"certificate {record.subject} was already revoked at "
                            f"{record.revoked_at.isoformat()}", code="certificate.revoked")
    if record.issuer_fingerprint in (None, record.fingerprint):
        raise ConflictError("a root is withdrawn from the trust list, not revoked by itself",
                            code="certificate.root")
    record.revoked_at, record.revocation_reason = at, reason
    audit.append(session, kind="certificate.revoked", actor=actor, subject=record.fingerprint,
                 at=at, details={"subject": record.subject, "reason": reason,
                                 "issuer": record.issuer_fingerprint})
    session.flush()
    return record


def issue_crl(session: Session, issuer: Certificate, issuer_key: SigningKey, *,
              at: datetime, signer: Certificate | None = None,
              validity: timedelta = CRL_VALIDITY) -> bytes:
    """The CA's CRL as of ``at``: every certificate it issued that is revoked by then.

    ``signer``: the delegated CRL signer whose key ``issuer_key`` is (a root's
    list signer), see :func:`trust.pki.crl.build_crl`.

    The CRL number is ``at`` in whole seconds since the epoch: monotonic for
    each CA (RFC 5280 5.2.3) without a write on every download.
    """
    rows = session.execute(select(CertificateRecord).where(
        CertificateRecord.issuer_fingerprint == issuer.sha256.hex(),
        CertificateRecord.fingerprint != issuer.sha256.hex(),
        CertificateRecord.revoked_at.is_not(None))).scalars().all()
    revoked = [RevokedCertificate(Certificate.from_der(r.der).serial, r.revoked_at,
                                  r.revocation_reason or "unspecified")
               for r in rows if r.revoked_at is not None and r.revoked_at <= at]
    return build_crl(issuer, issuer_key, revoked, this_update=at,
                     next_update=at + validity, number=int(at.timestamp()), signer=signer)

