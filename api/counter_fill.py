"""一证通办 at the counter: verify every granted licence's file, then fill the service's form.

Shared by ``POST /v1/services/{code}/fill``, ``sealtrust services fill --grant``
and ``benchmarks/bench_fill.py``. The values come from the registry record cut
down to the service's scope; the verification engine judges the sealed file of
each licence (signature, seal, chain, live status, file SM3 against the
registry), and only a TOTAL_PASSED licence feeds the form (``fill_form``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.orm import Session

from api.services import ServiceDefinition, SourcedLicence, fill_form
from signing.types import TypeRegistry, UnknownLicenceTypeError
from trust import audit
from trust.errors import InputError, NotFoundError, SealTrustError
from trust.indications import Indication, SubIndication
from trust.registry.grants import GrantError, record_refusal
from trust.registry.models import Grant
from trust.registry.sealed import files_read_together, licence_file
from trust.registry.service_grants import (
    RedeemedLicence,
    ServiceRedemption,
    redeem_service_grant,
)
from trust.token import PREFIX as TOKEN_PREFIX
from trust.token import decode_token
from verification import FileReport, VerificationPolicy, verify_pdfs

if TYPE_CHECKING:
    from api.deployment import Deployment

__all__ = ["GRANT_CODE_PREFIX", "VerifiedLicence", "fill_from_grant", "fill_redemption",
           "grant_id_of", "missing_types", "scoped_source", "verify_granted"]

GRANT_CODE_PREFIX: Final = "SG1:"


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
    """Judge each granted licence's sealed file; the record handed on is cut to the scope.

    The files are read in one registry statement and verified as one bulk chunk
    (one ``verify_many`` for their SM2 signatures, one status read), with the
    reports :func:`verify_pdf` would give each.
    """
    scope = service.scope()
    stored: dict[int, bytes] = {}
    with files_read_together(session, (item.licence_id for item in licences)):
        for n, item in enumerate(licences):
            try:
                stored[n] = licence_file(session, item.licence_id)
            except SealTrustError:
                continue  # judged below: a file that cannot be opened fails closed
    reports = iter(verify_pdfs([(licences[n].licence_id, data) for n, data in stored.items()],
                               policy, at))
    out: list[VerifiedLicence] = []
    for n, item in enumerate(licences):
        if n not in stored:
            # Fail closed: a file that cannot be opened (key gone, corrupt) is a failed licence.
            out.append(VerifiedLicence(
                SourcedLicence(item.licence_id, item.type_code, {}, at,
                               Indication.TOTAL_FAILED.value),
                SubIndication.FORMAT_FAILURE.value,
                {"zh": f"{item.licence_id}：文件无法读取", "en": f"{item.licence_id}: "
                 "the stored file cannot be read"}))
            continue
        out.append(_verified(scope, item, next(reports)))
    return out


def _verified(scope: Mapping[str, frozenset[str]], item: RedeemedLicence,
              report: FileReport) -> VerifiedLicence:
    """The engine's verdict on one granted licence's file, narrowed by what the grant says."""
    indication: str = report.indication.value
    sub: str | None = None if report.sub_indication is None else report.sub_indication.value
    signed_ids = {s.facts.licence_id for s in report.signatures if s.facts.licence_id}
    # Threat: the stored file replaced by another genuine licence (another holder's):
    # the file must be signed for exactly this licence id.
    if indication == Indication.TOTAL_PASSED and signed_ids != {item.licence_id}:
        indication = Indication.TOTAL_FAILED.value
        sub = SubIndication.SIG_CONSTRAINTS_FAILURE.value
    # Threat: revoked or expired between the grant and now, before the status source
    # caught up: the registry's word at redemption wins, and fails closed.
    if indication == Indication.TOTAL_PASSED and not item.usable:
        indication, sub = Indication.INDETERMINATE.value, SubIndication.TRY_LATER.value
    return VerifiedLicence(scoped_source(scope, item, indication, report.at), sub,
                           {"zh": report.summary("zh"), "en": report.summary("en")})


def scoped_source(scope: Mapping[str, frozenset[str]], item: RedeemedLicence, indication: str,
                  verified_at: datetime) -> SourcedLicence:
    """What ``fill_form`` may read of a granted licence: only the service's scope of its type.

    Threat: a grant row or record carrying more than the service needs (an
    edited row, a service that changed): whatever came out of the registry,
    nothing outside ``service.scope()`` goes on.
    """
    wanted = scope.get(item.type_code, frozenset())
    record = {k: v for k, v in item.record.items() if k in wanted}
    return SourcedLicence(item.licence_id, item.type_code, record, verified_at, indication)


def fill_redemption(session: Session, service: ServiceDefinition,
                    redemption: ServiceRedemption, policy: VerificationPolicy,
                    at: datetime, types: TypeRegistry | None = None) -> dict[str, Any]:
    """The issue-14 JSON (service, form, provenance, missing) plus each licence's verdict,
    the form's labels and (given ``types``) the licence type names, for the counter page."""
    verified = verify_granted(session, redemption.licences, policy, at, service)
    filled = fill_form(service, [v.source for v in verified]).to_json()
    filled["licences"] = [v.to_dict() for v in verified]
    filled["grant_id"] = redemption.grant_id
    filled["labels"] = form_labels(service)
    if types is not None:
        shown = {v.source.type_code for v in verified} | set(filled["missing"])
        filled["type_names"] = {code: _type_name(types, code) for code in sorted(shown)}
    return filled


