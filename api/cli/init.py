"""``sealtrust init``: create the embedded deployment (idempotent)."""

from __future__ import annotations

import click

from api.cli._common import CliContext, common_options
from api.deployment import init_deployment


@click.command("init")
@common_options
def command(cli: CliContext) -> None:
    """Create SQLite registry, software key store, demo PKI and demo seal in --home.

    On an existing home: upgrade it (an offline ceremony, the root keys sign):
    create the issuing CAs and list signers a deployment made before them lacks.
    CRL distribution points use SEALTRUST_PUBLIC_URL (default http://127.0.0.1:8000).
    """
    cli.say(f"initialising {cli.home.resolve()} ...")
    result = init_deployment(cli.home, actor=cli.actor)
    lines = [f"- {a}" for a in result.actions]
    headline = "created" if result.created else "unchanged"
    cli.emit(result.to_dict(), f"deployment {headline}: {result.home}\n" + "\n".join(lines))
