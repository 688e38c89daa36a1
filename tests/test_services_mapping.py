"""The mapping language and scope exactness, by property (hypothesis).

Expected values are computed here independently of ``api.services._mapping``:
dates with ``datetime.strftime``, joins with ``str.join``, lookups with ``dict.get``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.services import SourcedLicence, fill_form, format_date, load_services, parse_service
from api.services._mapping import evaluate
from signing.types import builtin_types

TYPES = builtin_types()
NOW = datetime(2026, 6, 1, tzinfo=UTC)
# tokens are read greedily (MM before M), so the generated formats separate them by a literal
LITERALS = st.text(alphabet="年月日号至之-/. 〇", min_size=1, max_size=3)


def _no_read(_: Any) -> None:
    return None


def _eval(expr: dict[str, Any], values: dict[str, Any]) -> Any:
    from api.services._mapping import Value

    def read(source: Any) -> Any:
        key = f"{source.type_code}.{source.field}"
        return Value(values[key], (source,)) if key in values else None

    result = evaluate(expr, read, {"sex_code": {"男": "1", "女": "2"}})
    return None if result is None else result.value


@given(st.dates(min_value=date(1, 1, 1)), st.lists(
    st.tuples(st.sampled_from(["YYYY", "MM", "DD", "M", "D"]), LITERALS), min_size=1,
    max_size=5))
def test_date_format_matches_strftime(day: date, parts: list[tuple[str, str]]) -> None:
    fmt = "".join(token + literal for token, literal in parts)
    expected = "".join({"YYYY": f"{day.year:04d}", "MM": day.strftime("%m"),
                        "DD": day.strftime("%d"), "M": str(day.month), "D": str(day.day)}[t]
                       + lit for t, lit in parts)
    assert format_date(day.isoformat(), fmt) == expected


@given(st.text(max_size=12))
def test_date_format_refuses_what_is_not_a_calendar_date(text: str) -> None:
    try:
        real = date.fromisoformat(text) if len(text) == 10 and text[4] == "-" else None
    except ValueError:
        real = None
    out = format_date(text, "YYYY年MM月DD日")
    assert (out is None) == (real is None or not text.isascii())


def test_date_format_known_answers() -> None:
    assert format_date("2026-02-28", "YYYY年MM月DD日") == "2026年02月28日"
    assert format_date("2026-02-30", "YYYY年MM月DD日") is None
    assert format_date("长期", "YYYY年MM月DD日") is None
    assert _eval({"date": {"copy": "RIC.valid_until"}, "format": "YYYY.M.D", "keep": ["长期"]},
                 {"RIC.valid_until": "长期"}) == "长期"
    assert _eval({"date": {"copy": "RIC.valid_until"}, "format": "YYYY.M.D"},
                 {"RIC.valid_until": "2030-01-09"}) == "2030.1.9"


@given(st.lists(st.one_of(st.none(), st.text(max_size=6)), min_size=1, max_size=6),
       st.text(max_size=3))
def test_join_skips_absent_and_empty_parts(parts: list[str | None], sep: str) -> None:
    values = {f"RIC.f{i}": p for i, p in enumerate(parts) if p is not None}
    expr = {"join": [{"copy": f"RIC.f{i}"} for i in range(len(parts))], "sep": sep}
    present = [p for p in parts if p]
    assert _eval(expr, values) == (sep.join(present) if present else None)


@given(st.dictionaries(st.text(min_size=1, max_size=4), st.text(max_size=4), min_size=1,
                       max_size=5),
       st.text(min_size=1, max_size=4), st.one_of(st.none(), st.text(max_size=4)))
def test_lookup_table_and_default(table: dict[str, str], key: str, default: str | None) -> None:
    expr: dict[str, Any] = {"lookup": {"copy": "RIC.k"}, "table": table}
    if default is not None:
        expr["default"] = default
    expected = table.get(key, default)
    assert _eval(expr, {"RIC.k": key}) == expected


def test_builtin_sex_code_table_and_first() -> None:
    assert _eval({"lookup": {"copy": "RIC.sex"}, "table": "sex_code"}, {"RIC.sex": "女"}) == "2"
    assert _eval({"lookup": {"copy": "RIC.sex"}, "table": "sex_code"}, {"RIC.sex": "?"}) is None
    expr = {"first": [{"copy": "RIC.a"}, {"copy": "RIC.b"}, {"const": "c"}]}
    assert _eval(expr, {"RIC.a": "", "RIC.b": "b"}) == "b"
    assert _eval(expr, {}) == "c"


# -- scope exactness -------------------------------------------------------------------------

NEEDED = ("RIC", "DL", "SSC")


def _fields(code: str) -> list[str]:
    return sorted(TYPES.get(code).schema["properties"])


REFS = st.sampled_from([f"{c}.{f}" for c in NEEDED for f in _fields(c)])


def _expressions() -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.one_of(REFS.map(lambda r: {"copy": r}), st.text(max_size=3).map(
        lambda t: {"const": t}))
    return st.recursive(leaf, lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda p: {"join": p, "sep": "|"}),
        st.lists(inner, min_size=1, max_size=3).map(lambda p: {"first": p}),
        inner.map(lambda e: {"date": e, "format": "YYYY年MM月DD日"}),
        inner.map(lambda e: {"lookup": e, "table": {"x": "y"}, "default": "d"}),
    ), max_leaves=6)


def _refs(expr: Any) -> set[str]:
    if isinstance(expr, dict):
        return set().union(*(_refs(v) for k, v in expr.items() if k != "copy"),
                           {expr["copy"]} if "copy" in expr else set())
    if isinstance(expr, list):
        return set().union(*(_refs(v) for v in expr))
    return set()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), _expressions(),
                       min_size=1, max_size=5))
def test_values_outside_the_scope_never_reach_the_form(mapping: dict[str, Any]) -> None:
    definition = {
        "code": "P-TEST", "version": 1, "name": {"zh": "测", "en": "t"},
        "needs": {"all_of": ["RIC"], "one_of": [["DL", "SSC"]]},
        "form": {"type": "object", "additionalProperties": False,
                 "properties": {k: {"type": "string"} for k in mapping}},
        "mapping": mapping,
    }
    service = parse_service(definition, TYPES)
    read = set().union(*(_refs(e) for e in mapping.values()))
    expected = {c: frozenset(r.split(".", 1)[1] for r in read if r.startswith(c + "."))
                for c in NEEDED}
    # Whole records where every field (and a field no schema has) holds a unique sentinel;
    # also a licence of a type the service does not need.
    licences = [SourcedLicence(f"id-{c}", c, {**{f: f"@{c}.{f}@" for f in _fields(c)},
                                               "secret": f"@{c}.secret@"}, NOW, "TOTAL_PASSED")
                for c in (*NEEDED, "BL")]
    out = json.dumps(fill_form(service, licences).to_json(), ensure_ascii=False)
    for c in (*NEEDED, "BL"):
        for f in [*_fields(c), "secret"]:
            if f"@{c}.{f}@" in out:
                assert f in expected.get(c, frozenset()), f"{c}.{f} leaked outside the scope"
    assert service.scope() == expected


def test_every_shipped_service_fills_only_from_its_scope() -> None:
    catalogue = load_services(TYPES)
    for service in catalogue:
        scope = service.scope()
        assert set(scope) == set(service.needs())
        licences = [SourcedLicence(f"id-{t.code}", t.code, t.example(3), NOW, "TOTAL_PASSED")
                    for t in TYPES]
        filled = fill_form(service, licences)
        assert filled.missing == [] and filled.invalid == [], service.code
        for name, origin in filled.provenance.items():
            for src in origin.get("sources", [origin]):
                if src["type"] is not None:
                    assert src["field"] in scope[src["type"]], (service.code, name)
        assert set(filled.form) <= set(service.form_schema["properties"])
