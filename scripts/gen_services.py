#!/usr/bin/env python3
"""Write api/services/definitions/*.service.json from the compact tables.

The JSON files are the committed truth (a deployment reads them, tests check
them); this script only saves typing. Sources: the hand-written services in
``scripts/service_table.py`` and the catalogue rows in ``scripts/service_rows.txt``
(names of provincial 免证办 / 一证通办 services). Other licence types a row
needs or produces are named in Chinese and matched against the type catalogue;
one match is needed (all_of), several are alternatives (one_of), none is left
out. Each form field derives its schema from the licence field it copies (enum,
pattern, length), so a form never refuses what the licence can hold.
Run: ``python scripts/gen_services.py`` (then ``sealtrust services validate``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import service_table as table  # noqa: E402
from service_table import SERVICES, Field, Service  # noqa: E402

from signing.types import LicenceType, TypeRegistry, builtin_types  # noqa: E402

OUT = ROOT / "api" / "services" / "definitions"
SCHEMA_URL = "https://sealtrust.example/schemas/service-definition/v1"
# Convention fields (signing/types/definitions/README.md) a form asks of any other licence.
CONVENTION = (("certificate_number", "编号", "number"), ("issue_date", "发证日期", "issue date"),
              ("valid_until", "有效期至", "valid until"),
              ("issuing_authority", "发证机关", "issuing authority"))


def _refs(expr: Any) -> list[str]:
    if not isinstance(expr, dict):
        return []
    out: list[str] = []
    for key, value in expr.items():
        if key == "copy":
            out.append(value)
        elif isinstance(value, list):
            for part in value:
                out += _refs(part)
        elif isinstance(value, dict):
            out += _refs(value)
    return out


def _source_prop(types: TypeRegistry, ref: str) -> dict[str, Any]:
    code, field = ref.split(".", 1)
    prop = dict(types.get(code).schema["properties"][field])
    defs = types.get(code).schema.get("$defs", {})
    if "$ref" in prop:
        prop = {**defs[prop["$ref"].rsplit("/", 1)[1]], **prop}
    if "anyOf" in prop or "oneOf" in prop:  # e.g. a date or 长期: a bounded string
        return {"type": "string", "maxLength": 40}
    out: dict[str, Any] = {}
    for key in ("enum", "const", "pattern", "maxLength", "minLength", "format", "type"):
        if key in prop:
            out[key] = prop[key]
    if "enum" not in out and "const" not in out:
        out.setdefault("type", "string")
    return out


def _field_schema(types: TypeRegistry, spec: Field) -> dict[str, Any]:
    expr = spec.expr
    refs = _refs(expr)
    if "copy" in expr and len(refs) == 1:
        schema = _source_prop(types, refs[0])
    elif "lookup" in expr:
        tbl = expr["table"]
        values = sorted({str(v) for v in tbl.values()}) if isinstance(tbl, dict) else None
        if tbl == "sex_code":
            values = ["1", "2"]
        schema = {"enum": values} if values and "default" not in expr else {
            "type": "string", "maxLength": 40}
    else:
        schema = {"type": "string", "maxLength": spec.max_length}
    return {"title": spec.zh, "x-label": {"zh": spec.zh, "en": spec.en}, **schema}


def _matches(types: TypeRegistry, name: str) -> list[LicenceType]:
    exact = [t for t in types if t.name_zh == name]
    return exact or [t for t in types if name in t.name_zh]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:24] or "doc"


# What forms typically read of the most used other licences, beyond the convention fields.
TYPICAL: dict[str, tuple[str, ...]] = {
    "HHR": ("household_number", "household_head", "relation_to_head", "native_place", "address"),
    "MC": ("registration_date", "spouse_name", "spouse_id_number"),
    "DVC": ("registration_date",),
    "RPC": ("address", "usage", "building_area"),
    "HSD": ("school", "graduation_date"),
    "GRD": ("school", "major", "education_level", "graduation_date"),
    "DEG": ("school", "degree", "conferral_date"),
    "BMC": ("name", "sex", "birth_date", "birthplace", "mother_name", "father_name"),
    "DPC": ("disability_category", "disability_grade"),
    "DMC": ("name", "id_number", "death_date"),
    "MIL": ("registration_number", "institution_type"),
    "RSP": ("household_address",),
    "IBL": ("name", "uscc", "operator"),
    "VRC": ("registration_number",),
}


def _is_date(licence_type: LicenceType, field: str) -> bool:
    prop = licence_type.schema["properties"][field]
    text = repr(prop)
    return "#/$defs/date" in text or "'format': 'date'" in text


def _other_fields(group: list[LicenceType], name: str) -> list[Field]:
    """Convention and typical fields of another licence, each from whichever of the group."""
    key = _slug(group[0].code) if len(group) == 1 else "any_" + _slug(group[0].code)
    wanted = [f for f, _, _ in CONVENTION]
    for licence_type in group:
        wanted += [f for f in TYPICAL.get(licence_type.code, ()) if f not in wanted]
    out = []
    for field in wanted:
        having = [t for t in group if field in t.schema["properties"]]
        if not having:
            continue
        parts: list[dict[str, Any]] = [table.copy(f"{t.code}.{field}") for t in having]
        expr: dict[str, Any] = parts[0] if len(parts) == 1 else {"first": parts}
        if _is_date(having[0], field):
            expr = {"date": expr, "format": table.CN_DATE, "keep": ["长期"]}
        label = having[0].label(field)
        prefix_zh = name if len(group) > 1 else group[0].name_zh
        prefix_en = name if len(group) > 1 else group[0].name_en
        out.append(Field(f"{key}_{field}", f"{prefix_zh}{label['zh']}",
                         f"{prefix_en}: {label['en']}", expr, required=False, max_length=200))
    return out


def expand(row: table.Row, types: TypeRegistry) -> Service:
    base = row.base
    subject = "person" if base[0] == "P" else "organisation"
    fields: list[Field] = list(table.person_fields(row.flags) if subject == "person"
                              else table.org_fields(row.flags))
    all_of = ["RIC" if subject == "person" else "BL"]
    for extra in base[1:]:
        if extra == "P":
            fields += table.person_fields("", "agent", "经办人")
            all_of.append("RIC")
        else:
            fields += table.GROUP_FIELDS[extra]
            all_of.append(extra)
    one_of: list[tuple[str, ...]] = []
    described = [types.get(c).name_zh for c in all_of]
    for name in row.needs_by_name:
        group = [t for t in _matches(types, name) if t.code not in all_of
                 and all(t.code not in g for g in one_of)][:16]
        if not group:
            continue
        if len(group) == 1:
            all_of.append(group[0].code)
        else:
            one_of.append(tuple(t.code for t in group))
        described.append(name)
        fields += _other_fields(group, name)
    produces = []
    for name in row.produces_by_name:
        found = _matches(types, name)
        if found:
            produces.append(min(found, key=lambda t: len(t.name_zh)).code)
    return Service(row.code, row.zh, row.en, row.authority_class, subject, tuple(fields),
                   all_of=tuple(dict.fromkeys(all_of)), one_of=tuple(one_of),
                   produces=tuple(dict.fromkeys(produces)),
                   description="用证：" + "、".join(dict.fromkeys(described)) + "。")


def build(service: Service, types: TypeRegistry) -> dict[str, Any]:
    props = {f.name: _field_schema(types, f) for f in service.fields}
    for extra in service.clerk_fields:  # filled by the applicant or the clerk, never mapped
        props[extra.name] = {"title": extra.zh, "x-label": {"zh": extra.zh, "en": extra.en},
                             "type": "string", "maxLength": extra.max_length}
    needs: dict[str, Any] = {}
    if service.all_of:
        needs["all_of"] = list(service.all_of)
    if service.one_of:
        needs["one_of"] = [list(g) for g in service.one_of]
    doc: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "code": service.code,
        "version": 1,
        "name": {"zh": service.zh, "en": service.en},
        "description": service.description,
        "authority_class": service.authority_class,
        "subject": service.subject,
        "needs": needs,
        "produces": list(service.produces),
    }
    if service.tables:
        doc["tables"] = service.tables
    doc["form"] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": service.zh,
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in service.fields if f.required],
        "properties": props,
    }
    doc["mapping"] = {f.name: f.expr for f in service.fields}
    return doc


def main() -> int:
    types = builtin_types()
    rows = table.rows((ROOT / "scripts" / "service_rows.txt").read_text(encoding="utf-8"))
    services = [*SERVICES, *(expand(r, types) for r in rows)]
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for service in services:
        path = OUT / f"{service.code}.service.json"
        wanted.add(path.name)
        text = json.dumps(build(service, types), ensure_ascii=False, indent=2) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    for stale in OUT.glob("*.service.json"):
        if stale.name not in wanted:
            stale.unlink()
    print(f"{len(services)} services in {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