def form_labels(service: ServiceDefinition) -> dict[str, dict[str, str]]:
    """Each form field's printed name ``{"zh", "en"}`` (``x-label``, else its title)."""
    out: dict[str, dict[str, str]] = {}
    for name, prop in (service.form_schema.get("properties") or {}).items():
        label = prop.get("x-label") if isinstance(prop, Mapping) else None
        if isinstance(label, Mapping):
            out[name] = {"zh": str(label.get("zh", name)), "en": str(label.get("en", name))}
        else:
            title = prop.get("title", name) if isinstance(prop, Mapping) else name
            out[name] = {"zh": str(title), "en": name}
    return out


def _type_name(types: TypeRegistry, code: str) -> dict[str, str]:
    try:
        licence_type = types.get(code)
    except UnknownLicenceTypeError:
        return {"zh": code, "en": code}
    return {"zh": licence_type.name_zh, "en": licence_type.name_en}


def grant_id_of(code: str) -> str:
    """The grant id in a pasted or scanned code: ``SG1:<hex>``, the bare hex, or a 亮证 code
    (``LZ1:...``) carrying the grant.

    The token's signature is not checked here: a grant id confers nothing by itself (the
    redemption checks the counter, the service, the lifetime and that it is unspent).
    """
    text = code.strip()
    if text.startswith(TOKEN_PREFIX):
        try:
            grant = decode_token(text).claims.grant
        except SealTrustError:
            raise InputError("not a readable 亮证 code; 亮证码无法读取",
                             code="grant.code") from None
        if grant is None:
            raise InputError("this 亮证 code carries no grant; 此亮证码未附授权",
                             code="grant.code")
        return grant.grant_id.hex()
    if text.upper().startswith(GRANT_CODE_PREFIX):
        text = text[len(GRANT_CODE_PREFIX):]
    if not 1 <= len(text) <= 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise InputError("not a grant code (SG1:<hex>); 不是授权码", code="grant.code")
    return text.lower()


def fill_from_grant(deployment: Deployment, service: ServiceDefinition, code: str, *,
                    verifier_id: str | None, at: datetime, actor: str,
                    policy: VerificationPolicy | None = None,
                    types: TypeRegistry | None = None) -> dict[str, Any]:
    """Redeem a service grant and fill the form in one transaction (the CLI's path).

    ``verifier_id`` None redeems as the counter the grant names: the CLI
    operator is trusted (and named as ``actor`` in the audit entry); a given
    one must be the grant's. A refusal of an existing grant is audited apart.
    """
    from api.routes.verification import deployment_policy

    grant_id = grant_id_of(code)
    policy = policy or deployment_policy(deployment)
    with deployment.registry.session() as session:
        row = session.get(Grant, grant_id)
        if row is None:
            raise NotFoundError(f"no grant {grant_id!r}", code="grant.not_found")
        counter = verifier_id or row.verifier_id
        try:
            redemption = redeem_service_grant(
                session, grant_id, service_code=service.code, service_version=service.version,
                verifier_id=counter, at=at, actor=actor)
        except GrantError as exc:
            session.rollback()
            with deployment.registry.session() as log:
                if record_refusal(log, grant_id, verifier_id=counter, at=at, actor=actor,
                                  error=exc):
                    audit.sign_pending(log, deployment.key("audit"), at)
            raise
        filled = fill_redemption(session, service, redemption, policy, at, types)
        audit.sign_pending(session, deployment.key("audit"), at)
    return filled
