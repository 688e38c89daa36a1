"""Loading service definitions: the shipped ones plus any a deployment drops in.

A service is one file ``<CODE>.service.json`` (schema:
``service-definition.schema.json``) in ``api/services/definitions`` or in the
deployment's ``<home>/services``. Everything is checked when the catalogue
loads, against the licence type catalogue it will read from; a bad file stops
the load with a :class:`ServiceDefinitionError` naming the service and the
expression, so nothing inconsistent ever fills a form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache, lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from jsonschema import Draft202012Validator

from api.services import _mapping
from api.services._model import ServiceDefinition
from api.services.errors import ServiceDefinitionError
from signing.types import TypeRegistry
from signing.types._formats import FORMAT_CHECKER
from trust.errors import NotFoundError
from trust.frozen import freeze, thaw

__all__ = ["ServiceCatalogue", "load_services", "parse_service"]

SUFFIX: Final = ".service.json"
_MAX_FILE_BYTES: Final = 256 << 10
_MAX_MESSAGE: Final = 200


@cache
def _definition_validator() -> Draft202012Validator:
    text = resources.files("api.services").joinpath("service-definition.schema.json").read_text()
    schema = json.loads(text)
    # The schema is not recursive: inline its local $refs once, which makes checking the
    # shipped catalogue (loaded by every CLI call and at start-up) about twice as fast.
    return Draft202012Validator(_inline(schema, schema.get("$defs", {})))


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


class ServiceCatalogue:
    """An immutable set of service definitions, looked up by code."""

    def __init__(self, services: Iterable[ServiceDefinition]) -> None:
        by_code: dict[str, ServiceDefinition] = {}
        for service in services:
            if service.code in by_code:
                raise ServiceDefinitionError(f"service {service.code} is defined twice")
            by_code[service.code] = service
        self._by_code = dict(sorted(by_code.items()))

    def get(self, code: str) -> ServiceDefinition:
        """The service with this code; NotFoundError otherwise."""
        service = self._by_code.get(code.upper()) if len(code) <= 64 else None
        if service is None:
            raise NotFoundError(f"no service {code[:64]!r}; 无此事项", code="service.not_found")
        return service

    def all(self) -> list[ServiceDefinition]:
        return list(self._by_code.values())

    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[ServiceDefinition]:
        return iter(self._by_code.values())

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.upper() in self._by_code


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def parse_service(definition: Any, types: TypeRegistry) -> ServiceDefinition:
    """Check one definition against the schema and the type catalogue; build it."""
    label = definition.get("code") if isinstance(definition, dict) else None
    where = f"service {str(label)[:64]}" if isinstance(label, str) else "service definition"
    problems = [f"{e.json_path}: {_short(e.message)}"
                for e in _definition_validator().iter_errors(definition)]
    if problems:
        raise ServiceDefinitionError(f"{where}: " + "; ".join(problems[:8]))
    code: str = definition["code"]
    form = definition["form"]
    problems = list(_semantic_problems(definition, types))
    if problems:
        raise ServiceDefinitionError(f"service {code}: " + "; ".join(problems[:8]))
    needs = definition["needs"]
    return ServiceDefinition(
        code=code,
        version=definition["version"],
        name=MappingProxyType(dict(definition["name"])),
        all_of=tuple(needs.get("all_of", ())),
        one_of=tuple(tuple(group) for group in needs.get("one_of", ())),
        produces=tuple(definition.get("produces", ())),
        form_schema=freeze(form),
        mapping=freeze(definition["mapping"]),
        description=definition.get("description", ""),
        authority_class=definition.get("authority_class"),
        subject=definition.get("subject"),
        tables=freeze(definition.get("tables", {})),
        validator=Draft202012Validator(form, format_checker=FORMAT_CHECKER),
    )


def _semantic_problems(definition: Mapping[str, Any], types: TypeRegistry) -> Iterator[str]:
    needs = definition["needs"]
    all_of: list[str] = list(needs.get("all_of", ()))
    groups: list[list[str]] = [list(g) for g in needs.get("one_of", ())]
    needed = [*all_of, *(t for g in groups for t in g)]
    if not needed:
        yield "needs: names no licence type"
    if len(set(needed)) != len(needed):
        yield "needs: a type appears more than once in all_of and one_of"
    for where, codes in (("needs", needed), ("produces", definition.get("produces", ()))):
        for type_code in codes:
            if type_code not in types:
                yield f"{where}: unknown licence type {type_code!r}"
    # The definition schema already holds the form to a closed, flat object (threat: an open
    # form would accept fields no mapping or clerk was meant to send); here what it cannot say.
    form = definition["form"]
    props: dict[str, Any] = form["properties"]
    for name in form.get("required", ()):
        if name not in props:
            yield f"form.required: {name!r} is not a form field"
    for name, prop in props.items():
        try:
            re.compile(prop.get("pattern", ""))
        except re.error:
            yield f"form.properties.{name}.pattern: not a regular expression"
        if "format" in prop and prop["format"] not in FORMAT_CHECKER.checkers:
            # Threat: a format the checker does not know is silently not checked.
            yield f"form.properties.{name}.format: unknown format {prop['format']!r}"
    tables = {**_mapping.BUILTIN_TABLES, **definition.get("tables", {})}
    for form_field, expr in definition["mapping"].items():
        where = f"mapping.{form_field}"
        if form_field not in props:
            yield f"{where}: form field {form_field!r} is not in the form schema"
            continue
        structural = list(_mapping.check_expression(expr, tables, where))
        if structural:
            yield from structural
            continue
        for source in _mapping.sources(expr):
            ref = f"{source.type_code}.{source.field}"
            if source.type_code not in types:
                yield f"{where}: {ref}: unknown licence type {source.type_code!r}"
            elif source.type_code not in needed:
                # Threat: a form reading a licence the service does not declare would widen
                # every grant beyond what the holder is shown and consents to.
                yield f"{where}: {ref}: type {source.type_code} is not in the service's needs"
            elif source.field not in types.get(source.type_code).schema["properties"]:
                yield f"{where}: {ref}: unknown field {source.field!r} of {source.type_code}"
        yield from _constant_problems(where, expr, props[form_field])


def _constant_problems(where: str, expr: Mapping[str, Any], prop: Any) -> Iterator[str]:
    """A top-level constant must itself be a valid value of its form field."""
    if "const" not in expr or not isinstance(prop, Mapping):
        return
    errors = list(Draft202012Validator(thaw(prop), format_checker=FORMAT_CHECKER)
                  .iter_errors(expr["const"]))
    if errors:
        yield f"{where}.const: not a valid value of the form field ({_short(errors[0].message)})"


def _read_json(entry: Traversable) -> Any:
    try:
        data = entry.read_bytes()
    except OSError as exc:
        raise ServiceDefinitionError(f"cannot read {entry.name}: {exc.strerror}") from None
    if len(data) > _MAX_FILE_BYTES:
        raise ServiceDefinitionError(f"{entry.name} is larger than {_MAX_FILE_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServiceDefinitionError(f"{entry.name} is not valid JSON: {_short(str(exc))}") \
            from None


def _load_dir(directory: Traversable, types: TypeRegistry) -> list[ServiceDefinition]:
    loaded = []
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(SUFFIX):
            continue
        service = parse_service(_read_json(entry), types)
        if service.code != entry.name[: -len(SUFFIX)]:
            raise ServiceDefinitionError(f"{entry.name} defines service {service.code}")
        loaded.append(service)
    return loaded


@lru_cache(maxsize=4)
def _shipped(types: TypeRegistry) -> tuple[ServiceDefinition, ...]:
    """The shipped definitions checked against ``types`` (a registry is immutable: cached)."""
    return tuple(_load_dir(resources.files("api.services.definitions"), types))


def load_services(types: TypeRegistry, extra_dir: Path | None = None) -> ServiceCatalogue:
    """The shipped services plus those in ``extra_dir`` (``<home>/services``), all checked."""
    services = list(_shipped(types))
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise ServiceDefinitionError(f"{extra_dir} is not a directory")
        services += _load_dir(extra_dir, types)
    return ServiceCatalogue(services)
