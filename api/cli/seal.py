"""``sealtrust seal``: make, list, show and revoke GB/T 38540 seals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import select

from api.cli._common import CliContext, common_options
from api.deployment import open_deployment
from signing.departments import department_certificates
from signing.seals import make_department_seal, revoke_seal
from trust.errors import InputError, NotFoundError
from trust.pki import Certificate
from trust.registry.models import SealRecord
from trust.seal import parse_seal


def _iso(value: str | None, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"not an ISO 8601 time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _summary(seal: SealRecord) -> dict[str, object]:
    return {"es_id": seal.es_id, "department": seal.department_code, "name": seal.name,
            "status": seal.status, "valid_start": seal.valid_start.isoformat(),
            "valid_end": seal.valid_end.isoformat(),
            "revoked_at": seal.revoked_at.isoformat() if seal.revoked_at else None,
            "revoke_reason": seal.revoke_reason}


@click.group("seal")
def command() -> None:
    """Electronic seals (电子印章)."""


@command.command("make")
@click.option("--dept", "department", required=True, help="Department code.")
@click.option("--valid-from", default=None, help="ISO 8601 start (default now).")
@click.option("--years", default=3, show_default=True, type=click.IntRange(1, 10))
@common_options
def make(cli: CliContext, department: str, valid_from: str | None, years: int) -> None:
    """Make a seal for DEPT listing its signing certificates, signed by the seal maker."""
    now = datetime.now(UTC)
    start = _iso(valid_from, now)
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        maker = dep.key("sm2-seal-maker")
        record = make_department_seal(
            session, department_code=department, maker_key=maker,
            maker_cert=dep.certificate("sm2-seal-maker"),
            signer_certs=department_certificates(session, department),
            valid_start=start, valid_end=start + timedelta(days=365 * years), at=now,
            actor=cli.actor)
        summary = _summary(record)
    cli.emit(summary, f"seal {summary['es_id']} made for {department}")


@command.command("list")
@click.option("--dept", "department", default=None, help="Only this department's seals.")
@common_options
def list_(cli: CliContext, department: str | None) -> None:
    """List seals."""
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        stmt = select(SealRecord).order_by(SealRecord.es_id)
        if department:
            stmt = stmt.where(SealRecord.department_code == department)
        rows = [_summary(s) for s in session.execute(stmt).scalars()]
    cli.emit(rows, "\n".join(f"{r['es_id']}  {r['status']:<8} {r['department']}  {r['name']}"
                             for r in rows) or "no seals")


@command.command("show")
@click.argument("es_id")
@click.option("--png", "png_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the seal picture to this file.")
@common_options
def show(cli: CliContext, es_id: str, png_out: Path | None) -> None:
    """Show one seal (and optionally save its picture)."""
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        record = session.get(SealRecord, es_id)
        if record is None:
            raise NotFoundError(f"no seal {es_id!r}")
        seal = parse_seal(record.der)
        summary = _summary(record)
    summary["maker"] = Certificate.from_der(seal.maker_cert).subject_text
    summary["cert_list"] = len(seal.cert_list)
    summary["picture"] = {"type": seal.picture.type, "bytes": len(seal.picture.data),
                          "width_mm": seal.picture.width_mm,
                          "height_mm": seal.picture.height_mm}
    if png_out is not None:
        png_out.write_bytes(seal.picture.data)
        summary["png"] = str(png_out)
    cli.emit(summary, "\n".join(f"{k}: {v}" for k, v in summary.items()))


@command.command("revoke")
@click.argument("es_id")
@click.option("--reason", required=True)
@common_options
def revoke(cli: CliContext, es_id: str, reason: str) -> None:
    """Revoke a seal: issuance with it is refused from now on."""
    with open_deployment(cli.home) as dep, dep.registry.session() as session:
        record = revoke_seal(session, es_id, reason=reason, at=datetime.now(UTC), actor=cli.actor)
        summary = _summary(record)
    cli.emit(summary, f"seal {es_id} revoked")
