"""一证通办 at the counter: verify every granted licence's file, then fill the service's form.

Shared by ``POST /v1/services/{code}/fill``, ``sealtrust services fill --grant``
and ``benchmarks/bench_fill.py``. The values come from the registry record cut
down to the service's scope; the verification engine judges the sealed file of
each licence (signature, seal, chain, live status, file SM3 against the
registry), and only a TOTAL_PASSED licence feeds the form (``fill_form``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from api.services import ServiceDefinition, SourcedLicence, fill_form
from trust.indications import Indication, SubIndication
from trust.registry.sealed import licence_file
from trust.registry.service_grants import RedeemedLicence, ServiceRedemption
from verification import VerificationPolicy, verify_pdf

__all__ = ["VerifiedLicence", "fill_redemption", "missing_types", "verify_granted"]


@dataclass(frozen=True, slots=True)
class VerifiedLicence:
    """A granted licence with the verification engine's verdict on its file."""

    source: SourcedLicence
    sub_indication: str | None
    summary: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"licence_id": self.source.licence_id, "type": self.source.type_code,
                "indication": self.source.indication, "sub_indication": self.sub_indication,
                "verified_at": self.source.verified_at.isoformat(), "summary": self.summary}


def missing_types(service: ServiceDefinition, held: Iterable[str]) -> list[str]:
    """The needed types a holder lacks: each absent all-of type, each unmet one-of group's types."""
    have = set(held)
    out = [t for t in service.all_of if t not in have]
    for group in service.one_of:
        if not have.intersection(group):
            out.extend(t for t in group if t not in out)
    return out


def verify_granted(session: Session, licences: Sequence[RedeemedLicence],
                   policy: VerificationPolicy, at: datetime,
                   service: ServiceDefinition) -> list[VerifiedLicence]:
    """Judge each granted licence's sealed file; the record handed on is cut to the scope."""
    scope = service.scope()
    out: list[VerifiedLicence] = []
    for item in licences:
        report = verify_pdf(licence_file(session, item.licence_id), policy, at,
                            name=item.licence_id)
        indication: str = report.indication.value
        sub: str | None = None if report.sub_indication is None else report.sub_indication.value
        signed_ids = {s.facts.licence_id for s in report.signatures if s.facts.licence_id}
        # Threat: the stored file replaced by another genuine licence (another holder's):
        # the file must be signed for exactly this licence id.
        if indication == Indication.TOTAL_PASSED and signed_ids != {item.licence_id}:
            indication, sub = Indication.TOTAL_FAILED.value, SubIndication.SIG_CONSTRAINTS_FAILURE
        # Threat: revoked or expired between the grant and now, before the status source
        # caught up: the registry's word at redemption wins, and fails closed.
        if indication == Indication.TOTAL_PASSED and not item.usable:
            indication, sub = Indication.INDETERMINATE.value, SubIndication.TRY_LATER
        wanted = scope.get(item.type_code, frozenset())
        record = {k: v for k, v in item.record.items() if k in wanted}
        out.append(VerifiedLicence(
            SourcedLicence(item.licence_id, item.type_code, record, report.at, indication),
            sub, {"zh": report.summary("zh"), "en": report.summary("en")}))
    return out


def fill_redemption(session: Session, service: ServiceDefinition,
                    redemption: ServiceRedemption, policy: VerificationPolicy,
                    at: datetime) -> dict[str, Any]:
    """The issue-14 JSON (service, form, provenance, missing) plus each licence's verdict."""
    verified = verify_granted(session, redemption.licences, policy, at, service)
    filled = fill_form(service, [v.source for v in verified]).to_json()
    filled["licences"] = [v.to_dict() for v in verified]
    filled["grant_id"] = redemption.grant_id
    return filled
