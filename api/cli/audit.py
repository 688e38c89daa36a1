"""``sealtrust audit``: check the tamper-evident log the way an outside auditor would.

``audit witness`` runs on another machine: it needs the service URL and an
auditor credential, never the database.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from api.cli._common import EXIT_FAILED, EXIT_USAGE, CliContext, common_options
from api.deployment import open_deployment
from trust.errors import InputError

WITNESS_CREDENTIAL_ENV = "SEALTRUST_WITNESS_CREDENTIAL"


def _read_checkpoint(path: Path) -> Any:
    from trust.audit import Checkpoint

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the checkpoint {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a signed tree head (JSON object)")
    return Checkpoint.from_json(data)


@click.group("audit")
def command() -> None:
    """The Merkle audit log (RFC 6962) and its signed tree heads."""


@command.command("verify")
@click.option("--entry", "entries", type=click.IntRange(min=1), multiple=True,
              help="Also prove this entry's inclusion in the latest signed head (repeatable).")
@click.option("--since", "since_size", type=click.IntRange(min=1),
              help="Also prove the latest signed head extends the signed head of this size.")
@click.option("--checkpoint", "checkpoints", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A signed head held outside the database (witness head.json, `audit head "
                   "--out`, GET /v1/audit/head): refuse a log shorter than or inconsistent "
                   "with it (repeatable).")
@common_options
def verify(cli: CliContext, entries: tuple[int, ...], since_size: int | None,
           checkpoints: tuple[Path, ...]) -> None:
    """Recompute every entry and signed head; prove inclusion and consistency on request.

    Without --checkpoint this cannot see a rollback (the newest entries deleted
    with their heads): give a head a witness holds. Exit 0 when the log is
    intact and every requested proof verifies against the signed roots, 1
    otherwise (each problem is listed).
    """
    from trust import audit, merkle
    from trust.registry.models import TreeHead

    held = [_read_checkpoint(path) for path in checkpoints]
    with open_deployment(cli.home) as deployment, deployment.registry.session() as session:
        log_key = deployment.key("audit").public_key_der()
        check = audit.verify_log(session, [log_key])
        problems = list(check.problems)
        for checkpoint in held:
            problems += audit.check_checkpoint(session, checkpoint, [log_key])
        latest = audit.latest_head(session)
        proofs: list[dict[str, object]] = []
        if (entries or since_size) and latest is None:
            problems.append("no signed tree head to prove against")
        elif latest is not None:
            root = bytes(latest.root_hash)
            for seq in entries:
                if seq > latest.size:
                    problems.append(f"entry {seq} is not yet covered by a signed head "
                                    f"(latest covers {latest.size})")
                    continue
                leaf, path = audit.inclusion(session, seq, latest.size)
                ok = merkle.verify_inclusion(leaf, seq - 1, latest.size, path, root)
                proofs.append({"inclusion": seq, "size": latest.size, "ok": ok})
                if not ok:
                    problems.append(f"entry {seq}: inclusion proof fails against head "
                                    f"{latest.size}")
            if since_size is not None:
                old = session.execute(select(TreeHead).where(
                    TreeHead.size == since_size)).scalars().first()
                if old is None:
                    problems.append(f"no signed head of size {since_size}")
                else:
                    path = audit.consistency(session, since_size, latest.size)
                    ok = merkle.verify_consistency(since_size, latest.size,
                                                   bytes(old.root_hash), root, path)
                    proofs.append({"consistency": [since_size, latest.size], "ok": ok})
                    if not ok:
                        problems.append(f"head {latest.size} does not extend head {since_size}")
    report = {"ok": not problems, "entries": check.entries, "heads": check.heads,
              "latest_head": latest.size if latest is not None else None,
              "checkpoints": [c.size for c in held], "proofs": proofs, "problems": problems}
    cli.emit(report, (f"audit log intact: {check.entries} entries, {check.heads} signed heads"
                      + (f", {len(proofs)} proofs verified" if proofs else ""))
             if not problems else "audit log problems:\n  " + "\n  ".join(problems))
    if problems:
        sys.exit(EXIT_FAILED)


@command.command("head")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the head (a checkpoint for `audit verify --checkpoint`) to this file.")
@common_options
def head(cli: CliContext, out: Path | None) -> None:
    """Print (or save) the latest signed tree head, to keep outside the database."""
    from trust import audit

    with open_deployment(cli.home) as deployment, deployment.registry.session() as session:
        latest = audit.latest_head(session)
        if latest is None:
            raise InputError("no signed tree head yet")
        checkpoint = audit.Checkpoint.from_head(latest).to_json()
    if out is not None:
        out.write_text(json.dumps(checkpoint, indent=2))
    cli.emit(checkpoint, f"signed head: {checkpoint['size']} entries, root "
                         f"{checkpoint['root_hash']}" + (f"; written to {out}" if out else ""))


@command.command("witness")
@click.option("--url", required=True, help="The service's base URL, e.g. https://st.example.")
@click.option("--state", "state_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The witness's own directory (its held head and the pinned log key).")
@click.option("--log-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="The audit log's public key (DER or PEM SubjectPublicKeyInfo); "
                                 "without it the key is fetched once and pinned (first use).")
@click.option("--credential-env", default=WITNESS_CREDENTIAL_ENV, show_default=True,
              help="Environment variable holding an auditor credential (st_<id>_<secret>).")
@click.option("--once", is_flag=True, help="Poll once and exit.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=60.0, show_default=True,
              help="Seconds between polls.")
@click.option("--polls", type=click.IntRange(min=1), default=1440, show_default=True,
              help="Stop after this many polls (a bounded loop; cron or systemd restarts it).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="HTTP timeout per request, seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document per poll.")
def witness(url: str, state_dir: Path, log_key: Path | None, credential_env: str, once: bool,
            interval: float, polls: int, timeout: float, as_json: bool) -> None:
    """Watch the service's signed tree head from outside: report a rollback or a fork.

    Each poll fetches GET /v1/audit/head, verifies its signature with the pinned
    log key, and checks the consistency proof from the head held in --state,
    which it then replaces (atomically). A rollback, a fork or a bad signature
    exits 1 at once, keeping the held head; an unreachable service is
    reported and retried, and exits 1 if the last poll failed too.
    """
    from api.witness import WitnessClient, load_spki
    from trust.witness import WitnessState

    credential = os.environ.get(credential_env, "")
    if not credential:
        click.echo(f"error: set {credential_env} to an auditor credential / "
                   f"请在 {credential_env} 中提供审计员凭据", err=True)
        sys.exit(EXIT_USAGE)
    try:
        state = WitnessState(state_dir)
        if log_key is not None:
            state.pin_log_key(load_spki(log_key.read_bytes()))
        client = WitnessClient(url, credential, state, timeout_s=timeout)
        try:
            failed = _watch(client, 1 if once else polls, interval, as_json)
        finally:
            client.close()
    except InputError as exc:
        click.echo(f"error [{exc.code}]: {exc.message}", err=True)
        sys.exit(EXIT_USAGE)
    if failed:
        sys.exit(EXIT_FAILED)


def _watch(client: Any, total: int, interval: float, as_json: bool) -> bool:
    """Poll ``total`` times; exit 1 on a rollback or fork; True if the last poll failed."""
    import httpx

    failed = False
    for n in range(total):
        try:
            verdict = client.poll()
        except (httpx.HTTPError, InputError) as exc:
            failed = True
            click.echo(json.dumps({"outcome": "unreachable", "ok": False, "error": str(exc)})
                       if as_json else f"witness: cannot check the head: {exc} / 无法获取树头",
                       err=not as_json)
        else:
            failed = False
            click.echo(json.dumps(verdict.to_dict(), ensure_ascii=False) if as_json
                       else f"witness: {verdict.message}", err=not as_json)
            if not verdict.outcome.ok:
                sys.exit(EXIT_FAILED)
        if n + 1 < total:
            time.sleep(interval)
    return failed
