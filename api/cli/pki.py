"""``sealtrust pki``: the deployment's certificates for relying parties."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli._common import CliContext, common_options
from api.deployment import open_deployment


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
