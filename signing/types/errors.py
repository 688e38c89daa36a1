"""Typed errors of the licence type registry.

A bad record is reported field by field (JSON path + message) in one error,
so an API client or CLI user can fix every problem in one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trust.errors import InputError, NotFoundError

__all__ = [
    "FieldError",
    "LicenceTypeDefinitionError",
    "RecordValidationError",
    "UnknownLicenceTypeError",
]


@dataclass(frozen=True)
class FieldError:
    """One problem in a record: where (``$.field`` JSON path) and what."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class RecordValidationError(InputError):
    """A licence record does not satisfy its type's schema or validity rules."""

    code = "licence.record_invalid"

    def __init__(self, type_code: str, errors: list[FieldError]) -> None:
        self.type_code = type_code
        self.errors = tuple(errors)
        listing = "; ".join(f"{e.path}: {e.message}" for e in self.errors)
        super().__init__(f"record is not a valid {type_code} licence: {listing}")

    def to_dict(self) -> dict[str, Any]:  # type: ignore[override]
        out: dict[str, Any] = dict(super().to_dict())
        out["errors"] = [e.to_dict() for e in self.errors]
        return out


class LicenceTypeDefinitionError(InputError):
    """A type definition file (schema or layout) is malformed or inconsistent."""

    code = "licence_type.definition"


class UnknownLicenceTypeError(NotFoundError):
    """No licence type with that code is registered."""

    code = "licence_type.unknown"
