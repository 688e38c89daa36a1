"""``sealtrust clients``: API credentials for departments, counters and the holder app."""

from __future__ import annotations

import click
from sqlalchemy import select

from api.auth import Role, create_client, disable_client
from api.cli._common import CliContext, common_options
from api.deployment import open_deployment
from trust import audit
from trust.registry.models import ApiClient


@click.group("clients")
def command() -> None:
    """API clients and their roles."""


@command.command("add")
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([r.value for r in Role]))
@click.option("--dept", "department", default=None, help="Department the client acts for.")
@common_options
def add(cli: CliContext, name: str, roles: tuple[str, ...], department: str | None) -> None:
    """Create a client; its credential is printed once and never stored."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        client, credential = create_client(session, name, frozenset(Role(r) for r in roles),
                                           department)
        audit.append(session, kind="client.added", actor=cli.actor, subject=client.id, at=now,
                     details={"name": name, "roles": sorted(roles), "department": department})
        audit.sign_pending(session, dep.key("audit"), now)
        client_id = client.id
    shown = {"id": client_id, "credential": credential}
    human = f"client {client_id} created. Credential (shown once):\n{credential}"
    if Role.APPROVAL_SYSTEM.value in roles:  # it also signs its events (api.cases)
        from api.cases import EventKeys

        shown["event_key"] = EventKeys.of(dep.home).for_client(client_id).hex()
        human += f"\nEvent signing key (HMAC-SM3, hex; keep it secret):\n{shown['event_key']}"
    cli.emit(shown, human)


@command.command("list")
@common_options
def list_(cli: CliContext) -> None:
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        clients = list(session.execute(select(ApiClient).order_by(ApiClient.id)).scalars())
    rows = [{"id": c.id, "name": c.name, "roles": c.roles.split(","),
             "department": c.department_code, "disabled": c.disabled} for c in clients]
    cli.emit(rows, "\n".join(f"{c.id}  {c.roles:<24} {c.name}"
                             f"{' (disabled)' if c.disabled else ''}" for c in clients)
             or "no clients")


@command.command("disable")
@click.argument("client_id")
@common_options
def disable(cli: CliContext, client_id: str) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        disable_client(session, client_id)
        audit.append(session, kind="client.disabled", actor=cli.actor, subject=client_id, at=now)
        audit.sign_pending(session, dep.key("audit"), now)
    cli.emit({"id": client_id, "disabled": True}, f"client {client_id} disabled")
