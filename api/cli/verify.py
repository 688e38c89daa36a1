"""``sealtrust verify FILE...``: verify signed PDF and OFD files, one report per file.

Exit status: 0 when every file is TOTAL_PASSED, 1 when any is TOTAL_FAILED or
INDETERMINATE, 2 on usage errors (bad options, unreadable trust material).
A file that cannot be read or parsed is a per-file FORMAT_FAILURE, never a
reason to stop the batch. ``--json`` prints NDJSON: one report
(docs/report-schema.md) per line as each file finishes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import click

from api.cli._common import EXIT_FAILED, EXIT_OK, CliContext, common_options
from api.deployment import open_deployment
from api.routes.trust import ANCHOR_ROLE, crl_signers, export_crls, export_lists
from api.routes.verification import deployment_policy, licence_index
from trust.errors import InputError, SealTrustError
from verification import FileReport, VerificationPolicy, verify_files
from verification.list_state import STATE_FILE, ListState
from verification.qr import OfflineLists, anchors_from_pem, read_crl_dir

INDEX_FILE = "licence-index.json"


def _at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--at") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give a timezone offset (e.g. +08:00 or Z)", param_hint="--at")
    return moment


def _anchors(paths: Sequence[Path]) -> list[bytes]:
    out: list[bytes] = []
    for path in paths:
        try:
            found = anchors_from_pem(path.read_bytes())
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror}",
                                     param_hint="--trust") from None
        except InputError as exc:
            raise click.BadParameter(f"{path}: {exc.message}", param_hint="--trust") from None
        if not found:
            raise click.BadParameter(f"{path} holds no certificate", param_hint="--trust")
        out += found
    return out


def _index(lists_dir: Path) -> dict[str, int]:
    path = lists_dir / INDEX_FILE
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text())
        return {str(k): int(v) for k, v in raw.items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--lists") from None


def _human(report: FileReport) -> str:
    lines = [report.summary("zh"), "  " + report.summary("en")]
    for sig in report.signatures:
        failing = [c for c in sig.checks if not c.passed]
        for check in failing:
            lines.append(f"  - {sig.facts.field_name}: {check.name} {check.indication.value}"
                         f"/{check.sub_indication.value if check.sub_indication else ''}: "
                         f"{check.detail[:200]}")
    return "\n".join(lines)


def _policy(cli: CliContext, offline: bool, lists_dir: Path | None, anchor: Path | None,
            extra: list[bytes], crl_dirs: Sequence[Path],
            state_dir: Path | None) -> VerificationPolicy:
    with open_deployment(cli.home) as dep:
        lists: OfflineLists | None = None
        index: dict[str, int] | None = None
        if offline and lists_dir is not None:
            pinned = anchor or cli.home / "pki" / f"{ANCHOR_ROLE}.pem"
            # downloaded lists: refuse one older than the newest this verifier accepted
            state = ListState((state_dir or cli.home / "state") / STATE_FILE)
            lists = OfflineLists.load(lists_dir, _anchors([pinned]), crl_dirs=crl_dirs,
                                      state=state)
            index = _index(lists_dir)
        elif offline:
            now = datetime.now(UTC)
            signed = export_lists(dep, now)
            crls = list(export_crls(dep, now).values())
            signers = list(crl_signers(dep).values())
            for folder in crl_dirs:
                found, pems = read_crl_dir(folder)
                crls += found
                signers += pems
            lists = OfflineLists.from_signed(signed.trust_list, [signed.anchor],
                                             signed.status_lists.values(), crls=crls,
                                             crl_signers=signers)
            index = licence_index(dep)
        return deployment_policy(dep, offline=lists, licence_index=index, extra_anchors=extra)


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes.")
@click.option("--at", "at_text", default=None, help="Validate at this ISO 8601 time.")
@click.option("--trust", "trust_paths", multiple=True, type=click.Path(path_type=Path),
              help="PEM certificate trusted for this run (a root or a self-signed signer); "
                   "repeatable.")
@click.option("--offline", is_flag=True,
              help="Status and trust from signed lists instead of the registry.")
@click.option("--lists", "lists_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Exported lists directory (sealtrust trust export), --offline.")
@click.option("--anchor", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Pinned trust-list operator certificate (default HOME/pki/sm2-root.pem).")
@click.option("--crls", "crl_dirs", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Directory of CA CRLs (*.crl) used besides the bundle's crl/, --offline; "
                   "repeatable.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where the verifier keeps the newest list sequences it "
                                 "accepted (default HOME/state), --offline --lists.")
@common_options
def command(cli: CliContext, files: tuple[Path, ...], workers: int, at_text: str | None,
            trust_paths: tuple[Path, ...], offline: bool, lists_dir: Path | None,
            anchor: Path | None, crl_dirs: tuple[Path, ...], state_dir: Path | None) -> None:
    """Verify signed PDF and OFD licences (told apart by content): signature, chain, seal,
    time-stamp, licence status.

    Offline, every certificate below the roots needs a fresh CRL (the bundle's
    crl/ or --crls) or a status entry, every seal a status entry; an older list
    than one accepted before is refused (exit 2, trustlist.rollback).
    """
    at = _at(at_text)
    extra = _anchors(trust_paths)
    if (lists_dir or anchor or crl_dirs or state_dir) and not offline:
        raise click.UsageError("--lists, --anchor, --crls and --state go with --offline")
    try:
        policy = _policy(cli, offline, lists_dir, anchor, extra, crl_dirs, state_dir)
    except SealTrustError as exc:  # unreadable or badly signed trust material: usage
        raise click.UsageError(f"[{exc.code}] {exc.message}") from None
    worst = EXIT_OK
    total = len(files)
    out: BinaryIO = sys.stdout.buffer
    for done, report in enumerate(verify_files(files, policy, workers=workers, at=at), 1):
        if cli.json:  # bytes as built: click.echo would scan the ~31 KB line for ANSI codes
            out.write(report.to_json_line())
            out.flush()
        else:
            click.echo(_human(report))
        if total > 1 and (done % 100 == 0 or done == total):
            click.echo(f"verified {done}/{total}", err=True)  # progress, stderr only
        if not report.passed:
            worst = EXIT_FAILED
    sys.exit(worst)


__all__ = ["command"]
