"""``sealtrust licence``: show a licence and change its status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from api.cli._common import CliContext, common_options
from api.deployment import open_deployment
from trust import audit
from trust.errors import NotFoundError
from trust.registry.lifecycle import LicenceStatus, change_status, get_licence, history
from trust.registry.models import Licence, LicenceFile


def describe(licence: Licence, events: list[Any]) -> dict[str, Any]:
    return {
        "licence_id": licence.id, "type": licence.type_code,
        "department": licence.department_code, "holder_name": licence.holder_name,
        "status": licence.status, "superseded_by": licence.superseded_by,
        "valid_from": licence.valid_from.date().isoformat(),
        "valid_to": licence.valid_to.date().isoformat() if licence.valid_to else None,
        "issued_at": licence.issued_at.isoformat(), "seal": licence.seal_es_id,
        "key": licence.key_uri, "file_sm3": licence.file_sm3,
        "status_index": licence.status_index,
        "history": [{"at": e.at.isoformat(), "from": e.from_status, "to": e.to_status,
                     "reason": e.reason} for e in events],
    }


@click.group("licence")
def command() -> None:
    """Issued licences: show, download, revoke, cancel, supersede."""


@command.command("show")
@click.argument("licence_id")
@common_options
def show(cli: CliContext, licence_id: str) -> None:
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        info = describe(get_licence(session, licence_id), history(session, licence_id))
    cli.emit(info, "\n".join(f"{k}: {v}" for k, v in info.items() if k != "history")
             + "\nhistory:\n" + "\n".join(f"  {h['at']}  {h['from'] or '-'} -> {h['to']}  "
                                          f"{h['reason']}" for h in info["history"]))


@command.command("download")
@click.argument("licence_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@common_options
def download(cli: CliContext, licence_id: str, out: Path) -> None:
    """Write the sealed PDF as issued."""
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        stored = session.get(LicenceFile, licence_id)
        if stored is None:
            raise NotFoundError(f"no file for licence {licence_id!r}")
        out.write_bytes(stored.pdf)
    cli.emit({"licence_id": licence_id, "file": str(out)}, f"wrote {out}")


def _change(cli: CliContext, licence_id: str, status: LicenceStatus, reason: str,
            superseded_by: str | None = None) -> None:
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        licence = change_status(session, licence_id, status, reason=reason, at=now, actor=cli.actor,
                                superseded_by=superseded_by)
        audit.sign_pending(session, dep.key("audit"), now)
        info = describe(licence, history(session, licence_id))
    cli.emit(info, f"licence {licence_id} is now {status.value}")


@command.command("revoke")
@click.argument("licence_id")
@click.option("--reason", required=True)
@common_options
def revoke(cli: CliContext, licence_id: str, reason: str) -> None:
    """Revoke (吊销): final; every verifier learns it through the status list."""
    _change(cli, licence_id, LicenceStatus.REVOKED, reason)


@command.command("cancel")
@click.argument("licence_id")
@click.option("--reason", required=True)
@common_options
def cancel(cli: CliContext, licence_id: str, reason: str) -> None:
    """Cancel (注销) at the holder's or department's request: final."""
    _change(cli, licence_id, LicenceStatus.CANCELLED, reason)


@command.command("supersede")
@click.argument("licence_id")
@click.option("--by", "superseded_by", required=True, help="The licence that replaces it.")
@click.option("--reason", required=True)
@common_options
def supersede(cli: CliContext, licence_id: str, superseded_by: str, reason: str) -> None:
    """Mark as replaced by a changed licence (变更)."""
    _change(cli, licence_id, LicenceStatus.SUPERSEDED, reason, superseded_by)
