"""``sealtrust trust export``: publish the signed trust list and status lists for offline checks.

Layout of the export directory (what ``sealtrust qr verify --offline --lists``
and any offline verifier read)::

    trust-list.cose        signed trust list (issuer CAs, token and status signers)
    anchor.pem             the operator certificate to pin (distribute it out of band)
    status/<issuer>.cose   each issuer's signed, compressed status bitstring (licences,
                           and the issuer's seals and signing certificates)
    crl/<ca role>.crl      each CA's X.509 CRL (DER): offline certificate revocation
    crl/<role>.pem         the list signers, which sign the roots' CRLs on their behalf
    manifest.json          issue time, sequence and SHA-256 of each file
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import click

from api.cli._common import CliContext, common_options
from api.deployment import open_deployment
from api.routes.trust import crl_signers, export_crls, export_lists
from trust.pki.pem import to_pem_bundle
from trust.trustlist import TrustList
from verification.qr import EXPORT_CRL_DIR, EXPORT_STATUS_DIR, EXPORT_TRUST_LIST


@click.group("trust")
def command() -> None:
    """Trust material for relying parties (亮证 offline verification)."""


def _write(path: Path, data: bytes, manifest: dict[str, str], root: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # a reader never sees half a list
    manifest[str(path.relative_to(root))] = hashlib.sha256(data).hexdigest()


@command.command("export")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory to write (default HOME/export).")
@common_options
def export(cli: CliContext, out: Path | None) -> None:
    """Sign and write the trust list and every issuer's status list, valid from now."""
    now = datetime.now(UTC)
    root = out or cli.home / "export"
    with open_deployment(cli.home) as dep:
        signed = export_lists(dep, now)
        crls = export_crls(dep, now)
        signers = crl_signers(dep)
    files: dict[str, str] = {}
    _write(root / EXPORT_TRUST_LIST, signed.trust_list, files, root)
    _write(root / "anchor.pem", to_pem_bundle([signed.anchor]).encode(), files, root)
    for issuer, data in sorted(signed.status_lists.items()):
        _write(root / EXPORT_STATUS_DIR / f"{issuer}.cose", data, files, root)
    for role, der in sorted(crls.items()):
        _write(root / EXPORT_CRL_DIR / f"{role}.crl", der, files, root)
    for role, der in signers.items():  # who signs the roots' CRLs on their behalf
        _write(root / EXPORT_CRL_DIR / f"{role}.pem", to_pem_bundle([der]).encode(), files, root)
    sequence = TrustList.verify(signed.trust_list, [signed.anchor]).sequence
    manifest = {"issued_at": now.replace(microsecond=0).isoformat(), "sequence": sequence,
                "directory": str(root.resolve()), "files": files}
    (root / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    cli.emit(manifest, f"exported the trust list (sequence {sequence}), "
                       f"{len(signed.status_lists)} status list(s) and {len(crls)} CRL(s) "
                       f"to {root}")
