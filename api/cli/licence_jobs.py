"""``sealtrust licence expire-due | notify-expiring | renew | bulk``: the lifecycle jobs.

Each writes its audit entries as ``cli:<operator>`` and signs an audit head
before it commits, like the other one-shot commands. Dry runs write nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import click
from sqlalchemy.orm import Session

from api.cli._common import CliContext, common_options
from api.deployment import Deployment, open_deployment
from api.renewal import renew_licence
from trust import audit
from trust.errors import InputError
from trust.registry.bulk import BulkAction, Selection, bulk_change, parse_ids
from trust.registry.expiry import BeforeCommit, expire_due
from trust.registry.expiry_notices import DEFAULT_LEAD, notify_expiring

__all__ = ["COMMANDS", "parse_as_of"]

CHINA: Final = timezone(timedelta(hours=8))
MAX_IDS_FILE: Final = 8 * 1024 * 1024


def parse_as_of(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (00:00 China time that day: licence days are China calendar days) or
    an ISO 8601 time with its offset; a time without one is refused (whose midnight?)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d")
            return day.replace(tzinfo=CHINA)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r}: give YYYY-MM-DD or an ISO 8601 time with "
                         "its offset", code="input.as_of") from None
    if moment.tzinfo is None:
        raise InputError("--as-of: a time needs its offset, e.g. 2026-12-06T00:00+08:00",
                         code="input.naive_datetime")
    return moment


def _signer(dep: Deployment) -> BeforeCommit:
    """Sign an audit head before each chunk commits, as the one-shot commands do."""
    key = dep.key("audit")

    def sign(session: Session, at: datetime) -> None:
        audit.sign_pending(session, key, at)

    return sign


@click.command("expire-due")
@click.option("--as-of", "as_of", default=None,
              help="Expire what is due at this time (YYYY-MM-DD: 00:00 China time; default "
                   "now). Later than now only with --dry-run.")
@click.option("--dry-run", is_flag=True, help="List what would expire; change nothing.")
@click.option("--no-notify", is_flag=True, help="Do not queue licence.expired notices.")
@common_options
def expire_due_command(cli: CliContext, as_of: str | None, dry_run: bool,
                       no_notify: bool) -> None:
    """Mark licences past their validity as expired (idempotent; safe on many nodes)."""
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep:
        run = expire_due(dep.registry, at=now, as_of=parse_as_of(as_of), actor=cli.actor,
                         dry_run=dry_run, before_commit=None if dry_run else _signer(dep),
                         notify=not no_notify)
    verb = "would expire" if dry_run else "expired"
    cli.emit(run.to_json(), f"{verb} {len(run.expired)} licence(s) due at "
                            f"{run.as_of.isoformat()}"
                            + (f"; {run.lost} changed by another run" if run.lost else ""))


@click.command("notify-expiring")
@click.option("--as-of", "as_of", default=None, help="As for expire-due (default now).")
@click.option("--days", type=click.IntRange(1, 366), default=DEFAULT_LEAD.days,
              show_default=True, help="Notify this long before a licence's validity ends.")
@click.option("--dry-run", is_flag=True, help="List who would be notified; queue nothing.")
@common_options
def notify_expiring_command(cli: CliContext, as_of: str | None, days: int,
                            dry_run: bool) -> None:
    """Queue one expiry notice per licence ending within --days (each licence once, ever)."""
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep:
        run = notify_expiring(dep.registry, at=now, as_of=parse_as_of(as_of),
                              lead=timedelta(days=days), actor=cli.actor, dry_run=dry_run,
                              before_commit=None if dry_run else _signer(dep))
    verb = "would queue" if dry_run else "queued"
    cli.emit(run.to_json(), f"{verb} {len(run.queued)} expiry notice(s); "
                            f"{run.already} sent before, {run.no_holder} without a holder")


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the record {path}: {exc}") from None
    if not isinstance(record, dict):
        raise InputError(f"{path}: the record must be a JSON object")
    return record


@click.command("renew")
@click.argument("licence_id")
@click.option("--data", "data", required=True, type=click.Path(path_type=Path),
              help="The new record (JSON), of the same holder.")
@click.option("--alg", type=click.Choice(["sm2", "rsa", "sm2+rsa"]), default="sm2",
              show_default=True)
@click.option("--format", "file_format", type=click.Choice(["pdf", "ofd"]), default=None,
              help="Default: the old licence's format.")
@click.option("--reason", default="renewed (换证)", show_default=True)
@common_options
def renew_command(cli: CliContext, licence_id: str, data: Path, alg: str,
                  file_format: str | None, reason: str) -> None:
    """Renew (换证): issue a new licence of the same type and holder that supersedes this one."""
    record = _read_record(data)
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        renewed = renew_licence(dep, session, licence_id, record, actor=cli.actor, at=now,
                                alg=alg, file_format=file_format, reason=reason)
    cli.emit(renewed.to_json(), f"licence {licence_id} renewed as {renewed.licence_id}")


def _selection(ids_file: Path | None, department: str | None,
               type_code: str | None) -> Selection:
    ids = None
    if ids_file is not None:
        try:
            if ids_file.stat().st_size > MAX_IDS_FILE:
                raise InputError(f"{ids_file} is larger than {MAX_IDS_FILE} bytes",
                                 code="bulk.too_many")
            ids = parse_ids(ids_file.read_text("utf-8"))
        except (OSError, UnicodeError) as exc:
            raise InputError(f"cannot read {ids_file}: {exc}") from None
    return Selection(ids=ids, department=department, type_code=type_code)


@click.command("bulk")
@click.argument("action", type=click.Choice([a.value for a in BulkAction]))
@click.option("--ids", "ids_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file of licence ids, one a line.")
@click.option("--department", default=None, help="Every live licence of this department.")
@click.option("--type", "type_code", default=None, help="Every live licence of this type "
                                                        "(with --department: of both).")
@click.option("--reason", required=True)
@click.option("--dry-run", is_flag=True, help="Say exactly what would change; change nothing.")
@common_options
def bulk_command(cli: CliContext, action: str, ids_file: Path | None, department: str | None,
                 type_code: str | None, reason: str, dry_run: bool) -> None:
    """Revoke or cancel many licences (valid or suspended ones) in resumable chunks.

    Interrupted? Run the same command again: what is done stays done, once.
    """
    selection = _selection(ids_file, department, type_code)
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep:
        result = bulk_change(dep.registry, selection, BulkAction(action), reason=reason,
                             at=now, actor=cli.actor, dry_run=dry_run,
                             before_commit=None if dry_run else _signer(dep))
    counts = result.counts()
    cli.emit(result.to_json(), ", ".join(f"{k.replace('_', ' ')}: {v}"
                                         for k, v in counts.items()))


COMMANDS: Final = (expire_due_command, notify_expiring_command, renew_command, bulk_command)
