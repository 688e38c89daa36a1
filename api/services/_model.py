"""A service definition (事项): the licences it needs and how they fill its form.

Build with :func:`api.services.load_services`, which refuses any definition that
names an unknown type or field, reads a type the service does not declare, or
fills a form field its schema lacks; a loaded definition is consistent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from api.services import _mapping
from trust.frozen import thaw

__all__ = ["ServiceDefinition"]


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """One service; every mapping is frozen and checked against the type catalogue."""

    code: str
    version: int
    name: Mapping[str, str]
    all_of: tuple[str, ...]
    one_of: tuple[tuple[str, ...], ...]
    produces: tuple[str, ...]
    form_schema: Mapping[str, Any]
    mapping: Mapping[str, Any]
    description: str = ""
    authority_class: str | None = None
    subject: str | None = None
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    validator: Draft202012Validator | None = field(default=None, compare=False, repr=False)
    # scope() once per definition: every fill asks for it twice (the cut and fill_form)
    _scope: Mapping[str, frozenset[str]] | None = field(default=None, init=False,
                                                          compare=False, repr=False)

    def needs(self) -> tuple[str, ...]:
        """Every licence type the service may read, in declaration order, once each."""
        return tuple(dict.fromkeys([*self.all_of, *(t for g in self.one_of for t in g)]))

    def scope(self) -> dict[str, frozenset[str]]:
        """Type code -> the licence fields the form reads: EXACTLY the grant scope.

        Computed from the expressions alone (each names its ``TYPE.field``), so a
        grant built from it can never carry a field no form field reads. Every
        needed type is a key, with an empty set when the service only needs to
        see that a valid licence of the type exists.
        """
        if self._scope is None:
            read: dict[str, set[str]] = {code: set() for code in self.needs()}
            for source in self.sources():
                read[source.type_code].add(source.field)
            object.__setattr__(self, "_scope",
                               {code: frozenset(fields) for code, fields in read.items()})
        assert self._scope is not None
        return dict(self._scope)  # a copy: the cached mapping is never handed out

    def sources(self) -> Iterator[_mapping.Source]:
        """Every licence field any mapping expression reads."""
        for expr in self.mapping.values():
            yield from _mapping.sources(expr)

    def all_tables(self) -> Mapping[str, Mapping[str, Any]]:
        """The service's own lookup tables over the built-in ones."""
        return {**_mapping.BUILTIN_TABLES, **self.tables}

    def to_dict(self) -> dict[str, Any]:
        """The definition as JSON data (``services show``, ``GET /v1/services/{code}``)."""
        return {
            "code": self.code, "version": self.version, "name": dict(self.name),
            "description": self.description, "authority_class": self.authority_class,
            "subject": self.subject,
            "needs": {"all_of": list(self.all_of), "one_of": [list(g) for g in self.one_of]},
            "types": list(self.needs()), "produces": list(self.produces),
            "scope": {code: sorted(fields) for code, fields in self.scope().items()},
            "tables": thaw(self.tables), "form": thaw(self.form_schema),
            "mapping": thaw(self.mapping),
        }

    def summary(self) -> dict[str, Any]:
        """One line of ``services list``: code, names and the types it needs."""
        return {"code": self.code, "version": self.version, "name": dict(self.name),
                "types": list(self.needs()),
                "needs": {"all_of": list(self.all_of), "one_of": [list(g) for g in self.one_of]},
                "produces": list(self.produces)}

