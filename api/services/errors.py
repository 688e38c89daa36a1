"""Typed errors of the service catalogue (事项用证清单)."""

from __future__ import annotations

from trust.errors import InputError

__all__ = ["ServiceDefinitionError"]


class ServiceDefinitionError(InputError):
    """A service definition is refused at load: the message names the service and where.

    Raised when the catalogue is loaded, never while filling, so a definition that
    could read an unknown field or ask for more than it declares never goes live.
    """

    code = "service.definition_invalid"
