"""``sealtrust licence``: show a licence and change its status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from api.cli._common import CliContext, common_options
from api.deployment import Home, backfill_holder_refs_of, load_config, open_deployment
from trust import audit
from trust.registry.lifecycle import LicenceStatus, change_status, get_licence, history
from trust.registry.models import Licence
from trust.registry.sealed import licence_file, licence_record


def describe(session: Session, licence: Licence, events: list[Any]) -> dict[str, Any]:
    return {
        "licence_id": licence.id, "type": licence.type_code,
        "type_version": licence.type_version,
        "department": licence.department_code,
        "holder_name": licence_record(session, licence).holder_name,
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
    """Issued licences: show, download, revoke, cancel, supersede, suspend, reinstate."""


@command.command("show")
@click.argument("licence_id")
@common_options
def show(cli: CliContext, licence_id: str) -> None:
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        info = describe(session, get_licence(session, licence_id),
                        history(session, licence_id))
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
        pdf = licence_file(session, licence_id)
    out.write_bytes(pdf)
    cli.emit({"licence_id": licence_id, "file": str(out)}, f"wrote {out}")


def _change(cli: CliContext, licence_id: str, status: LicenceStatus, reason: str,
            superseded_by: str | None = None) -> None:
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        licence = change_status(session, licence_id, status, reason=reason, at=now, actor=cli.actor,
                                superseded_by=superseded_by)
        audit.sign_pending(session, dep.key("audit"), now)
        info = describe(session, licence, history(session, licence_id))
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
    """Mark as replaced by a changed licence (变更) of the same holder, type and department."""
    _change(cli, licence_id, LicenceStatus.SUPERSEDED, reason, superseded_by)


@command.command("suspend")
@click.argument("licence_id")
@click.option("--reason", required=True)
@common_options
def suspend(cli: CliContext, licence_id: str, reason: str) -> None:
    """Suspend (暂停): reversible with reinstate; verifiers report "suspended"."""
    _change(cli, licence_id, LicenceStatus.SUSPENDED, reason)


@command.command("reinstate")
@click.argument("licence_id")
@click.option("--reason", required=True)
@common_options
def reinstate(cli: CliContext, licence_id: str, reason: str) -> None:
    """Reinstate (恢复) a suspended licence (only a suspended one)."""
    _change(cli, licence_id, LicenceStatus.VALID, reason)


@command.command("backfill-holder-refs")
@common_options
def backfill_holder_refs(cli: CliContext) -> None:
    """Set the holder reference (keyed hash) of licences issued before it existed.

    Resumable and idempotent: run it again after an interruption; `init` runs it too.
    """
    filled = backfill_holder_refs_of(open_home(cli.home))
    cli.emit({"updated": filled}, f"set the holder reference of {filled} licences")


def open_home(root: Path) -> Home:
    """The home, after checking it is an initialised deployment."""
    home = Home(root)
    load_config(home)
    return home
