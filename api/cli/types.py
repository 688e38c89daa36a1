"""``sealtrust types``: the licence types, their schemas and example records.

``example`` is the source of demo and load-test data: one pretty JSON object,
or with ``--count N`` N distinct records as JSON lines, a pure function of
(type, seed, index). Types dropped into ``<home>/types/`` join the shipped ones.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import click

from api.cli._common import EXIT_USAGE, CliContext, common_options
from api.deployment import Home
from signing.types import TypeRegistry
from trust.errors import InputError

__all__ = ["command", "registry_for"]

_MAX_COUNT: Final = 1_000_000
_MAX_INPUT_BYTES: Final = 64 << 20
_DEMO_AUTHORITY: Final = "91350100M000100Y43"  # the GB 32100 worked example


def registry_for(home: Path) -> TypeRegistry:
    """Shipped types plus the deployment's own from ``<home>/types`` (if present; a higher
    version of a shipped code replaces it)."""
    return Home(home).licence_types()


def _line(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


@click.group("types")
def command() -> None:
    """Licence types: list, show, example records, validate, preview."""


@command.command("list")
@common_options
def list_types(cli: CliContext) -> None:
    """List the licence types."""
    rows: list[dict[str, Any]] = [
        {
            "code": t.code,
            "version": t.version,
            "name": {"zh": t.name_zh, "en": t.name_en},
            "name_zh": t.name_zh,
            "name_en": t.name_en,
            "holder_kind": t.holder_kind,
            "authority_class": t.authority_class,
            "page_mm": [t.layout.width_mm, t.layout.height_mm],
            "holder_field": t.holder_field,
        }
        for t in registry_for(cli.home)
    ]
    human = "\n".join(
        f"{r['code']:<5} {r['name_zh']}  {r['name_en']}  ({w:g} x {h:g} mm)"
        for r in rows
        for w, h in [r["page_mm"]]
    )
    cli.emit(rows, human)


@command.command("show")
@click.argument("type_code")
@common_options
def show(cli: CliContext, type_code: str) -> None:
    """Print a type's definition (names, masks, validity, layout) and JSON Schema."""
    click.echo(
        json.dumps(registry_for(cli.home).get(type_code).to_dict(), ensure_ascii=False, indent=2)
    )


@command.command("example")
@click.argument("type_code")
@click.option(
    "--count",
    type=click.IntRange(1, _MAX_COUNT),
    default=None,
    help="Print N distinct records as JSON lines.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**31),
    default=0,
    show_default=True,
    help="Another seed gives another, equally reproducible, population.",
)
@click.option(
    "--start",
    type=click.IntRange(0, 2**40),
    default=0,
    show_default=True,
    help="Index of the first record (resume or shard a load test).",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date the licences must be valid on (default: today, Beijing time); "
    "records are reproducible for a given date.",
)
@common_options
def example(cli: CliContext, type_code: str, count: int | None, seed: int, start: int,
            as_of: datetime | None) -> None:
    """Print valid example records of TYPE_CODE, whose licences are valid today (or --as-of)
    and for at least a year after (deterministic from --seed, index and that date)."""
    licence_type = registry_for(cli.home).get(type_code)
    day = None if as_of is None else as_of.date()
    if count is None:
        click.echo(json.dumps(licence_type.example(start, seed=seed, as_of=day),
                              ensure_ascii=False, indent=2))
        return
    out = sys.stdout
    for index in range(start, start + count):
        out.write(_line(licence_type.example(index, seed=seed, as_of=day)) + "\n")
    out.flush()


def _read_records(path: Path) -> list[Any]:
    if path.stat().st_size > _MAX_INPUT_BYTES:
        raise InputError(f"{path} is larger than {_MAX_INPUT_BYTES} bytes", code="input.too_large")
    text = path.read_text(encoding="utf-8")
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise InputError(f"{path}:{number}: not JSON: {exc}", code="input.json") from None
    return records


@command.command("validate")
@click.argument("type_code", required=False)
@click.argument("path", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--examples", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Without PATH: example records checked per type.")
@common_options
def validate(cli: CliContext, type_code: str | None, path: Path | None, examples: int) -> None:
    """Check records (one JSON object, or JSON lines) against TYPE_CODE; list every error.

    Without PATH, check the type definitions themselves (every type, or TYPE_CODE): each
    loads (schema, labels, masks, layout or template; a broken one in <home>/types stops
    here with its error) and its example records are valid."""
    if path is None:
        _validate_types(cli, type_code, examples)
        return
    if type_code is None:  # click fills arguments left to right; kept for the type checker
        raise InputError("TYPE_CODE is required with PATH", code="input.usage")
    licence_type = registry_for(cli.home).get(type_code)
    results: list[dict[str, Any]] = []
    for number, record in enumerate(_read_records(path), start=1):
        errors = [e.to_dict() for e in licence_type.iter_errors(record)]
        results.append({"record": number, "valid": not errors, "errors": errors})
    bad = [r for r in results if not r["valid"]]
    human = "\n".join(
        [f"record {r['record']}: {e['path']}: {e['message']}" for r in bad for e in r["errors"]]
        + [f"{len(results) - len(bad)} of {len(results)} records valid"]
    )
    cli.emit({"type": licence_type.code, "results": results}, human)
    if bad:  # the report is the output; only the exit status says "invalid"
        sys.exit(EXIT_USAGE)


def _validate_types(cli: CliContext, type_code: str | None, examples: int) -> None:
    registry = registry_for(cli.home)  # a definition that does not load raises here
    chosen = [registry.get(type_code)] if type_code else list(registry)
    rows: list[dict[str, Any]] = []
    for licence_type in chosen:
        errors = [
            f"example {index}: {e.path}: {e.message}"
            for index in range(examples)
            for e in licence_type.iter_errors(licence_type.example(index))
        ]
        rows.append({"code": licence_type.code, "version": licence_type.version,
                     "valid": not errors, "errors": errors})
    bad = [r for r in rows if not r["valid"]]
    human = "\n".join([f"{r['code']}: {e}" for r in bad for e in r["errors"]]
                      + [f"{len(rows) - len(bad)} of {len(rows)} licence types valid"])
    cli.emit({"types": rows}, human)
    if bad:
        sys.exit(EXIT_USAGE)


@command.command("preview")
@click.argument("type_code")
@click.option("--index", type=click.IntRange(0, 2**40), default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@common_options
def preview(cli: CliContext, type_code: str, index: int, output: Path) -> None:
    """Render example record INDEX of TYPE_CODE to a PDF (demo id and QR, no seal)."""
    from signing.render import CHINA_STANDARD_TIME, render_licence
    from trust.licence_id import format_licence_id, verification_url

    licence_type = registry_for(cli.home).get(type_code)
    now = datetime.now(UTC)
    today = now.astimezone(CHINA_STANDARD_TIME).date()
    licence_id = format_licence_id(licence_type.code, _DEMO_AUTHORITY, index + 1, today)
    pdf = render_licence(
        licence_type,
        licence_type.example(index),
        licence_id,
        qr_payload=verification_url("https://verify.example.invalid", licence_id),
        seal_png=None,
        issuer_name="示例发证机关（预览，无效）",
        issued_at=now,
    )
    output.write_bytes(pdf)
    cli.emit(
        {"type": licence_type.code, "licence_id": licence_id, "path": str(output)},
        f"wrote {output} ({len(pdf)} bytes, {licence_id})",
    )
