"""``sealtrust dept``: issuing departments."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlalchemy import select

from api.cli._common import CliContext, common_options
from api.deployment import open_deployment
from signing.departments import add_department
from trust.registry.models import Department, KeyRecord


@click.group("dept")
def command() -> None:
    """Issuing departments (发证机关)."""


@command.command("add")
@click.option("--code", required=True, help="Short id, e.g. hz-amr.")
@click.option("--name", required=True, help="Full Chinese name.")
@click.option("--uscc", required=True, help="18-character unified social credit code.")
@click.option("--region", default="", help="Administrative division code.")
@click.option("--alg", "algorithms", multiple=True, type=click.Choice(["sm2", "rsa"]),
              default=("sm2", "rsa"), show_default=True, help="Signing keys to create.")
@click.option("--key-uri-template", default="file:keys/dept-{code}-{alg}.p8", show_default=True,
              help="Where to generate keys ({code}, {alg} substituted).")
@common_options
def add(cli: CliContext, code: str, name: str, uscc: str, region: str,
        algorithms: tuple[str, ...], key_uri_template: str) -> None:
    """Register a department and certify new signing keys for it."""
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        result = add_department(session, dep.stores, dep.home.pin(), code=code, name=name,
                                uscc=uscc, region=region, roots=dep.roots(),
                                algorithms=algorithms, key_uri_template=key_uri_template,
                                at=now, actor="cli")
    cli.emit({"code": result.code, "keys": result.keys,
              "certificates": {a: c.sha256.hex() for a, c in result.certificates.items()}},
             f"department {code} added; keys: " + ", ".join(result.keys.values()))


@command.command("list")
@common_options
def list_(cli: CliContext) -> None:
    """List departments with their signing keys."""
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        rows = []
        for d in session.execute(select(Department).order_by(Department.code)).scalars():
            keys = session.execute(select(KeyRecord.uri).where(
                KeyRecord.department_code == d.code)).scalars().all()
            rows.append({"code": d.code, "name": d.name, "uscc": d.uscc, "region": d.region,
                         "keys": list(keys)})
    cli.emit(rows, "\n".join(f"{r['code']:<16} {r['uscc']}  {r['name']}  ({len(r['keys'])} keys)"
                             for r in rows) or "no departments")
