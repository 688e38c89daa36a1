"""``sealtrust dept``: issuing departments and their signing keys.

``dept add-key`` certifies a key that already exists (generated on an HSM or
installed in an SDF cipher machine by the vendor's tool) and records in
deployment.json where its PIN comes from (a variable name or a file path,
never the PIN), so that ``sealtrust issue --key URI`` and the API can open it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select

from api.cli._common import CliContext, common_options
from api.deployment import open_deployment
from hsm_adapters.pins import EnvPin, FilePin, PinSource
from signing.departments import add_department, certify_department_key
from trust import audit
from trust.errors import InputError
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
                                at=now, actor=cli.actor)
    cli.emit({"code": result.code, "keys": result.keys,
              "certificates": {a: c.sha256.hex() for a, c in result.certificates.items()}},
             f"department {code} added; keys: " + ", ".join(result.keys.values()))


@command.command("add-key")
@click.option("--code", required=True, help="Department code.")
@click.option("--uri", required=True, help="Key URI (file:, pkcs11:, sdf:).")
@click.option("--pin-env", metavar="VAR", default=None,
              help="Environment variable holding the key's PIN (its name is recorded).")
@click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="0600 file holding the key's PIN (its path is recorded).")
@common_options
def add_key(cli: CliContext, code: str, uri: str, pin_env: str | None,
            pin_file: Path | None) -> None:
    """Certify an existing key (HSM, SDF device or file) as a signing key of a department."""
    if pin_env and pin_file:
        raise InputError("give at most one of --pin-env, --pin-file")
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep:
        pin: PinSource = EnvPin(pin_env) if pin_env else FilePin(pin_file) if pin_file \
            else dep.pin_for(uri)
        with dep.registry.session() as session:
            result = certify_department_key(session, dep.stores, pin, department_code=code,
                                            key_uri=uri, roots=dep.roots(), at=now, actor=cli.actor)
            if pin_env or pin_file:
                # Before the commit: a mapping for an unregistered key is harmless, a
                # registered key whose PIN nobody can find is not.
                dep.set_pin_source(uri, env=pin_env, file=pin_file)
            audit.sign_pending(session, dep.key("audit"), now)
    cert = result.certificate
    cli.emit({"department": code, "uri": uri, "algorithm": result.algorithm,
              "certificate": cert.sha256.hex(), "subject": cert.subject_text,
              "not_after": cert.not_after.isoformat()},
             f"key {uri} ({result.algorithm}) certified for {code}; make a new seal listing it: "
             f"sealtrust seal make --dept {code}")


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
