"""The token payload: integer-keyed claims, masked holder data, the grant claim.

A QR code is photographed and shared, so the payload carries only what a
counter needs to recognise the holder: a masked name (张*明), the last four
characters of the id number, never a photo or the full number. ``Claims``
refuses to be built with unmasked data.

Payload map (CBOR, canonical; CWT labels where CWT has one):

====  ==============================  ==========================
key   claim                           type
====  ==============================  ==========================
1     iss: issuer code                text <= 64
4     exp: expiry                     uint, seconds since epoch
6     iat: issued at                  uint, seconds since epoch
7     jti (CWT cti)                   bytes, 8..16
-1    kind: 0 document, 1 presentation uint
-2    licence id                      text <= 64
-3    licence type                    text <= 32
-4    holder name, masked             text <= 32
-5    id number, last four            text [0-9A-Z]{4}, optional
-6    licence valid from              uint, days since 1970-01-01
-7    licence valid until             uint days, absent = no end
-8    status list id                  text <= 32
-9    status list index               uint < 2**24
-10   grant (授权用证)                 map, optional
====  ==============================  ==========================

Grant map: 1 verifier id (text <= 64), 2 scope (array of field names),
3 grant expiry (uint seconds), 4 grant id (bytes 8..16).

    >>> mask_name("张三明"), mask_id_number("11010519491231002X")
    ('张*明', '002X')
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from typing import Any, Final

import cbor2

from trust.token.cose import decode_cbor
from trust.token.errors import ClaimsError

__all__ = [
    "MAX_PRESENTATION_LIFETIME",
    "PRESENTATION_LIFETIME",
    "REFRESH_INTERVAL",
    "Claims",
    "Grant",
    "TokenKind",
    "mask_id_number",
    "mask_name",
    "new_jti",
]

PRESENTATION_LIFETIME: Final = timedelta(seconds=60)
REFRESH_INTERVAL: Final = timedelta(seconds=30)
MAX_PRESENTATION_LIFETIME: Final = timedelta(minutes=5)

_EPOCH_DAY: Final = date(1970, 1, 1)
_EPOCH_ORDINAL: Final = _EPOCH_DAY.toordinal()
_MAX_TIME: Final = 1 << 40
_MAX_INDEX: Final = 1 << 24
_ID_TAIL: Final = re.compile(r"[0-9A-Z]{4}")
_FIELD_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")


class TokenKind(IntEnum):
    """Static document code (printed, long-lived) or dynamic presentation code."""

    DOCUMENT = 0
    PRESENTATION = 1


def mask_name(name: str) -> str:
    """Keep the first and last character, star the rest (张*明, 欧**明, 张*)."""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(id_number: str) -> str:
    """The last four characters of an id number, upper-cased (the check digit may be X)."""
    tail = id_number.strip().upper()[-4:]
    if not _ID_TAIL.fullmatch(tail):
        raise ClaimsError("id number must end in four digits or letters")
    return tail


def new_jti() -> bytes:
    """A fresh 12-byte token id (96 random bits: no collision within any replay window)."""
    return secrets.token_bytes(12)


def _is_masked(name: str) -> bool:
    stars = name.count("*")
    return stars > 0 and len(name) - stars <= 2


def _aware(value: datetime, what: str) -> datetime:
    """Aware, in UTC, whole seconds: what survives the CBOR round trip."""
    if isinstance(value, datetime) and value.tzinfo is UTC and not value.microsecond:
        return value  # already so (every parsed token's times): no two new objects
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ClaimsError(f"{what} must be a timezone-aware datetime")
    return value.astimezone(UTC).replace(microsecond=0)


def _text(value: object, what: str, limit: int, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ClaimsError(f"{what} must be text of 1..{limit} characters")
    return value


def _uint(value: object, what: str, limit: int) -> int:
    if type(value) is not int or not 0 <= value < limit:
        raise ClaimsError(f"{what} must be an integer in [0, {limit})")
    return value


def _jti(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or not 8 <= len(value) <= 16:
        raise ClaimsError(f"{what} must be 8..16 bytes")
    return value


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(seconds: object, what: str) -> datetime:
    return datetime.fromtimestamp(_uint(seconds, what, _MAX_TIME), UTC)


def _day(days: object, what: str) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + _uint(days, what, 2_900_000))


@dataclass(frozen=True, slots=True)
class Grant:
    """授权用证: the holder lets one named counter fetch the full licence data.

    The grant id is what the counter redeems (later, online); the token only
    carries it, scoped to ``scope`` fields until ``expires_at``.
    """

    verifier_id: str
    scope: tuple[str, ...]
    expires_at: datetime
    grant_id: bytes

    def __post_init__(self) -> None:
        _text(self.verifier_id, "grant verifier id", 64)
        if not self.scope or len(self.scope) > 16:
            raise ClaimsError("grant scope must name 1..16 fields")
        for field in self.scope:
            if not isinstance(field, str) or not _FIELD_NAME.fullmatch(field):
                raise ClaimsError(f"grant scope field {field!r} is not a field name")
        object.__setattr__(self, "expires_at", _aware(self.expires_at, "grant expiry"))
        _jti(self.grant_id, "grant id")

    def to_map(self) -> dict[int, Any]:
        return {
            1: self.verifier_id,
            2: list(self.scope),
            3: _seconds(self.expires_at),
            4: self.grant_id,
        }

    @classmethod
    def from_map(cls, raw: object) -> Grant:
        if not isinstance(raw, Mapping) or set(raw) != {1, 2, 3, 4}:
            raise ClaimsError("grant must be a map with keys 1..4")
        scope = raw[2]
        if not isinstance(scope, list | tuple):
            raise ClaimsError("grant scope must be an array")
        return cls(
            _text(raw[1], "grant verifier id", 64),
            tuple(scope),
            _moment(raw[3], "grant expiry"),
            _jti(raw[4], "grant id"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "verifier_id": self.verifier_id,
            "scope": list(self.scope),
            "expires_at": self.expires_at.isoformat(),
            "grant_id": self.grant_id.hex(),
        }


_REQUIRED: Final = frozenset({1, 4, 6, 7, -1, -2, -3, -4, -6, -8, -9})
_KINDS: Final = (TokenKind.DOCUMENT, TokenKind.PRESENTATION)
_KNOWN: Final = _REQUIRED | {-5, -7, -10}


@dataclass(frozen=True, slots=True)
class Claims:
    """What a token says; built only with masked holder data and a sane time window."""

    kind: TokenKind
    issuer: str
    licence_id: str
    licence_type: str
    holder_name: str
    holder_id_last4: str | None
    valid_from: date
    valid_until: date | None
    issued_at: datetime
    expires_at: datetime
    jti: bytes
    status_list: str
    status_index: int
    grant: Grant | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, TokenKind):
            raise ClaimsError("kind must be a TokenKind")
        _text(self.issuer, "issuer", 64)
        _text(self.licence_id, "licence id", 64)
        _text(self.licence_type, "licence type", 32)
        _text(self.holder_name, "holder name", 32)
        if not _is_masked(self.holder_name):
            raise ClaimsError("holder name must be masked (use mask_name)")
        tail = self.holder_id_last4
        if tail is not None and (not isinstance(tail, str) or not _ID_TAIL.fullmatch(tail)):
            raise ClaimsError("only the last four characters of an id number may be carried")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ClaimsError("licence valid_until precedes valid_from")
        issued_at = _aware(self.issued_at, "iat")
        expires_at = _aware(self.expires_at, "exp")
        if issued_at is not self.issued_at:  # a parsed token's times are kept as they are
            object.__setattr__(self, "issued_at", issued_at)
        if expires_at is not self.expires_at:
            object.__setattr__(self, "expires_at", expires_at)
        if expires_at <= issued_at:
            raise ClaimsError("exp must be after iat")
        lifetime = expires_at - issued_at
        if self.kind is TokenKind.PRESENTATION and lifetime > MAX_PRESENTATION_LIFETIME:
            raise ClaimsError(
                f"presentation token lifetime {lifetime} exceeds {MAX_PRESENTATION_LIFETIME}"
            )
        _jti(self.jti, "jti")
        _text(self.status_list, "status list id", 32)
        _uint(self.status_index, "status index", _MAX_INDEX)
        if self.grant is not None and self.kind is not TokenKind.PRESENTATION:
            raise ClaimsError("a grant rides only in a presentation token")

    def to_cbor(self) -> bytes:
        """Canonical CBOR of the payload map (see module table)."""
        payload: dict[int, Any] = {
            1: self.issuer,
            4: _seconds(self.expires_at),
            6: _seconds(self.issued_at),
            7: self.jti,
            -1: int(self.kind),
            -2: self.licence_id,
            -3: self.licence_type,
            -4: self.holder_name,
            -6: (self.valid_from - _EPOCH_DAY).days,
            -8: self.status_list,
            -9: self.status_index,
        }
        if self.holder_id_last4 is not None:
            payload[-5] = self.holder_id_last4
        if self.valid_until is not None:
            payload[-7] = (self.valid_until - _EPOCH_DAY).days
        if self.grant is not None:
            payload[-10] = self.grant.to_map()
        return cbor2.dumps(payload, canonical=True)

    @classmethod
    def from_cbor(cls, data: bytes) -> Claims:
        """Parse and check a payload; unknown or missing keys are refused (fail closed)."""
        raw = decode_cbor(data, max_size=1024, what="claims")
        if not isinstance(raw, Mapping):
            raise ClaimsError("claims payload is not a map")
        keys = set(raw)
        if not keys <= _KNOWN or not keys >= _REQUIRED:
            raise ClaimsError(f"claims keys {sorted(map(repr, keys))} do not match the format")
        kind = _KINDS[_uint(raw[-1], "kind", 2)]
        until = raw.get(-7)
        grant = raw.get(-10)
        # Text, bytes and index fields are checked once, by __post_init__ (positional
        # arguments, in field order: the cheaper call on the verification hot path).
        return cls(
            kind,
            raw[1],  # issuer
            raw[-2],  # licence id
            raw[-3],  # licence type
            raw[-4],  # holder name
            raw.get(-5),  # holder id, last four
            _day(raw[-6], "valid from"),
            None if until is None else _day(until, "valid until"),
            _moment(raw[6], "iat"),
            _moment(raw[4], "exp"),
            raw[7],  # jti
            raw[-8],  # status list
            raw[-9],  # status index
            None if grant is None else Grant.from_map(grant),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (masked by construction)."""
        return {
            "kind": self.kind.name.lower(),
            "issuer": self.issuer,
            "licence_id": self.licence_id,
            "licence_type": self.licence_type,
            "holder_name": self.holder_name,
            "holder_id_last4": self.holder_id_last4,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": None if self.valid_until is None else self.valid_until.isoformat(),
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "jti": self.jti.hex(),
            "status_list": self.status_list,
            "status_index": self.status_index,
            "grant": None if self.grant is None else self.grant.to_dict(),
        }
