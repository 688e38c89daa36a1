"""Export licences to an archive package for the records office, audited (docs/archive.md).

The format is :mod:`trust.archive`; the registry part (which licences, their
history, audit proofs, the one decryption path) :mod:`trust.registry.archive_select`.
This module adds what needs the deployment's keys: the signed audit head the
proofs point to, the signed trust and status lists, and the audit entry of
the export itself. The package is written to a temporary file and renamed
into place only after the ``archive.exported`` entry has committed: no
package leaves without its audit entry.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from api.deployment import Deployment
from api.routes.trust import export_lists
from trust import audit, sm3
from trust.archive import PackageContents, write_package
from trust.errors import InputError
from trust.pki import Certificate
from trust.registry.archive_select import Selection, gather, select_licences

__all__ = ["ExportResult", "export_archive"]

_SAFE: re.Pattern[str] = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ExportResult:
    package_id: str
    licences: int
    manifest_sm3: str
    audit_seq: int
    path: Path

    def to_dict(self) -> dict[str, Any]:
        return {"package_id": self.package_id, "licences": self.licences,
                "manifest_sm3": self.manifest_sm3, "audit_seq": self.audit_seq,
                "out": str(self.path)}


def _recipient(pem: bytes, now: datetime) -> Certificate:
    recipient = Certificate.from_pem(pem)
    # Threat: an expired or not-yet-valid records office certificate (a retired key that
    # may no longer be safeguarded) receiving citizens' records.
    if not recipient.valid_at(now):
        raise InputError("the records office certificate is not valid now "
                         "/ 档案机构证书不在有效期内", code="archive.recipient")
    return recipient


def export_archive(deployment: Deployment, selection: Selection, recipient_pem: bytes,
                   out: Path, *, actor: str, now: datetime) -> ExportResult:
    """Write the package for ``selection`` to ``out``, encrypted to ``recipient_pem``."""
    if now.tzinfo is None:
        raise InputError("export time must be timezone-aware")
    recipient = _recipient(recipient_pem, now)
    audit_key = deployment.key("audit")
    with deployment.registry.session() as session:
        head = audit.sign_head(session, audit_key, now)  # the proofs point to this head
    lists = export_lists(deployment, now)
    package_id = secrets.token_hex(16)
    with deployment.registry.session() as session:
        items = gather(session, select_licences(session, selection), head)
    evidence: dict[str, bytes] = {
        "trust-list.cose": lists.trust_list,
        "anchor.pem": Certificate.from_der(lists.anchor).to_pem().encode("ascii"),
        "audit-key.der": audit_key.public_key_der(),
    }
    for issuer, signed in lists.status_lists.items():
        evidence[f"status-list-{_SAFE.sub('_', issuer)}.cose"] = signed
    personal: dict[str, bytes] = {}
    for item in items:
        personal[str(item.metadata["record"]).removeprefix("personal/")] = item.record
        personal[str(item.metadata["file"]).removeprefix("personal/")] = item.file
    manifest = {
        "created_at": now.isoformat(), "selection": selection.to_dict(),
        "deployment": deployment.public_url,
        "audit_head": {"size": head.size, "signed_bytes": bytes(head.signed_bytes).hex(),
                       "signature": bytes(head.signature).hex(),
                       "signature_algorithm": head.signature_algorithm,
                       "key_spki_sha256": head.key_spki_sha256},
        "licences": [item.metadata for item in items],
    }
    out = out.resolve()
    tmp = out.with_name(f".{out.name}.{package_id}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            manifest_bytes = write_package(fh, PackageContents(
                package_id, manifest, evidence, personal), recipient)
        digest = sm3.sm3(manifest_bytes).hex()
        with deployment.registry.session() as session:
            seq = audit.append(session, kind="archive.exported", actor=actor, subject=package_id,
                               at=now, details={
                                   "selection": selection.to_dict(), "licences": len(items),
                                   "licence_ids": [i.metadata["id"] for i in items][:1000],
                                   "recipient_sha256": recipient.sha256.hex(),
                                   "manifest_sm3": digest})
            audit.sign_pending(session, audit_key, now)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(package_id, len(items), digest, seq, out)


def read_private_key(pem_or_der: bytes, password: bytes | None) -> bytes:
    """The records office's private key as DER (PKCS#8, SEC1, or password-encrypted PKCS#8)."""
    from trust import pkcs8

    text = pem_or_der.strip() if pem_or_der.lstrip().startswith(b"-----BEGIN") \
        else pem_or_der
    if text.startswith(b"-----BEGIN"):
        match = re.match(rb"-----BEGIN ([A-Z ]+)-----\s+(.*?)\s+-----END \1-----", text,
                         re.DOTALL)
        if match is None:
            raise InputError("the key file is not one PEM block", code="archive.key")
        label, der = match.group(1), base64.b64decode(match.group(2))
    else:
        label, der = b"PRIVATE KEY", text
    if label == b"ENCRYPTED PRIVATE KEY":
        if password is None:
            raise InputError("the key is encrypted: give --password-env", code="archive.key")
        return pkcs8.decrypt(der, password)
    if label not in (b"PRIVATE KEY", b"EC PRIVATE KEY"):
        raise InputError(f"unexpected PEM block {label.decode()}", code="archive.key")
    return der
