"""``sealtrust issue`` and ``sealtrust issue-batch``: seal licences from JSON records."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from api.cli._common import EXIT_FAILED, CliContext, common_options
from api.deployment import open_deployment
from api.issuance import ALGORITHMS, batch_worker_init, batch_worker_issue, issue_one
from signing.batch import ItemResult, count_lines, run_batch
from trust.errors import InputError

_ALG = click.Choice(ALGORITHMS)


def _read_record(path: Path) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        record = json.loads(text)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise InputError(f"{path} must hold one JSON object")
    return record


@click.command("issue")
@click.option("--type", "type_code", required=True,
              help="Licence type code (sealtrust types list).")
@click.option("--data", "data", required=True, type=click.Path(path_type=Path),
              help="JSON record file ('-' for stdin).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the sealed licence (.pdf or .ofd).")
@click.option("--format", "file_format", type=click.Choice(["pdf", "ofd"]), default=None,
              help="File format (default: from the --out suffix, else pdf). OFD is SM2 only.")
@click.option("--alg", default="sm2", show_default=True, type=_ALG,
              help="Signature algorithm(s); sm2+rsa adds an RSA signature for foreign verifiers.")
@click.option("--key", "key_uri", default=None, help="Key URI (default: the department's key).")
@click.option("--dept", "department", default=None, help="Department code (default: demo).")
@click.option("--seal", default=None, help="Seal esID (default: the department's usable seal).")
@click.option("--idempotency-key", default=None, help="Retries with the same key return the "
              "same licence.")
@click.option("--historical", is_flag=True, default=False,
              help="Re-issue a licence whose validity has already ended (audited as a "
              "historical re-issue); without it such a record is refused (exit 2).")
@common_options
def command(cli: CliContext, type_code: str, data: Path, out: Path, file_format: str | None,
            alg: str, key_uri: str | None, department: str | None, seal: str | None,
            idempotency_key: str | None, historical: bool) -> None:
    """Issue one licence: validate, render, seal, sign, time-stamp, register."""
    record = _read_record(data)
    file_format = file_format or ("ofd" if out.suffix.lower() == ".ofd" else "pdf")
    with open_deployment(cli.home) as dep:
        dept = department or dep.config["demo_department"]
        with dep.registry.session() as session:
            issued = issue_one(dep, session, type_code=type_code, record=record, department=dept,
                               alg=alg, key_uri=key_uri, seal=seal,
                               idempotency_key=idempotency_key, actor=cli.actor,
                               file_format=file_format, historical=historical)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    tmp.write_bytes(issued.pdf)
    tmp.replace(out)
    # The issue fixes this output shape: {"licence_id": ..., "file": ...}.
    click.echo(json.dumps({"licence_id": issued.licence_id, "file": str(out),
                           "file_sm3": issued.file_sm3, "reused": issued.reused},
                          ensure_ascii=False))


@click.command("issue-batch")
@click.argument("records", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--type", "type_code", default=None, help="Default type (a record's \"_type\" "
              "field overrides).")
@click.option("--alg", default="sm2", show_default=True, type=_ALG)
@click.option("--format", "file_format", type=click.Choice(["pdf", "ofd"]), default="pdf",
              show_default=True, help="File format of every licence (OFD is SM2 only).")
@click.option("--key", "key_uri", default=None)
@click.option("--dept", "department", default=None, help="Default department (\"_dept\" "
              "overrides).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--historical", is_flag=True, default=False,
              help="The records are historical re-issues: an ended validity is accepted "
              "(each licence audited as such); without it such lines fail.")
@common_options
def batch(cli: CliContext, records: Path, out_dir: Path, type_code: str | None, alg: str,
          file_format: str, key_uri: str | None, department: str | None, workers: int,
          historical: bool) -> None:
    """Issue every record of a JSON-lines file; resumable, one bad line never stops the rest."""
    from tqdm import tqdm

    with open_deployment(cli.home) as dep:
        dept = department or dep.config["demo_department"]
    options = {"out_dir": str(out_dir), "type": type_code, "department": dept, "alg": alg,
               "format": file_format, "key_uri": key_uri, "actor": cli.actor + ":batch",
               "historical": historical}
    total = count_lines(records)
    bar = tqdm(total=total, unit="licence", file=sys.stderr, disable=cli.json or None,
               dynamic_ncols=True)

    def progress(result: ItemResult) -> None:
        bar.update(1)
        if not result.ok and not cli.json:
            bar.write(f"line {result.line}: [{result.error_code}] {result.error}", file=sys.stderr)

    try:
        summary = run_batch(records, out_dir, initializer=batch_worker_init,
                            initargs=(str(cli.home.resolve()), options), work=batch_worker_issue,
                            workers=workers, on_result=progress)
    finally:
        bar.close()
    report = {"records": str(records), "out_dir": str(out_dir), **summary.to_dict()}
    cli.emit(report, f"{summary.issued} issued ({summary.reused} already in the registry), "
                     f"{summary.skipped} skipped as done, {summary.failed} failed, "
                     f"of {summary.total}; manifest {out_dir / 'issued.jsonl'}"
                     + (f", errors {out_dir / 'errors.jsonl'}" if summary.failed else ""))
    if summary.failed:
        raise SystemExit(EXIT_FAILED)


EXTRA_COMMANDS = (batch,)
