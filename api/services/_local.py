"""The operator's local fill (``sealtrust services fill --licence``): registry, verifier, form.

Each licence is read through the registry's one decryption path, its stored
file verified by the verification engine under the deployment's policy at an
explicit time (the files read in one statement and verified as one bulk chunk,
as the counter's fill does), and only then its record (cut to the service's scope) handed to
:func:`fill_form`. One ``services.fill`` audit entry records who filled which
service from which licence ids; it never carries a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

from api.services._fill import FilledForm, SourcedLicence, fill_form
from api.services._model import ServiceDefinition
from trust import audit
from trust.errors import InputError, NotFoundError, SealTrustError
from trust.indications import Indication
from trust.registry.models import Licence
from trust.registry.sealed import files_read_together, licence_file, licence_record

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.deployment import Deployment
    from verification import FileReport, VerificationPolicy

__all__ = ["MAX_LICENCES", "NOT_VERIFIED", "fill_from_registry"]

MAX_LICENCES: Final = 16
NOT_VERIFIED: Final = "NOT_VERIFIED"  # a licence of a type the service does not read


def _indication(report: FileReport, licence_id: str) -> str:
    if report.indication is not Indication.TOTAL_PASSED:
        return report.indication.value
    named = {s.facts.licence_id for s in report.signatures if s.facts.licence_id}
    if named != {licence_id}:
        # Threat: a valid file of another licence stored (or swapped) under this id would
        # lend its seal to this row's record.
        return Indication.TOTAL_FAILED.value
    return report.indication.value


def _verdicts(session: Session, licences: Sequence[Licence], policy: VerificationPolicy,
              at: datetime) -> dict[str, str]:
    """Licence id -> indication of its stored file: the files read in one statement and
    verified as one bulk chunk (one ``verify_many``, one status read)."""
    from verification import verify_pdfs

    stored: list[tuple[str, bytes]] = []
    with files_read_together(session, (licence.id for licence in licences)):
        for licence in licences:
            try:
                stored.append((licence.id, licence_file(session, licence.id)))
            except SealTrustError:
                continue  # fail closed below: a file or key that cannot be opened
    verdicts = {name: _indication(report, name)
                for (name, _), report in zip(stored, verify_pdfs(stored, policy, at),
                                             strict=True)}
    return {licence.id: verdicts.get(licence.id, Indication.TOTAL_FAILED.value)
            for licence in licences}


def fill_from_registry(deployment: Deployment, service: ServiceDefinition,
                       licence_ids: Sequence[str], *, at: datetime, actor: str,
                       policy: VerificationPolicy | None = None) -> FilledForm:
    """Verify each named licence now and fill ``service``'s form; audited, values never logged."""
    from api.routes.verification import deployment_policy

    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError("at must be a timezone-aware datetime", code="input.naive_datetime")
    ids = list(dict.fromkeys(licence_ids))
    if not ids or len(ids) > MAX_LICENCES:
        raise InputError(f"name 1 to {MAX_LICENCES} licences", code="services.licences")
    policy = policy or deployment_policy(deployment)
    scope = service.scope()
    with deployment.registry.session() as session:
        licences: list[Licence] = []
        for licence_id in ids:
            licence = session.get(Licence, licence_id) if len(licence_id) <= 64 else None
            if licence is None:
                raise NotFoundError(f"no licence {licence_id[:64]!r}; 无此证照",
                                    code="licence.not_found")
            licences.append(licence)
        # a licence of a type the service does not read is never opened
        verdicts = _verdicts(session, [lic for lic in licences if lic.type_code in scope],
                             policy, at)
        sourced: list[SourcedLicence] = []
        for licence in licences:
            indication = verdicts.get(licence.id, NOT_VERIFIED)
            record: dict[str, object] = {}
            if indication == Indication.TOTAL_PASSED.value:
                holder = licence_record(session, licence).holder
                record = {f: holder[f] for f in scope[licence.type_code] if f in holder}
            sourced.append(SourcedLicence(licence.id, licence.type_code, record, at, indication))
        filled = fill_form(service, sourced)
        used = sorted({p["licence_id"] for p in filled.provenance.values()
                       if p.get("licence_id")})
        audit.append(session, kind="services.fill", actor=actor, subject=service.code, at=at,
                     details={"service": service.code, "version": service.version,
                              "licence_ids": ids, "used": used, "missing": filled.missing,
                              "path": "local"})
        audit.sign_pending(session, deployment.key("audit"), at)
    return filled
