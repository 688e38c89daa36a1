"""``sealtrust pki``: the deployment's certificates for relying parties."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from api.cli._common import CliContext, common_options
from api.deployment import open_deployment
from trust.pki.crl import REASONS as _REASONS


@click.group("pki")
def command() -> None:
    """Certificates of the deployment's PKI."""


@command.command("export")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write <role>.pem files into (created if missing).")
@common_options
def export(cli: CliContext, out_dir: Path) -> None:
    """Write every root and issuing certificate of the deployment as PEM."""
    from trust.pki import Certificate

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with open_deployment(cli.home) as deployment:
        for record in deployment.certificates():
            cert = Certificate.from_der(record.der)
            path = out_dir / f"{record.role}.pem"
            path.write_text(cert.to_pem())
            written.append({"role": record.role, "file": str(path), "subject": record.subject,
                            "sha256": record.fingerprint, "is_ca": record.is_ca})
    cli.emit({"out": str(out_dir), "certificates": written},
             "\n".join(f"{w['file']}  {w['subject']}" for w in written))


@command.command("revoke")
@click.argument("fingerprint")
@click.option("--reason", required=True, type=click.Choice(sorted(_REASONS)),
              help="RFC 5280 reason code.")
@common_options
def revoke(cli: CliContext, fingerprint: str, reason: str) -> None:
    """Revoke a certificate (SHA-256 fingerprint, as `pki export --json` lists it); final."""
    from trust import audit
    from trust.registry.certificates import revoke_certificate

    now = datetime.now(UTC)
    with open_deployment(cli.home) as deployment, deployment.registry.session() as session:
        record = revoke_certificate(session, fingerprint, reason=reason, at=now, actor=cli.actor)
        audit.sign_pending(session, deployment.key("audit"), now)
        info = {"sha256": record.fingerprint, "subject": record.subject,
                "revoked_at": now.isoformat(), "reason": reason}
    cli.emit(info, f"revoked {info['subject']} ({reason}); it appears in the next CRL")


@command.command("crl")
@click.option("--ca", "ca_role", default="sm2-root", show_default=True,
              help="The CA's role (sm2-root, rsa-root: signed by the list signer; "
                   "sm2-issuing-ca, rsa-issuing-ca).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the DER CRL.")
@common_options
def crl(cli: CliContext, ca_role: str, out: Path) -> None:
    """Sign and write the CA's current certificate revocation list (DER)."""
    now = datetime.now(UTC)
    with open_deployment(cli.home) as deployment, deployment.registry.session() as session:
        der = deployment.sign_crl(session, ca_role, now)
    out.write_bytes(der)
    cli.emit({"ca": ca_role, "file": str(out), "bytes": len(der), "this_update": now.isoformat()},
             f"wrote {out} ({len(der)} bytes)")
