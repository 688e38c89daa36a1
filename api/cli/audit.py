"""``sealtrust audit``: check the tamper-evident log the way an outside auditor would."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from api.cli._common import EXIT_FAILED, CliContext, common_options
from api.deployment import open_deployment


@click.group("audit")
def command() -> None:
    """The Merkle audit log (RFC 6962) and its signed tree heads."""


@command.command("verify")
@click.option("--entry", "entries", type=click.IntRange(min=1), multiple=True,
              help="Also prove this entry's inclusion in the latest signed head (repeatable).")
@click.option("--since", "since_size", type=click.IntRange(min=1),
              help="Also prove the latest signed head extends the signed head of this size.")
@common_options
def verify(cli: CliContext, entries: tuple[int, ...], since_size: int | None) -> None:
    """Recompute every entry and signed head; prove inclusion and consistency on request.

    Exit 0 when the log is intact and every requested proof verifies against
    the signed roots, 1 otherwise (each problem is listed).
    """
    from trust import audit, merkle
    from trust.registry.models import TreeHead

    with open_deployment(cli.home) as deployment, deployment.registry.session() as session:
        check = audit.verify_log(session, [deployment.key("audit").public_key_der()])
        problems = list(check.problems)
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
              "proofs": proofs, "problems": problems}
    cli.emit(report, (f"audit log intact: {check.entries} entries, {check.heads} signed heads"
                      + (f", {len(proofs)} proofs verified" if proofs else ""))
             if not problems else "audit log problems:\n  " + "\n  ".join(problems))
    if problems:
        sys.exit(EXIT_FAILED)
