"""``sealtrust qr``: issue a 亮证 presentation code, verify a code (text or image).

``qr verify`` exits 0 when the verdict is TOTAL_PASSED, 1 otherwise, 2 on
usage errors -- the same indication vocabulary as PDF verification. Online
(default) it asks the registry (live status; a presentation code is accepted
once); ``--offline`` judges with signed lists only: those in ``--lists DIR``
(from ``sealtrust trust export``) checked against the pinned ``--anchor``, or
lists signed from the deployment on the spot.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from api.cli._common import EXIT_FAILED, EXIT_OK, CliContext, common_options
from api.deployment import open_deployment
from api.routes.trust import ANCHOR_ROLE, export_lists
from signing.presentation import issue_presentation
from trust import audit
from trust.qrimage import to_png, to_svg
from trust.registry.grants import create_grant
from trust.token import TokenResult
from verification.list_state import STATE_FILE, ListState
from verification.qr import (
    OfflineLists,
    QrVerifier,
    anchors_from_pem,
    result_view,
    verify_qr,
    verify_qr_image,
)


@click.group("qr")
def command() -> None:
    """亮证 QR codes: issue presentation codes, verify codes."""


@command.command("issue")
@click.argument("licence_id")
@click.option("--ttl", type=click.IntRange(10, 300), default=60, show_default=True,
              help="Lifetime in seconds (refresh every 30 s).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), help="Also write a PNG.")
@click.option("--svg", type=click.Path(dir_okay=False, path_type=Path), help="Also write an SVG.")
@click.option("--grant-to", help="授权用证: the counter's client id.")
@click.option("--scope", help="Comma-separated licence fields granted (with --grant-to).")
@click.option("--grant-ttl", type=click.IntRange(10, 86_400), default=600, show_default=True)
@common_options
def issue(cli: CliContext, licence_id: str, ttl: int, png: Path | None, svg: Path | None,
          grant_to: str | None, scope: str | None, grant_ttl: int) -> None:
    """Print a fresh presentation code for LICENCE_ID on stdout."""
    if (grant_to is None) != (scope is None):
        raise click.UsageError("--grant-to and --scope go together")
    now = datetime.now(UTC)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        grant = None
        if grant_to is not None and scope is not None:
            grant = create_grant(session, licence_id=licence_id, verifier_id=grant_to,
                                 scope=[f.strip() for f in scope.split(",") if f.strip()],
                                 expires_at=now + timedelta(seconds=grant_ttl), at=now,
                                 actor=cli.actor)
        shown = issue_presentation(session, dep.issuer_context(), licence_id, at=now,
                                   ttl=timedelta(seconds=ttl), grant=grant)
        if grant is not None:
            audit.sign_pending(session, dep.key("audit"), now)
    if png is not None:
        png.write_bytes(to_png(shown.token, box_size=6))
    if svg is not None:
        svg.write_bytes(to_svg(shown.token))
    if cli.json:
        cli.emit(shown.to_dict())
    else:
        click.echo(shown.token)
        cli.say(f"expires {shown.expires_at.isoformat()}; "
                f"refresh at {shown.refresh_at.isoformat()}")


def _offline(cli: CliContext, lists_dir: Path | None, anchor: Path | None) -> OfflineLists:
    pinned = anchor or cli.home / "pki" / f"{ANCHOR_ROLE}.pem"
    if lists_dir is not None:
        try:
            anchors = anchors_from_pem(pinned.read_bytes())
        except OSError as exc:
            raise click.UsageError(f"cannot read the anchor {pinned}: {exc.strerror}") from None
        # downloaded lists: refuse one older than the newest this verifier accepted
        return OfflineLists.load(lists_dir, anchors,
                                 state=ListState(cli.home / "state" / STATE_FILE))
    with open_deployment(cli.home) as dep:
        signed = export_lists(dep, datetime.now(UTC))
    return OfflineLists.from_signed(signed.trust_list, [signed.anchor],
                                    signed.status_lists.values())


def _human(view: dict[str, Any]) -> str:
    lines = [f"{view['indication']}" + (f" / {view['sub_indication']}"
                                        if view["sub_indication"] else ""),
             f"{view['message_zh']} · {view['message_en']}"]
    for key, value in (view["claims"] or {}).items():
        if value is not None and key != "jti":
            lines.append(f"  {key}: {value}")
    for check in view["checks"]:
        mark = "ok  " if check["passed"] else "FAIL"
        lines.append(f"  [{mark}] {check['name']}" + (f": {check['detail']}"
                                                      if check["detail"] else ""))
    ages = view["lists"]
    lines.append(f"  trust list age: {ages['trust_list_age_s']} s; status list age: "
                 f"{ages['status_list_age_s']} s; online: {view['online']}")
    return "\n".join(lines)


@command.command("verify")
@click.argument("token", required=False)
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the code from a picture (PNG, JPEG).")
@click.option("--offline", is_flag=True, help="Judge with signed lists only.")
@click.option("--redeem", is_flag=True,
              help="The counter's check: spend the presentation code (once). Without it the "
                   "check is public and never spends the code.")
@click.option("--lists", "lists_dir", type=click.Path(exists=True, file_okay=False,
                                                      path_type=Path),
              help="Exported lists directory (with --offline).")
@click.option("--anchor", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Pinned trust-list operator certificate (default HOME/pki/sm2-root.pem).")
@common_options
def verify(cli: CliContext, token: str | None, image: Path | None, offline: bool,
           redeem: bool, lists_dir: Path | None, anchor: Path | None) -> None:
    """Verify TOKEN (``-`` reads stdin) or --image FILE; exit 0 only when TOTAL_PASSED."""
    if (token is None) == (image is None):
        raise click.UsageError("give exactly one of TOKEN or --image FILE")
    if (lists_dir or anchor) and not offline:
        raise click.UsageError("--lists and --anchor go with --offline")
    if redeem and offline:
        raise click.UsageError("--redeem needs the registry (not --offline)")
    if token == "-":  # noqa: S105 - stdin marker, not a secret
        token = sys.stdin.read(8192).strip()
    now = datetime.now(UTC)
    data = image.read_bytes() if image is not None else None
    result: TokenResult
    if offline:
        lists = _offline(cli, lists_dir, anchor)
        options: dict[str, Any] = {"trust_list": lists.trust_list, "now": now,
                                   "status_lists": lists.status_lists}
        result = verify_qr_image(data, **options) if data is not None else \
            verify_qr(token or "", **options)
    else:
        with open_deployment(cli.home) as dep:
            verifier = QrVerifier(dep.registry)
            result = verifier.verify_image(data, now, redeem=redeem) if data is not None \
                else verifier.verify(token or "", now, redeem=redeem)
    view = result_view(result)
    cli.emit(view, _human(view))
    sys.exit(EXIT_OK if result.passed else EXIT_FAILED)
