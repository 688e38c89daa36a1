"""Holder sessions: a short-lived, MAC-protected token naming one holder for one holder app.

The holder app authenticates the citizen or company itself (its own login,
e-ID or face check) and then, with its API credential, asks SealTrust for a
session for that holder's identifier. Every holder read, download,
presentation and grant then carries the session token, and SealTrust serves
only licences whose ``holder_ref`` equals the session's. The token is
stateless (no table): ``hs1.<payload>.<tag>``, payload base64url of
``{"r": holder_ref, "c": client id, "iat": s, "exp": s}``, tag base64url of
HMAC-SM3 over ``hs1.<payload>`` with the deployment's session key (a key
file of its own, so rotating it ends every session without touching the
holder references). It carries the keyed hash, never the identity number.

Threats: a holder app client reading another holder's licences without a
session (refused: no session, no holder data); a session forged or edited
to name another holder (the tag fails); a session stolen from one holder app
and replayed by another client (bound to the client id); a leaked session
used for long (expires in at most ``MAX_SESSION``).
"""

from __future__ import annotations

import base64
import hmac as std_hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography.hazmat.primitives import hashes, hmac

from trust.errors import InputError, SealTrustError
from trust.holder_ref import KEY_BYTES

__all__ = ["DEFAULT_SESSION", "MAX_SESSION", "HolderSession", "HolderSessionError",
           "SessionKey"]

PREFIX: Final = "hs1"
DEFAULT_SESSION: Final = timedelta(minutes=15)
MAX_SESSION: Final = timedelta(hours=1)
CLOCK_SKEW: Final = timedelta(seconds=30)
MAX_TOKEN: Final = 512


class HolderSessionError(SealTrustError):
    """A holder session token that is malformed, forged, expired or another client's."""

    code = "holder.session"


@dataclass(frozen=True, slots=True)
class HolderSession:
    """Whom a holder-app request acts for."""

    holder_ref: str
    client_id: str
    issued_at: datetime
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise HolderSessionError("holder session is not base64url") from None


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("session times must be timezone-aware", code="input.naive_datetime")
    return moment.astimezone(UTC).replace(microsecond=0)


class SessionKey:
    """Issues and opens holder session tokens (HMAC-SM3)."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) < KEY_BYTES:
            raise InputError(f"a session key has at least {KEY_BYTES} bytes", code="holder.key")
        self._secret = secret

    def _tag(self, signed: bytes) -> bytes:
        mac = hmac.HMAC(self._secret, hashes.SM3())
        mac.update(signed)
        return mac.finalize()

    def issue(self, holder_ref: str, client_id: str, *, at: datetime,
              ttl: timedelta = DEFAULT_SESSION) -> tuple[str, HolderSession]:
        """A token for ``holder_ref`` usable only by ``client_id`` until ``at + ttl``."""
        at = _aware(at)
        if not timedelta(seconds=60) <= ttl <= MAX_SESSION:
            raise InputError(f"a holder session lives 60 s .. {MAX_SESSION}",
                             code="holder.session_ttl")
        session = HolderSession(holder_ref, client_id, at, at + ttl)
        payload = _b64(json.dumps({"r": holder_ref, "c": client_id,
                                   "iat": int(at.timestamp()),
                                   "exp": int(session.expires_at.timestamp())},
                                  separators=(",", ":"), sort_keys=True).encode())
        signed = f"{PREFIX}.{payload}"
        return f"{signed}.{_b64(self._tag(signed.encode()))}", session

    def open(self, token: str, *, client_id: str, now: datetime) -> HolderSession:
        """The session a token names, after its tag, client binding and lifetime are checked."""
        now = _aware(now)
        if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 2:
            raise HolderSessionError("malformed holder session")
        prefix, payload, tag = token.split(".")
        signed = f"{prefix}.{payload}"
        # Forgery or an edited holder: the tag is compared in constant time before parsing.
        if prefix != PREFIX or not std_hmac.compare_digest(
                _unb64(tag), self._tag(signed.encode("ascii", "replace"))):
            raise HolderSessionError("holder session is not genuine")
        try:
            raw = json.loads(_unb64(payload))
            session = HolderSession(str(raw["r"]), str(raw["c"]),
                                    datetime.fromtimestamp(int(raw["iat"]), UTC),
                                    datetime.fromtimestamp(int(raw["exp"]), UTC))
        except (ValueError, KeyError, TypeError, OverflowError):
            raise HolderSessionError("malformed holder session payload") from None
        # A session taken from one holder app and replayed by another client.
        if session.client_id != client_id:
            raise HolderSessionError("holder session belongs to another client")
        if not session.issued_at - CLOCK_SKEW <= now <= session.expires_at:
            raise HolderSessionError("holder session expired; open a new one",
                                     code="holder.session_expired")
        return session

    def __repr__(self) -> str:
        return "SessionKey(<secret>)"
