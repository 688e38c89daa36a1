"""Token validation, offline and online, reported in the ETSI vocabulary.

Offline: signature under a trust-list token signer (every certificate sharing
the kid is tried), signer valid at iat and scoped to the licence type, token
time window with a small clock skew, licence validity dates, status bit, and
the age of both lists. Online adds the registry's live status (which then
replaces the status list) and, for presentation tokens, a replay cache.

Fail closed: a missing, stale or future-dated list, an unknown status or an
unknown signer gives INDETERMINATE and never TOTAL_PASSED. The jti is spent
only when every other check passed, so a refused scan does not burn a code.

Licence validity dates are calendar dates in China Standard Time (UTC+8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Final

from trust.errors import InputError
from trust.indications import Check, Indication, SubIndication
from trust.licence_id import VERSION_PREFIX, LicenceIdError, parse_licence_id
from trust.status import LicenceStatus, StatusList
from trust.token.claims import Claims, TokenKind
from trust.token.codec import DecodedToken, decode_token
from trust.token.cose import verify_sign1
from trust.token.errors import TokenFormatError
from trust.token.online import LiveStatus, ReplayCache
from trust.trustlist import Role, TrustEntry, TrustList

__all__ = [
    "TokenResult",
    "VerifierPolicy",
    "format_failure",
    "require_aware",
    "verify_decoded",
    "verify_token",
]

CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")
_CST_OFFSET: Final = timedelta(hours=8)
_P, _F, _I = Indication.TOTAL_PASSED, Indication.TOTAL_FAILED, Indication.INDETERMINATE
_S = SubIndication


@dataclass(frozen=True, slots=True)
class VerifierPolicy:
    """How much clock skew to forgive and how old the lists may be."""

    clock_skew: timedelta = timedelta(seconds=30)
    max_trust_list_age: timedelta = timedelta(days=7)
    max_status_list_age: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.clock_skew <= timedelta(minutes=5):
            raise InputError("clock skew must be between 0 and 5 minutes", code="input.policy")
        if self.max_trust_list_age <= timedelta(0) or self.max_status_list_age <= timedelta(0):
            raise InputError("maximum list ages must be positive", code="input.policy")


@dataclass(frozen=True, slots=True)
class TokenResult:
    """The bottom line, each check, the masked claims (only if the signature held)."""

    indication: Indication
    sub_indication: SubIndication | None
    checks: tuple[Check, ...]
    claims: Claims | None = None
    signer: str | None = None
    trust_list_age: timedelta | None = None
    status_list_age: timedelta | None = None
    online: bool = field(default=False)

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (ages in seconds)."""
        return {
            "indication": self.indication.value,
            "sub_indication": None if self.sub_indication is None else self.sub_indication.value,
            "checks": [
                {
                    "name": c.name,
                    "indication": c.indication.value,
                    "sub_indication": None if c.sub_indication is None else c.sub_indication.value,
                    "detail": c.detail,
                }
                for c in self.checks
            ],
            "claims": None if self.claims is None else self.claims.to_dict(),
            "signer": self.signer,
            "trust_list_age_s": _seconds(self.trust_list_age),
            "status_list_age_s": _seconds(self.status_list_age),
            "online": self.online,
        }


_DEFAULT_POLICY: Final = VerifierPolicy()


def _seconds(age: timedelta | None) -> int | None:
    return None if age is None else int(age.total_seconds())


_PASSED: dict[str, Check] = {}
_ZERO: Final = timedelta(0)


def _ok(name: str, detail: str = "") -> Check:
    if detail:
        return Check(name, _P, None, detail)
    # A passed check without detail is immutable and the same every time: build it once.
    check = _PASSED.get(name)
    if check is None:
        check = _PASSED[name] = Check(name, _P, None, "")
    return check


# The passed checks every valid token carries, built once (the hot path reads constants).
_FORMAT_OK: Final = _ok("format")
_VALIDITY_OK: Final = _ok("signer.validity")
_SCOPE_OK: Final = _ok("signer.scope")
_TIME_OK: Final = _ok("token.time")
_LICENCE_OK: Final = _ok("licence.validity")


@lru_cache(maxsize=256)
def _signature_ok(subject: str) -> Check:
    """The passed signature check naming its signer: the same few signers sign every token."""
    return Check("signature", _P, None, subject)


def _freshness(
    name: str,
    issued_at: datetime,
    next_update: datetime,
    now: datetime,
    max_age: timedelta,
    skew: timedelta,
) -> Check:
    age = now - issued_at
    if age < -skew:
        return Check(name, _I, _S.TRY_LATER, f"dated {-age} in the future")
    if age > max_age:
        return Check(name, _I, _S.TRY_LATER, f"{age} old, older than the allowed {max_age}")
    if now > next_update + skew:
        return Check(name, _I, _S.TRY_LATER, f"{age} old, past its next update {next_update}")
    return Check(name, _P, None, f"{age if age > _ZERO else _ZERO} old")


