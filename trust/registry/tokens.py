"""The online verifier's database side: live licence status and the replay cache.

Both implement the ``trust.token.online`` Protocols. The database is shared by
every service node, so a presentation code checked on node A is refused on
node B: ``first_use`` is one INSERT on the ``seen_tokens`` primary key, which
the database serialises (no read-then-write race between nodes).

    >>> replay_key("91310000MA1DEMO01X", bytes(12))
    '05ba7b47e325e68d:000000000000000000000000'
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from trust.errors import InputError
from trust.registry.db import Registry
from trust.registry.models import Department, Licence, SeenToken
from trust.status import LicenceStatus

__all__ = ["DbLiveStatus", "DbReplayCache", "live_state", "replay_key"]

PRUNE_INTERVAL_S: Final = 60.0

# Registry lifecycle states -> status-list values, one each: a verifier can say whether a
# licence was revoked, cancelled, superseded, suspended or expired (trust.status).
_STATES: Final = {
    "valid": LicenceStatus.VALID,
    "revoked": LicenceStatus.REVOKED,
    "cancelled": LicenceStatus.CANCELLED,
    "superseded": LicenceStatus.SUPERSEDED,
    "suspended": LicenceStatus.SUSPENDED,
    "expired": LicenceStatus.EXPIRED,
}


# Built once: the online check runs these on every scan.
_INSERT_SEEN: Final = insert(SeenToken)
_LICENCE_STATUS: Final = (
    select(Licence.status, Department.uscc)
    .join(Department, Department.code == Licence.department_code)
    .where(Licence.id == bindparam("licence_id"))
)


def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"{what} must be a timezone-aware datetime", code="input.naive_datetime")
    return moment


def live_state(registry_status: str) -> LicenceStatus:
    """The status-list value of a registry status (UNKNOWN for anything unexpected)."""
    return _STATES.get(registry_status, LicenceStatus.UNKNOWN)


def replay_key(issuer: str, jti: bytes) -> str:
    """The ``seen_tokens`` key: jti values are random per issuer, so scope them by issuer.

    The issuer is hashed to 64 bits to fit the 64-character column.
    """
    return hashlib.sha256(issuer.encode()).hexdigest()[:16] + ":" + bytes(jti).hex()


class DbReplayCache:
    """One successful check per (issuer, jti) across every node sharing the database."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def first_use(self, issuer: str, jti: bytes, expires_at: datetime, now: datetime) -> bool:
        _aware(now, "now")
        _aware(expires_at, "expires_at")
        if not 8 <= len(jti) <= 16:
            raise InputError("jti must be 8..16 bytes", code="input.jti")
        self._maybe_prune(now)
        try:
            with self._registry.engine.begin() as conn:  # Core, not ORM: this is the hot path
                conn.execute(_INSERT_SEEN, {"jti": replay_key(issuer, jti), "seen_at": now,
                                            "expires_at": expires_at})
        except IntegrityError:
            return False
        return True

    def _maybe_prune(self, now: datetime) -> None:
        """Drop expired rows about once a minute per process: the table stays small."""
        with self._lock:
            if time.monotonic() < self._next_prune:
                return
            self._next_prune = time.monotonic() + PRUNE_INTERVAL_S
        with self._registry.session() as session:
            session.execute(delete(SeenToken).where(SeenToken.expires_at < now))


class DbLiveStatus:
    """A licence's current status straight from the ``licences`` table (one indexed query)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def status_of(self, issuer: str, licence_id: str, now: datetime) -> LicenceStatus:
        _aware(now, "now")
        with self._registry.engine.connect() as conn:
            row = conn.execute(_LICENCE_STATUS, {"licence_id": licence_id}).first()
        if row is None or row.uscc != issuer:
            return LicenceStatus.UNKNOWN
        return live_state(row.status)
