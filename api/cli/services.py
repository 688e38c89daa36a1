"""``sealtrust services``: the services that use licences (事项用证清单) and local form filling.

``list``, ``show`` and ``validate`` read the shipped definitions plus the
deployment's ``<home>/services``; ``fill CODE --licence ID...`` is the
operator's local path: each licence verified now, the form filled from the
verified ones, one ``services.fill`` audit entry (licence ids, never values).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from api.cli._common import EXIT_FAILED, CliContext, common_options
from api.services import ServiceDefinitionError, catalogue_for, parse_service, types_for
from trust.errors import InputError

__all__ = ["command"]


@click.group("services")
def command() -> None:
    """Services that use licences: list, show, validate, fill a form (事项用证清单)."""


@command.command("list")
@common_options
def list_services(cli: CliContext) -> None:
    """One entry per service: code, names and the licence types it needs."""
    rows = [s.summary() for s in catalogue_for(cli.home)]
    human = "\n".join(f"{r['code']:<28} {r['name']['zh']}  [{', '.join(r['types'])}]"
                      for r in rows)
    cli.emit(rows, human + f"\n{len(rows)} services")


@command.command("show")
@click.argument("code")
@common_options
def show(cli: CliContext, code: str) -> None:
    """A service's definition: needs, scope (the fields its form reads), form and mapping."""
    data = catalogue_for(cli.home).get(code).to_dict()
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@command.command("validate")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@common_options
def validate(cli: CliContext, files: tuple[Path, ...]) -> None:
    """Check every service (shipped, <home>/services, and FILES) against the type catalogue.

    Exit 0 when all are valid, 1 when one is refused (the message names the
    service and the expression).
    """
    types = types_for(cli.home)
    try:
        catalogue = catalogue_for(cli.home, types)
        for path in files:
            try:
                definition: Any = json.loads(path.read_bytes()[: 1 << 20])
            except (ValueError, UnicodeDecodeError) as exc:
                raise ServiceDefinitionError(f"{path.name} is not valid JSON: {exc}") from None
            parse_service(definition, types)
    except ServiceDefinitionError as exc:
        cli.emit({"valid": False, "error": exc.to_dict()}, f"invalid: {exc.message}")
        raise SystemExit(EXIT_FAILED) from None
    count = len(catalogue) + len(files)
    cli.emit({"valid": True, "services": count, "types": len(types)},
             f"{count} service definitions valid against {len(types)} licence types")


@command.command("fill")
@click.argument("code")
@click.option("--licence", "licences", multiple=True, metavar="ID",
              help="A licence to read (repeat for each); verified now before use.")
@click.option("--grant", "grant", default=None, metavar="GRANT",
              help="Or: redeem the holder's service grant (SG1:<hex>) once (一证通办).")
@click.option("--counter", default=None, metavar="CLIENT_ID",
              help="With --grant: the counter redeeming it (default: the one it names).")
@click.option("--at", "at_text", default=None, metavar="TIME",
              help="Verify at this ISO 8601 time with offset (default: now).")
@common_options
def fill(cli: CliContext, code: str, licences: tuple[str, ...], grant: str | None,
         counter: str | None, at_text: str | None) -> None:
    """Fill CODE's form from licences in this deployment (operator's local path, audited),
    or from a holder's service grant (--grant, redeemed once, audited as grant.redeemed).

    Prints {"service", "form", "provenance", "missing", "unused", "invalid"};
    exit 0 when nothing is missing, 1 when a needed licence is missing or
    failed verification (named in "missing" and "unused").
    """
    from api.deployment import open_deployment
    from api.services import fill_from_registry

    if (grant is None) == (not licences):
        raise click.UsageError("give either --grant GRANT or --licence ID...")
    at = datetime.now(UTC) if at_text is None else _aware(at_text)
    with open_deployment(cli.home) as dep:
        service = catalogue_for(cli.home).get(code)
        if grant is not None:  # 一证通办: the holder's grant (api.counter_fill, issue 14)
            from api.counter_fill import fill_from_grant

            filled = fill_from_grant(dep, service, grant, verifier_id=counter, at=at,
                                     actor=cli.actor)
        else:
            filled = fill_from_registry(dep, service, licences, at=at, actor=cli.actor).to_json()
    lines = [f"{k}: {v}" for k, v in filled["form"].items()]
    lines += [f"missing 缺少: {', '.join(filled['missing'])}"] if filled["missing"] else []
    lines += [f"not used 未使用: {u['licence_id']} ({u['type']}, {u['indication']}, "
              f"{u['reason']})" for u in filled["unused"]]
    cli.emit(filled, "\n".join(lines))
    if filled["missing"]:
        raise SystemExit(EXIT_FAILED)


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--at: {text[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("--at: give a timezone offset (e.g. +08:00 or Z)")
    return moment
