"""``sealtrust outbox dead | requeue``: what the workers gave up on, and a second chance.

An outbox item that failed its last attempt is dead-lettered, never retried
silently (trust.registry.outbox). The operator reads why (``dead``), fixes the
cause (a webhook down, a department key missing) and requeues (``requeue``),
which is audited and signs an audit head like the other one-shot commands.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from api.cli._common import CliContext, common_options
from api.deployment import open_deployment
from trust import audit
from trust.errors import InputError
from trust.registry import outbox


@click.group("outbox")
def command() -> None:
    """The durable work queue (case issuance, holder notifications): dead items, requeue."""


@command.command("dead")
@click.option("--topic", default=None, help="Only this topic (e.g. case, notify).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@common_options
def dead(cli: CliContext, topic: str | None, limit: int) -> None:
    """List dead-lettered items, oldest first, with the error each last failed with."""
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        items = outbox.dead_items(session, topic=topic, limit=limit)
    lines = [f"{i['id']}  {i['topic']}  {i['dedupe_key']}  attempts {i['attempts']}: "
             f"{i['last_error']}" for i in items]
    cli.emit({"dead": items}, "\n".join(lines) if lines else "no dead-lettered items; 无死信")


@command.command("requeue")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_dead", is_flag=True, help="Every dead item (of --topic).")
@click.option("--topic", default=None, help="Only this topic.")
@click.option("--dry-run", is_flag=True, help="Say what would be requeued; change nothing.")
@common_options
def requeue(cli: CliContext, ids: tuple[int, ...], all_dead: bool, topic: str | None,
            dry_run: bool) -> None:
    """Give dead items (IDS, or --all) fresh attempts, due now; a worker picks them up."""
    if bool(ids) == all_dead:
        raise InputError("give item ids or --all (not both); 请给出条目编号或 --all",
                         code="input.requeue_selection")
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        done = outbox.requeue(session, now=now, ids=list(ids) if ids else None, topic=topic,
                              dry_run=dry_run)
        if done and not dry_run:
            audit.append(session, kind="outbox.requeued", actor=cli.actor,
                         subject=topic or "outbox", at=now, details={"ids": done})
            audit.sign_pending(session, dep.key("audit"), now)
            session.commit()
    missing = sorted(set(ids) - set(done))
    verb = "would requeue" if dry_run else "requeued"
    cli.emit({"requeued": done, "dry_run": dry_run, "not_dead": missing},
             f"{verb} {len(done)} item(s)"
             + (f"; not dead-lettered (left as they are): {missing}" if missing else ""))
