"""A licence type: schema, rules and layout loaded from data, checked once.

Everything a type author can get wrong (a layout naming a field the schema
lacks, a mask on a missing field, a required field nothing can generate) is
refused when the type is loaded, not when the first licence is issued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, cast

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from signing.types import _examples
from signing.types._formats import FORMAT_CHECKER
from signing.types._templates import resolve_layout
from signing.types.errors import FieldError, LicenceTypeDefinitionError, RecordValidationError
from signing.types.layout import Layout
from trust.frozen import freeze, thaw

__all__ = ["LicenceType", "Validity"]

_MAX_MESSAGE: Final = 200
_WIDTH_ARG_KINDS: Final = frozenset({"serial", "letter_serial"})
_FORMAT_MESSAGES: Final = {
    "date": "is not a calendar date (YYYY-MM-DD)",
    "cn-uscc": "is not a unified social credit code (18 characters, GB 32100 check character)",
    "cn-resident-id": "is not a resident ID number (birth date, GB 11643 check character)",
    "vin": "is not a vehicle identification number (17 characters, check digit at position 9)",
    "cn-patent": "is not a patent number (ZL, 12-digit application number, check character)",
    "cn-disability-number": "is not a disability certificate number (resident ID number, "
                            "category 1-7, grade 1-4)",
    "cn-discharge-permit": "is not a discharge permit number (USCC, 3 digits, P)",
}


@cache
def _record_meta_validator() -> Draft202012Validator:
    """The strict subset of JSON Schema 2020-12 a record schema may use (unknown keywords
    refused), ~3x faster to check than the full meta-schema."""
    text = resources.files("signing.types").joinpath("record-schema.schema.json").read_text()
    return Draft202012Validator(json.loads(text), format_checker=FormatChecker(("regex",)))


@cache
def _definition_validator() -> Draft202012Validator:
    text = resources.files("signing.types").joinpath("type-definition.schema.json").read_text()
    return Draft202012Validator(json.loads(text))


@dataclass(frozen=True)
class Validity:
    """Which fields bound the validity period, and how long it may be."""

    start: str
    end: str
    long_term: str | None = None
    max_years: int | None = None
    example_years: tuple[int, ...] = (10,)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


@dataclass(frozen=True, eq=False)
class LicenceType:
    """One licence type; build with :meth:`from_json`, never directly."""

    code: str
    version: int
    name_zh: str
    name_en: str
    holder_kind: str  # "person" | "organisation"
    authority_class: str  # controlled vocabulary, type-definition.schema.json $defs
    labels: Mapping[str, Mapping[str, str]]  # every record field -> {"zh", "en"}
    holder_field: str
    holder_id_field: str | None
    mask: Mapping[str, str]
    validity: Validity | None
    schema: Mapping[str, Any]
    layout: Layout
    description: str = ""
    _definition: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _validator: Draft202012Validator | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, definition: Any, schema: Any) -> LicenceType:
        """Check a type definition and its record schema; raise LicenceTypeDefinitionError."""
        problems = [
            f"{e.json_path}: {_short(e.message)}"
            for e in _definition_validator().iter_errors(definition)
        ]
        if problems:
            raise LicenceTypeDefinitionError("bad type definition: " + "; ".join(problems))
        code = definition["code"]
        schema_problems = [f"{e.json_path}: {_short(e.message)}"
                           for e in _record_meta_validator().iter_errors(schema)]
        if schema_problems:
            raise LicenceTypeDefinitionError(
                f"{code}: record schema is not valid JSON Schema 2020-12 as licence records use"
                f" it (record-schema.schema.json): " + "; ".join(schema_problems[:5]))
        if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
            raise LicenceTypeDefinitionError(f"{code}: record schema must describe an object")
        validity = None
        if "validity" in definition:
            v = definition["validity"]
            validity = Validity(
                start=v["start"],
                end=v["end"],
                long_term=v.get("long_term"),
                max_years=v.get("max_years"),
                example_years=tuple(v.get("example_years", (10,))),
            )
        licence_type = cls(
            code=code,
            version=definition["version"],
            name_zh=definition["name"]["zh"],
            name_en=definition["name"]["en"],
            description=definition.get("description", ""),
            holder_kind=definition["holder_kind"],
            authority_class=definition["authority_class"],
            labels=freeze(definition["labels"]),
            holder_field=definition["holder_field"],
            holder_id_field=definition.get("holder_id_field"),
            mask=MappingProxyType(dict(definition["mask"])),
            validity=validity,
            schema=freeze(schema),
            layout=Layout.from_json(_layout_of(definition, schema)),
            _definition=freeze(definition),
            _validator=Draft202012Validator(thaw(freeze(schema)), format_checker=FORMAT_CHECKER),
        )
        licence_type._check_consistency(schema)
        return licence_type

    def _check_consistency(self, schema: Mapping[str, Any]) -> None:
        props: Mapping[str, Any] = schema["properties"]
        required = set(schema.get("required", ()))
        named = {
            "holder_field": [self.holder_field],
            "holder_id_field": [self.holder_id_field] if self.holder_id_field else [],
            "mask": list(self.mask),
            "validity": [self.validity.start, self.validity.end] if self.validity else [],
            "layout.fields": [f.field for f in self.layout.fields if f.field],
            "labels": list(self.labels),
        }
        problems = [
            f"{where} names field {name!r} that the schema does not define"
            for where, names in named.items()
            for name in names
            if name not in props
        ]
        # Every field a counter, a form or a holder sees needs a name people can read in
        # both languages: an unlabelled field would surface as a raw key in a consent screen.
        problems += [f"labels has no entry for field {name!r}" for name in props
                     if name not in self.labels]
        rule = self.validity
        if rule is not None and rule.max_years is not None:
            problems += [
                f"example validity of {years} years exceeds max_years {rule.max_years}"
                for years in rule.example_years
                if years > rule.max_years
            ]
        if self.holder_field not in required:
            problems.append(f"holder field {self.holder_field!r} must be required")
        problems += [
            f"layout.fields[{i}] has neither a field nor a text"
            for i, f in enumerate(self.layout.fields)
            if f.field is None and f.text is None
        ]
        for name, prop in props.items():
            problems += _generator_problems(name, prop, required)
        # An unknown format is ignored by JSON Schema validators: a typo ("cn-usc") would
        # silently accept every value, so refuse it here.
        problems += [f"format {fmt!r} is not one of {sorted(FORMAT_CHECKER.checkers)}"
                     for fmt in sorted(_formats_in(schema)) if fmt not in FORMAT_CHECKER.checkers]
        if problems:
            raise LicenceTypeDefinitionError(f"{self.code}: " + "; ".join(problems))

    # -- records -----------------------------------------------------------

    def validate(self, record: object) -> dict[str, Any]:
        """Return ``record`` if valid, else raise one error listing every field problem."""
        errors = list(self.iter_errors(record))
        if errors:
            raise RecordValidationError(self.code, errors)
        assert isinstance(record, dict)
        return record

    def iter_errors(self, record: object) -> Iterator[FieldError]:
        """Every schema and validity-rule violation, each with its JSON path."""
        assert self._validator is not None
        seen: set[tuple[str, str]] = set()
        for error in sorted(self._validator.iter_errors(record), key=lambda e: e.json_path):
            for item in _field_errors(error):
                if (item.path, item.message) not in seen:
                    seen.add((item.path, item.message))
                    yield item
        if isinstance(record, dict):
            yield from self._validity_errors(record)

    def _validity_errors(self, record: Mapping[str, Any]) -> Iterator[FieldError]:
        rule = self.validity
        if rule is None:
            return
        start, end = _as_date(record.get(rule.start)), record.get(rule.end)
        if rule.long_term is not None and end == rule.long_term:
            return
        end_day = _as_date(end)
        if start is None or end_day is None:
            return  # the schema already reported malformed or missing dates
        if end_day < start:
            yield FieldError(f"$.{rule.end}", f"ends before {rule.start} ({start.isoformat()})")
        elif rule.max_years is not None and end_day > _plus_years(start, rule.max_years):
            yield FieldError(f"$.{rule.end}", f"validity longer than {rule.max_years} years")

    def label(self, field_name: str) -> Mapping[str, str]:
        """The field's printed name, ``{"zh": ..., "en": ...}``; KeyError for an unknown field."""
        return self.labels[field_name]

    def holder_name(self, record: Mapping[str, Any]) -> str:
        """The printed name of whoever holds the licence (person or organisation)."""
        return str(record[self.holder_field])

    def example(self, index: int = 0, *, seed: int = 0,
                as_of: date | None = None) -> dict[str, Any]:
        """A valid, realistic record, a pure function of (type, seed, index, as_of), whose
        licence is valid on ``as_of`` (default: today in China Standard Time)."""
        years = self.validity.example_years if self.validity else ()
        return _examples.generate(self.code, self.schema, years, index, seed, as_of)

    def masked(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The record with every sensitive field masked as the type declares."""
        return {k: mask_value(self.mask[k], str(v)) if k in self.mask else v
                for k, v in record.items()}

    def to_dict(self) -> dict[str, Any]:
        """The definition and schema as JSON data (``sealtrust types show``); a template
        layout also as the explicit ``layout`` it expands to."""
        out = {"definition": thaw(self._definition), "schema": thaw(self.schema)}
        if "template" in self._definition["layout"]:
            out["layout"] = thaw(freeze(_layout_of(out["definition"], out["schema"])))
        return out


def _formats_in(node: Any) -> set[str]:
    if isinstance(node, Mapping):
        found = {node["format"]} if isinstance(node.get("format"), str) else set()
        for value in node.values():
            found |= _formats_in(value)
        return found
    if isinstance(node, list | tuple):
        return set().union(*(_formats_in(v) for v in node)) if node else set()
    return set()


def _layout_of(definition: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The explicit layout: as written, or a template expanded (its output obeys
    ``$defs/layout``: tests/test_type_catalogue.py checks every shipped type's)."""
    return resolve_layout(definition["layout"], code=definition["code"],
                          name_zh=definition["name"]["zh"], labels=definition["labels"],
                          schema=schema)


def layout_validator() -> Draft202012Validator:
    """``$defs/layout`` of the definition schema: what an explicit layout must be."""
    root = cast(Mapping[str, Any], _definition_validator().schema)
    return Draft202012Validator({"$ref": "#/$defs/layout", "$defs": root["$defs"]})


def _generator_problems(name: str, prop: Any, required: set[str]) -> list[str]:
    if not isinstance(prop, Mapping):
        return []
    hint = _examples.hint_of(prop)
    if hint is None:
        if name in required and "const" not in prop and "enum" not in prop:
            return [f"required field {name!r} has no x-example generator, const or enum"]
        return []
    kind, arg = hint
    if kind not in _examples.GENERATORS:
        return [f"field {name!r}: unknown x-example generator {kind!r}"]
    problem = _examples.format_problem(kind, arg)
    if problem is not None:
        return [f"field {name!r}: {problem}"]
    if kind in _WIDTH_ARG_KINDS and not (arg.isdigit() and 1 <= int(arg) <= 12):
        return [f"field {name!r}: {kind} needs a width 1..12"]
    if kind == "date.before_issue" and arg and not arg.isdigit():
        return [f"field {name!r}: date.before_issue takes a number of years"]
    return []


def _field_errors(error: ValidationError) -> Iterator[FieldError]:
    base = error.json_path
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        for name in cast(list[str], error.validator_value):
            if name not in instance:
                yield FieldError(f"{base}.{name}", "is required")
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = cast(Mapping[str, Any], error.schema).get("properties", {})
        for name in instance:
            if name not in known:
                yield FieldError(f"{base}.{_short(str(name))}", "is not a field of this type")
        return
    # Messages name the rule, never the value: error bodies, job records and logs must not
    # carry names or identity numbers (PIPL; docs/encryption-at-rest.md).
    if error.validator == "format" and error.validator_value in _FORMAT_MESSAGES:
        yield FieldError(base, _FORMAT_MESSAGES[str(error.validator_value)])
        return
    yield FieldError(base, _short(_rule_message(str(error.validator), error.validator_value)))


_RULE_MESSAGES: Final = {
    "type": "is not of type {}",
    "enum": "is not one of {}",
    "const": "is not {}",
    "pattern": "does not match the pattern {}",
    "maxLength": "is longer than {} characters",
    "minLength": "is shorter than {} characters",
    "maximum": "is greater than {}",
    "minimum": "is less than {}",
    "format": "is not a valid {}",
}


def _rule_message(validator: str, value: object) -> str:
    """What rule a field breaks, from the schema alone (the field's value is not repeated)."""
    template = _RULE_MESSAGES.get(validator)
    shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return template.format(shown) if template else f"breaks the {validator} rule ({shown})"


def _as_date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def mask_value(mode: str, text: str) -> str:
    """``text`` masked in one of the type definitions' modes (full, last4, first1, year,
    middle)."""
    if mode == "full":
        return "*" * len(text)
    if mode == "last4":
        return "*" * max(len(text) - 4, 0) + text[-4:]
    if mode == "first1":
        return text[:1] + "*" * (len(text) - 1)
    if mode == "year":
        return text[:4] + "".join("*" if ch.isdigit() else ch for ch in text[4:])
    # "middle": keep the first and the last character (张*丰, 李*)
    if len(text) <= 2:
        return text[:1] + "*" * (len(text) - 1)
    return text[0] + "*" * (len(text) - 2) + text[-1]
