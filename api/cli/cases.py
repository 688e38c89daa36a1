"""``sealtrust cases``: what an approved case (办件) produced, by its case code."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from api.cli._common import CliContext, common_options
from api.deployment import open_deployment
from trust import audit


@click.group("cases")
def command() -> None:
    """Approved cases (自动发证, 码上办) and the licences they produced."""


@command.command("show")
@click.argument("case_code")
@click.option("--full", is_flag=True,
              help="Unmasked records (personal data: the reading is audited).")
@common_options
def show(cli: CliContext, case_code: str, full: bool) -> None:
    """The case's state and licences, fields masked as each type declares (unless --full)."""
    from api.cases import case_view
    from trust.registry.cases import get_case

    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        case = get_case(session, case_code)
        view = case_view(dep, session, case, full=full)
        if full:  # an operator reading a holder's records is accountable for it
            audit.append(session, kind="case.viewed", actor=cli.actor, subject=case.case_code,
                         at=now, details={"full": True})
            audit.sign_pending(session, dep.key("audit"), now)
    lines = [f"case {view['case_code']}  service {view['service']}  {view['state']}"
             + (f" ({view['reason']})" if view["reason"] else "")]
    for licence in view["licences"]:
        lines.append(f"  {licence['licence_id']}  {licence['type']} {licence['name']['zh']}  "
                     f"{licence['status']}")
        lines += [f"    {k}: {v}" for k, v in licence["record"].items()]
    if not view["licences"]:
        lines.append("  no licence yet" if view["state"] == "accepted" else "  no licence")
    cli.emit(view, "\n".join(lines))
