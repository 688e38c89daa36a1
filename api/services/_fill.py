"""Filling a service's form from verified licences, every value with its provenance.

The caller verifies each licence file and hands over its record; this module
decides nothing about trust except the rule that only a licence whose
verification indication is TOTAL_PASSED feeds the form (fail closed: an
INDETERMINATE or failed licence is named, its type reported missing, and none
of its values is used). Records are cut down to the service's scope before any
expression runs, so no value outside the scope can reach the form, whatever
the caller passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from api.services import _mapping
from api.services._model import ServiceDefinition
from trust.errors import InputError
from trust.indications import Indication

__all__ = ["FilledForm", "SourcedLicence", "fill_form"]

_PASSED: Final = Indication.TOTAL_PASSED.value


@dataclass(frozen=True, slots=True)
class SourcedLicence:
    """One licence the counter may read, already verified by the caller."""

    licence_id: str
    type_code: str
    record: Mapping[str, Any]
    verified_at: datetime
    indication: str


@dataclass(frozen=True, slots=True)
class FilledForm:
    """The filled form (the JSON contract of issue 14, plus what was not used and why)."""

    service: str
    form: dict[str, Any]
    provenance: dict[str, dict[str, Any]]
    missing: list[str]
    unused: list[dict[str, str]] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"service", "form", "provenance", "missing", "unused", "invalid"}``.

        ``unused`` names licences passed in but not read (not TOTAL_PASSED, not
        needed, or a second licence of a type) with their indication; ``invalid``
        names form fields whose computed value the form schema refused (left empty).
        Neither carries a value.
        """
        return {"service": self.service, "form": dict(self.form),
                "provenance": {k: dict(v) for k, v in self.provenance.items()},
                "missing": list(self.missing), "unused": [dict(u) for u in self.unused],
                "invalid": [dict(i) for i in self.invalid]}


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def fill_form(service: ServiceDefinition, licences: Sequence[SourcedLicence]) -> FilledForm:
    """Fill ``service``'s form from the first TOTAL_PASSED licence of each needed type."""
    scope = service.scope()
    chosen: dict[str, SourcedLicence] = {}
    unused: list[dict[str, str]] = []
    for licence in licences:
        if licence.verified_at.tzinfo is None or licence.verified_at.utcoffset() is None:
            raise InputError("verified_at must be a timezone-aware datetime",
                             code="input.naive_datetime")
        reason = None
        if licence.type_code not in scope:
            reason = "not_needed"
        elif licence.indication != _PASSED:
            reason = "not_verified"  # fail closed: only TOTAL_PASSED feeds a form
        elif licence.type_code in chosen:
            reason = "duplicate_type"
        if reason is not None:
            unused.append({"licence_id": licence.licence_id, "type": licence.type_code,
                           "indication": licence.indication, "reason": reason})
            continue
        chosen[licence.type_code] = licence
    # Threat: a caller passing a whole record (or a grant carrying too much) must not be able
    # to leak a field into the form: only scoped fields are ever readable below.
    readable = {code: {f: licence.record[f] for f in scope[code] if f in licence.record}
                for code, licence in chosen.items()}

    def read(source: _mapping.Source) -> _mapping.Value | None:
        value = readable.get(source.type_code, {}).get(source.field)
        if value is None or not _scalar(value):
            return None
        return _mapping.Value(value, (source,))

    tables = service.all_tables()
    form: dict[str, Any] = {}
    provenance: dict[str, dict[str, Any]] = {}
    for form_field, expr in service.mapping.items():
        result = _mapping.evaluate(expr, read, tables)
        if result is None or result.value == "":
            continue
        form[form_field] = result.value
        provenance[form_field] = _provenance(result, chosen)
    invalid = _drop_invalid(service, form, provenance)
    return FilledForm(service.code, form, provenance, _missing(service, chosen), unused, invalid)


def _origin(source: _mapping.Source, chosen: Mapping[str, SourcedLicence]) -> dict[str, Any]:
    licence = chosen[source.type_code]
    return {"licence_id": licence.licence_id, "type": source.type_code, "field": source.field,
            "verified_at": licence.verified_at.isoformat(), "indication": licence.indication}


def _provenance(result: _mapping.Value, chosen: Mapping[str, SourcedLicence]) -> dict[str, Any]:
    """The first source's origin; ``sources`` lists all when several fed one value."""
    origins = [_origin(s, chosen) for s in dict.fromkeys(result.sources)]
    if not origins:  # a constant of the service definition
        return {"licence_id": None, "type": None, "field": None, "verified_at": None,
                "indication": None, "source": "service"}
    head = dict(origins[0])
    if len(origins) > 1:
        head["sources"] = origins
    return head


def _drop_invalid(service: ServiceDefinition, form: dict[str, Any],
                  provenance: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Remove values the form schema refuses; report the field and the rule, not the value."""
    validator = service.validator
    if validator is None:
        return []
    invalid: dict[str, str] = {}
    for error in validator.iter_errors(form):
        if error.validator == "required" or not error.path:
            continue  # an empty field is the clerk's to fill, not an error of the mapping
        name = str(error.path[0])
        invalid.setdefault(name, f"breaks the form's {error.validator} rule")
    for name in invalid:
        form.pop(name, None)
        provenance.pop(name, None)
    return [{"field": k, "message": v} for k, v in invalid.items()]


def _missing(service: ServiceDefinition, chosen: Mapping[str, SourcedLicence]) -> list[str]:
    """Needed types without a TOTAL_PASSED licence; an unmet one_of group lists all its types."""
    missing = [code for code in service.all_of if code not in chosen]
    for group in service.one_of:
        if not any(code in chosen for code in group):
            missing += [code for code in group if code not in missing]
    return missing
