"""Issue the dynamic 亮证 presentation code for a licence, optionally carrying a grant.

A presentation code lives 60 s by default and the holder app asks for a new
one every 30 s, so a screenshot is worth little; the online verifier accepts
each code once. Only a valid licence gets a code: a revoked licence's holder
cannot produce fresh proof.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from signing.issue import CHINA, STATUS_LIST_ID, IssuerContext
from trust.errors import ConflictError, InputError, NotFoundError
from trust.registry.models import Department, Licence
from trust.registry.sealed import licence_record
from trust.token import (
    PRESENTATION_LIFETIME,
    REFRESH_INTERVAL,
    Claims,
    Grant,
    TokenKind,
    encode_token,
    mask_id_number,
    mask_name,
    new_jti,
)
from trust.token.claims import MAX_PRESENTATION_LIFETIME

__all__ = ["Presentation", "issue_presentation"]


@dataclass(frozen=True, slots=True)
class Presentation:
    """A fresh presentation code and when the holder app should fetch the next one."""

    token: str
    licence_id: str
    issued_at: datetime
    expires_at: datetime
    refresh_at: datetime
    grant: Grant | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"token": self.token, "licence_id": self.licence_id,
                "issued_at": self.issued_at.isoformat(), "expires_at": self.expires_at.isoformat(),
                "refresh_at": self.refresh_at.isoformat(),
                "grant": None if self.grant is None else self.grant.to_dict()}


def issue_presentation(
    session: Session,
    context: IssuerContext,
    licence_id: str,
    *,
    at: datetime,
    ttl: timedelta = PRESENTATION_LIFETIME,
    grant: Grant | None = None,
) -> Presentation:
    """Sign a presentation token for a valid licence with the deployment's token signer."""
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise InputError("presentation time must be timezone-aware", code="input.naive_datetime")
    if not timedelta(seconds=10) <= ttl <= MAX_PRESENTATION_LIFETIME:
        raise InputError(f"a presentation code lives 10 s .. {MAX_PRESENTATION_LIFETIME}",
                         code="presentation.ttl")
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise NotFoundError(f"no licence {licence_id!r}", code="licence.not_found")
    if licence.status != "valid":
        raise ConflictError(f"licence {licence_id} is {licence.status}",
                            code="presentation.licence_not_valid")
    department = session.get(Department, licence.department_code)
    if department is None or not department.uscc:
        raise NotFoundError(f"licence {licence_id} has no issuing department code")
    # The holder fields as the licence's own type version names them: a later revision
    # may have renamed them.
    licence_type = (context.types.issued_under(licence.type_code, licence.type_version)
                    or context.types.get(licence.type_code))
    record = licence_record(session, licence).holder
    if licence_type.holder_field not in record:
        raise ConflictError(
            f"licence {licence_id} was issued under {licence.type_code} version "
            f"{licence.type_version}, which this deployment no longer defines; "
            "证照所依据的类型版本已不在本部署中",
            code="presentation.type_version_unknown")
    holder_id = record.get(licence_type.holder_id_field) if licence_type.holder_id_field else None
    at = at.replace(microsecond=0)
    claims = Claims(
        kind=TokenKind.PRESENTATION, issuer=department.uscc, licence_id=licence.id,
        licence_type=licence.type_code, holder_name=mask_name(licence_type.holder_name(record)),
        holder_id_last4=mask_id_number(str(holder_id)) if holder_id else None,
        # Stored as midnight China time (in UTC): the calendar date is the CST one.
        valid_from=licence.valid_from.astimezone(CHINA).date(),
        valid_until=None if licence.valid_to is None else licence.valid_to.astimezone(CHINA).date(),
        issued_at=at, expires_at=at + ttl, jti=new_jti(), status_list=STATUS_LIST_ID,
        status_index=licence.status_index, grant=grant)
    signer = context.token_signer
    token = encode_token(claims, signer.key, signer.chain[0])
    return Presentation(token, licence.id, claims.issued_at, claims.expires_at,
                        claims.issued_at + min(REFRESH_INTERVAL, ttl / 2), grant)
