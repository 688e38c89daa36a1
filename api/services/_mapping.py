"""The mapping language: data-only expressions from licence fields to one form field.

An expression is a JSON object with exactly one function key (no code, no eval):

- ``{"copy": "RIC.name"}`` — a licence field, always named ``TYPE.field``
- ``{"const": "中国"}`` — a constant string, number or boolean
- ``{"join": [expr, ...], "sep": " "}`` — the present parts as text joined by ``sep``
- ``{"date": expr, "format": "YYYY年MM月DD日", "keep": ["长期"]}`` — an ISO date
  (``YYYY-MM-DD``) rewritten with the tokens ``YYYY MM DD M D``; a value listed in
  ``keep`` passes unchanged, anything else that is not a date gives nothing
- ``{"lookup": expr, "table": {"男": "1"} | "sex_code", "default": ...}`` — a value
  looked up in an inline or named table; not found and no default gives nothing
- ``{"first": [expr, ...]}`` — the first part that gives a non-empty value

Every licence field an expression can read is named literally in it, so the
fields a form reads (:func:`sources`) are known before any licence is seen and
the grant scope is computed exactly from the definition. Expressions that give
nothing leave the form field empty for the clerk: a value is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

__all__ = [
    "BUILTIN_TABLES",
    "FUNCTIONS",
    "Source",
    "Value",
    "check_expression",
    "evaluate",
    "format_date",
    "sources",
]

FUNCTIONS: Final = ("copy", "const", "join", "date", "lookup", "first")
_OPTIONS: Final[Mapping[str, frozenset[str]]] = {
    "copy": frozenset(), "const": frozenset(), "join": frozenset({"sep"}),
    "date": frozenset({"format", "keep"}), "lookup": frozenset({"table", "default"}),
    "first": frozenset(),
}
_REF: Final = re.compile(r"^([A-Z][A-Z0-9_]{0,15})\.([a-z][a-z0-9_]{0,63})$")
_ISO_DATE: Final = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_DATE_TOKEN: Final = re.compile(r"YYYY|MM|DD|M|D")
_MAX_DEPTH: Final = 8
_MAX_PARTS: Final = 16
_MAX_TEXT: Final = 4000

# GB/T 2261.1-2003 sex codes and the reverse, used by many provincial forms.
BUILTIN_TABLES: Final[Mapping[str, Mapping[str, str]]] = {
    "sex_code": {"男": "1", "女": "2"},
    "sex_en": {"男": "Male", "女": "Female"},
    "sex_from_code": {"1": "男", "2": "女"},
}

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Source:
    """One licence field an expression reads."""

    type_code: str
    field: str


@dataclass(frozen=True, slots=True)
class Value:
    """An evaluated expression: the value and the licence fields it came from."""

    value: Scalar
    sources: tuple[Source, ...]


def parse_ref(ref: object) -> Source | None:
    """``"TYPE.field"`` as a Source, or None when it is not one."""
    if not isinstance(ref, str):
        return None
    match = _REF.match(ref)
    return Source(match.group(1), match.group(2)) if match else None


def _function(expr: Mapping[str, Any]) -> str | None:
    found = [k for k in expr if k in _OPTIONS]
    return found[0] if len(found) == 1 else None


def check_expression(expr: object, tables: Mapping[str, Mapping[str, Any]],
                     path: str = "$", depth: int = 0) -> Iterator[str]:
    """Every structural problem of ``expr``, each as ``path: message`` (no type knowledge)."""
    if depth > _MAX_DEPTH:
        yield f"{path}: nested deeper than {_MAX_DEPTH}"
        return
    if not isinstance(expr, Mapping):
        yield f"{path}: an expression is an object with one function key"
        return
    function = _function(expr)
    if function is None:
        names = ", ".join(sorted(str(k) for k in expr)[:4]) or "nothing"
        yield f"{path}: unknown function ({names}); one of {', '.join(FUNCTIONS)}"
        return
    extra = sorted(str(k) for k in expr if k != function and k not in _OPTIONS[function])
    if extra:
        yield f"{path}: {function} takes no option {', '.join(extra)}"
    arg = expr[function]
    if function == "copy":
        if parse_ref(arg) is None:
            yield f"{path}.copy: a source is 'TYPE.field' (e.g. 'RIC.name')"
    elif function == "const":
        if not isinstance(arg, str | int | float | bool) or (isinstance(arg, str)
                                                            and len(arg) > _MAX_TEXT):
            yield f"{path}.const: a constant is a string, number or boolean"
    elif function in ("join", "first"):
        if not isinstance(arg, list) or not 1 <= len(arg) <= _MAX_PARTS:
            yield f"{path}.{function}: a list of 1 to {_MAX_PARTS} expressions"
        else:
            for i, part in enumerate(arg):
                yield from check_expression(part, tables, f"{path}.{function}[{i}]", depth + 1)
        if function == "join" and not isinstance(expr.get("sep", ""), str):
            yield f"{path}.sep: a separator is a string"
    elif function == "date":
        yield from check_expression(arg, tables, f"{path}.date", depth + 1)
        fmt = expr.get("format")
        if not isinstance(fmt, str) or not _DATE_TOKEN.search(fmt) or re.search(
                r"[A-Za-z]", _DATE_TOKEN.sub("", fmt)) or len(fmt) > 64:
            yield f"{path}.format: a date format uses YYYY MM DD M D and no other letters"
        keep = expr.get("keep", [])
        if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
            yield f"{path}.keep: a list of strings"
    elif function == "lookup":
        yield from check_expression(arg, tables, f"{path}.lookup", depth + 1)
        table = expr.get("table")
        if isinstance(table, str):
            if table not in tables:
                yield f"{path}.table: unknown table {table!r}"
        elif not isinstance(table, Mapping) or not table or not all(
                isinstance(v, str | int | float | bool) for v in table.values()):
            yield f"{path}.table: an object of value -> string, number or boolean, or a table name"
        if "default" in expr and not isinstance(expr["default"], str | int | float | bool):
            yield f"{path}.default: a string, number or boolean"


def sources(expr: Mapping[str, Any]) -> Iterator[Source]:
    """Every licence field ``expr`` can read (checked expressions only)."""
    function = _function(expr)
    arg: Any = expr[function] if function else None
    if function == "copy":
        ref = parse_ref(arg)
        if ref is not None:
            yield ref
    elif function in ("join", "first"):
        for part in arg:
            yield from sources(part)
    elif function in ("date", "lookup"):
        yield from sources(arg)


def format_date(value: str, fmt: str) -> str | None:
    """``value`` (an ISO calendar date) in ``fmt``; None when it is not a real date."""
    match = _ISO_DATE.match(value)
    if match is None:
        return None
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
    parts = {"YYYY": f"{day.year:04d}", "MM": f"{day.month:02d}", "DD": f"{day.day:02d}",
             "M": str(day.month), "D": str(day.day)}
    return _DATE_TOKEN.sub(lambda m: parts[m.group(0)], fmt)


Reader = Callable[[Source], Value | None]


def _present(value: Value | None) -> bool:
    return value is not None and value.value != ""


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def evaluate(expr: Mapping[str, Any], read: Reader,
             tables: Mapping[str, Mapping[str, Any]]) -> Value | None:
    """The value of a checked expression, reading licence fields only through ``read``."""
    function = _function(expr)
    arg: Any = expr[function] if function else None
    if function == "copy":
        ref = parse_ref(arg)
        return read(ref) if ref is not None else None
    if function == "const":
        return Value(arg, ())
    if function == "first":
        for part in arg:
            value = evaluate(part, read, tables)
            if _present(value):
                return value
        return None
    if function == "join":
        got = [v for v in (evaluate(p, read, tables) for p in arg) if _present(v)]
        if not got:
            return None
        text = str(expr.get("sep", "")).join(_text(v.value) for v in got if v is not None)
        return Value(text, tuple(s for v in got if v is not None for s in v.sources))
    if function == "date":
        inner = evaluate(arg, read, tables)
        if inner is None or not isinstance(inner.value, str):
            return None
        if inner.value in expr.get("keep", ()):
            return inner
        formatted = format_date(inner.value, str(expr["format"]))
        return Value(formatted, inner.sources) if formatted is not None else None
    if function == "lookup":
        inner = evaluate(arg, read, tables)
        if inner is None:
            return None
        table = expr["table"]
        entries: Mapping[str, Any] = tables[table] if isinstance(table, str) else table
        key = _text(inner.value)
        if key in entries:
            return Value(entries[key], inner.sources)
        if "default" in expr:
            return Value(expr["default"], inner.sources)
        return None
    return None
