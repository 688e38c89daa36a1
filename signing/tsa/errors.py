"""Typed errors of the time-stamping service and its clients."""

from __future__ import annotations

from trust.errors import CryptoError, InputError

__all__ = ["TimestampConfigError", "TimestampError"]


class TimestampConfigError(InputError):
    """The TSA was set up with a key, chain or policy that cannot issue tokens."""

    code = "tsa.config"


class TimestampError(CryptoError):
    """No time-stamp token could be obtained (TSA refused, unreachable or misbehaving)."""

    code = "tsa.failure"