def _find_signer(
    claims: Claims, envelope: Any, trust_list: TrustList
) -> tuple[Check, TrustEntry | None]:
    candidates = trust_list.candidates(envelope.kid, Role.TOKEN_SIGNER)
    if not candidates:
        return Check(
            "signature",
            _I,
            _S.NO_SIGNING_CERTIFICATE_FOUND,
            f"no token signer with kid {envelope.kid.hex()}",
        ), None
    verified = [c for c in candidates if verify_sign1(envelope, c.facts.spki)]
    if not verified:
        return Check(
            "signature",
            _F,
            _S.SIG_CRYPTO_FAILURE,
            f"signature does not verify under {len(candidates)} signer(s) "
            f"with kid {envelope.kid.hex()}",
        ), None
    for entry in verified:
        if entry.issuer == claims.issuer:
            return _signature_ok(entry.facts.subject), entry
    return Check(
        "signature",
        _I,
        _S.SIG_CONSTRAINTS_FAILURE,
        f"signer belongs to {verified[0].issuer}, token names {claims.issuer}",
    ), None


def _licence_issuer(claims: Claims) -> Check | None:
    """The licence id's issuing authority is the token's issuer.

    Threat: an issuer's genuine token signer vouching for another issuer's licence id
    (the status bit would then be read from the wrong issuer's list). Applies to v1
    ids (docs/licence-id.md), which name their authority; other schemes name none.
    """
    if not claims.licence_id.startswith(VERSION_PREFIX + "-"):
        return None
    try:
        authority = parse_licence_id(claims.licence_id).authority
    except LicenceIdError as exc:
        return Check("licence.issuer", _F, _S.SIG_CONSTRAINTS_FAILURE,
                     f"licence id {claims.licence_id!r} is malformed: {exc.message}")
    if authority != claims.issuer:
        return Check("licence.issuer", _F, _S.SIG_CONSTRAINTS_FAILURE,
                     f"licence {claims.licence_id} is issued by {authority}, the token by "
                     f"{claims.issuer}")
    return _ok("licence.issuer", authority)


def _signer_checks(checks: list[Check], claims: Claims, entry: TrustEntry) -> None:
    if entry.facts.valid_at(claims.issued_at):
        checks.append(_VALIDITY_OK)
    else:
        checks.append(
            Check(
                "signer.validity",
                _I,
                _S.OUT_OF_BOUNDS_NO_POE,
                f"signer certificate not valid at iat {claims.issued_at}",
            )
        )
    if entry.allows(claims.licence_type):
        checks.append(_SCOPE_OK)
    else:
        checks.append(
            Check(
                "signer.scope",
                _I,
                _S.SIG_CONSTRAINTS_FAILURE,
                f"signer may not vouch for licence type {claims.licence_type}",
            )
        )


def _time_checks(checks: list[Check], claims: Claims, now: datetime, skew: timedelta) -> None:
    if now < claims.issued_at - skew:
        checks.append(
            Check(
                "token.time", _I, _S.NOT_YET_VALID, f"issued at {claims.issued_at}, after now {now}"
            )
        )
    elif now > claims.expires_at + skew:
        checks.append(Check("token.time", _F, _S.EXPIRED, f"expired at {claims.expires_at}"))
    else:
        checks.append(_TIME_OK)
    # The calendar day in China; a UTC ``now`` (every service check) shifted without the
    # general time-zone conversion.
    today = (now + _CST_OFFSET).date() if now.tzinfo is UTC else now.astimezone(
        CHINA_STANDARD_TIME).date()
    if today < claims.valid_from:
        checks.append(
            Check(
                "licence.validity", _I, _S.NOT_YET_VALID, f"licence valid from {claims.valid_from}"
            )
        )
    elif claims.valid_until is not None and today > claims.valid_until:
        checks.append(
            Check("licence.validity", _F, _S.EXPIRED, f"licence expired on {claims.valid_until}")
        )
    else:
        checks.append(_LICENCE_OK)


_FINAL_DETAIL: Final = {
    LicenceStatus.REVOKED: "licence revoked",
    LicenceStatus.CANCELLED: "licence cancelled",
    LicenceStatus.SUPERSEDED: "licence superseded by a newer licence",
}


def _status_check(name: str, state: LicenceStatus) -> Check:
    if state is LicenceStatus.VALID:
        return _ok(name)
    if state in _FINAL_DETAIL:  # no longer stands; the detail says which final state
        return Check(name, _F, _S.REVOKED, _FINAL_DETAIL[state])
    if state is LicenceStatus.SUSPENDED:
        return Check(name, _I, _S.TRY_LATER, "licence suspended")
    if state is LicenceStatus.EXPIRED:  # past its validity (status list value 6)
        return Check(name, _F, _S.EXPIRED, "licence expired")
    return Check(name, _I, _S.TRY_LATER, "licence status unknown")


def _list_status(
    claims: Claims, lists: Mapping[str, StatusList], now: datetime, policy: VerifierPolicy
) -> tuple[list[Check], timedelta | None]:
    status_list = lists.get(claims.status_list)
    if status_list is None or status_list.issuer != claims.issuer:
        return [
            Check(
                "status.list",
                _I,
                _S.TRY_LATER,
                f"no status list {claims.status_list} of {claims.issuer}",
            )
        ], None
    fresh = _freshness(
        "status.list",
        status_list.issued_at,
        status_list.next_update,
        now,
        policy.max_status_list_age,
        policy.clock_skew,
    )
    state = status_list.status(claims.status_index)
    return [fresh, _status_check("status", state)], status_list.age(now)


