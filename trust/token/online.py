"""What an online verifier adds: live licence status and a replay cache.

Both are Protocols so the database-backed versions (registry) drop in; the
in-memory versions here are real implementations for tests and a single
process, not mocks.

    >>> from datetime import datetime, timedelta, UTC
    >>> cache, now = InMemoryReplayCache(), datetime(2026, 1, 1, tzinfo=UTC)
    >>> cache.first_use("ISS", b"j" * 12, now + timedelta(seconds=60), now)
    True
    >>> cache.first_use("ISS", b"j" * 12, now + timedelta(seconds=60), now)
    False
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

from trust.errors import InputError
from trust.status import LicenceStatus

__all__ = ["InMemoryLiveStatus", "InMemoryReplayCache", "LiveStatus", "ReplayCache"]


@runtime_checkable
class ReplayCache(Protocol):
    """Remembers presentation-token ids until they expire: one check per jti."""

    def first_use(self, issuer: str, jti: bytes, expires_at: datetime, now: datetime) -> bool:
        """Atomically record ``(issuer, jti)``; False if it was already seen."""
        ...


@runtime_checkable
class LiveStatus(Protocol):
    """The registry's current view of a licence."""

    def status_of(self, issuer: str, licence_id: str, now: datetime) -> LicenceStatus:
        """Current state; UNKNOWN when the licence is not known (never VALID by default)."""
        ...


class InMemoryReplayCache:
    """A thread-safe dict of seen jti values, pruned of expired ones as it goes."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, bytes], datetime] = {}
        self._lock = threading.Lock()

    def first_use(self, issuer: str, jti: bytes, expires_at: datetime, now: datetime) -> bool:
        if now.tzinfo is None or expires_at.tzinfo is None:
            raise InputError(
                "replay cache times must be timezone-aware", code="input.naive_datetime"
            )
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if v >= now}
            key = (issuer, bytes(jti))
            seen_until = self._seen.get(key)
            if seen_until is not None and seen_until >= now:
                return False
            self._seen[key] = expires_at
            return True

    def __len__(self) -> int:
        return len(self._seen)


class InMemoryLiveStatus:
    """Live status from a mapping ``(issuer, licence id) -> LicenceStatus``."""

    def __init__(self, states: Mapping[tuple[str, str], LicenceStatus] | None = None) -> None:
        self._states = dict(states or {})

    def set(self, issuer: str, licence_id: str, state: LicenceStatus) -> None:
        self._states[(issuer, licence_id)] = state

    def status_of(self, issuer: str, licence_id: str, now: datetime) -> LicenceStatus:
        if now.tzinfo is None:
            raise InputError("now must be timezone-aware", code="input.naive_datetime")
        return self._states.get((issuer, licence_id), LicenceStatus.UNKNOWN)