def _bottom_line(checks: list[Check]) -> tuple[Indication, SubIndication | None]:
    """The first failed check decides, else the first indeterminate one, else passed."""
    for check in checks:
        if check.indication is not _P:
            break
    else:
        return _P, None  # every check passed: one look at each is enough
    for wanted in (_F, _I):
        for check in checks:
            if check.indication is wanted:
                return wanted, check.sub_indication
    return _P, None


def verify_token(
    text: str,
    *,
    trust_list: TrustList,
    now: datetime,
    status_lists: Mapping[str, StatusList] | None = None,
    policy: VerifierPolicy | None = None,
    live_status: LiveStatus | None = None,
    replay_cache: ReplayCache | None = None,
) -> TokenResult:
    """Validate QR text at ``now`` (aware). Online when ``live_status`` is given.

    Never raises on bad tokens: they give TOTAL_FAILED / FORMAT_FAILURE.
    """
    require_aware(now)
    try:
        token = decode_token(text)
    except TokenFormatError as exc:
        return format_failure(exc, trust_list, now, online=live_status is not None)
    return _verify_decoded(token, trust_list, now, status_lists, policy, live_status,
                           replay_cache)


def require_aware(now: datetime) -> None:
    """Refuse a naive ``now``: every time check compares aware moments."""
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise TokenFormatError("now must be a timezone-aware datetime", code="input.naive_datetime")


def format_failure(exc: TokenFormatError, trust_list: TrustList, now: datetime, *,
                   online: bool) -> TokenResult:
    """The TOTAL_FAILED / FORMAT_FAILURE verdict of text :func:`decode_token` refused."""
    check = Check("format", _F, _S.FORMAT_FAILURE, f"{exc.code}: {exc.message}")
    return TokenResult(_F, _S.FORMAT_FAILURE, (check,), trust_list_age=trust_list.age(now),
                       online=online)


def verify_decoded(
    token: DecodedToken,
    *,
    trust_list: TrustList,
    now: datetime,
    status_lists: Mapping[str, StatusList] | None = None,
    policy: VerifierPolicy | None = None,
    live_status: LiveStatus | None = None,
    replay_cache: ReplayCache | None = None,
) -> TokenResult:
    """:func:`verify_token` for a token already decoded (a caller that needed its claims
    first, e.g. to pick the issuer's status lists, decodes it once, not twice)."""
    require_aware(now)
    return _verify_decoded(token, trust_list, now, status_lists, policy, live_status,
                           replay_cache)


def _verify_decoded(
    token: DecodedToken,
    trust_list: TrustList,
    now: datetime,
    status_lists: Mapping[str, StatusList] | None,
    policy: VerifierPolicy | None,
    live_status: LiveStatus | None,
    replay_cache: ReplayCache | None,
) -> TokenResult:
    """:func:`verify_decoded` once ``now`` is known to be aware."""
    policy = policy or _DEFAULT_POLICY
    online = live_status is not None
    trust_age = trust_list.age(now)
    checks: list[Check] = [_FORMAT_OK]
    claims = token.claims
    signature, entry = _find_signer(claims, token.envelope, trust_list)
    checks.append(signature)
    if entry is None:
        indication, sub = _bottom_line(checks)
        return TokenResult(indication, sub, tuple(checks), trust_list_age=trust_age, online=online)
    binding = _licence_issuer(claims)
    if binding is not None:
        checks.append(binding)
    _signer_checks(checks, claims, entry)
    _time_checks(checks, claims, now, policy.clock_skew)
    checks.append(
        _freshness(
            "trust_list",
            trust_list.issued_at,
            trust_list.next_update,
            now,
            policy.max_trust_list_age,
            policy.clock_skew,
        )
    )
    status_age = None
    if live_status is not None:
        checks.append(
            _status_check(
                "status.live", live_status.status_of(claims.issuer, claims.licence_id, now)
            )
        )
    else:
        status_checks, status_age = _list_status(claims, status_lists or {}, now, policy)
        checks += status_checks
    if replay_cache is not None and claims.kind is TokenKind.PRESENTATION:
        if any(not c.passed for c in checks):
            checks.append(Check("replay", _I, _S.TRY_LATER, "not recorded: other checks failed"))
        elif replay_cache.first_use(
            claims.issuer, claims.jti, claims.expires_at + policy.clock_skew, now
        ):
            checks.append(_ok("replay", "first presentation of this code"))
        else:
            checks.append(
                Check(
                    "replay",
                    _I,
                    _S.SIG_CONSTRAINTS_FAILURE,
                    f"code {claims.jti.hex()} was already presented",
                )
            )
    indication, sub = _bottom_line(checks)
    return TokenResult(
        indication, sub, tuple(checks), claims, entry.facts.subject, trust_age, status_age, online
    )
