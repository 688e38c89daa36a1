#!/usr/bin/env python3
"""Write api/services/definitions/*.service.json from the compact table below.

The JSON files are the committed truth (a deployment reads them, tests check
them); this script only saves typing. Each form field derives its schema from
the licence field it copies (enum, pattern, length), so a form never accepts
less than the licence can hold; a date reformatted into Chinese becomes a
plain bounded string. Run: ``python scripts/gen_services.py`` (then
``sealtrust services validate``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from service_table import SERVICES, Field  # noqa: E402

from signing.types import TypeRegistry, builtin_types  # noqa: E402

OUT = ROOT / "api" / "services" / "definitions"
SCHEMA_URL = "https://sealtrust.example/schemas/service-definition/v1"
CN_DATE = "YYYY年MM月DD日"


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
    if "anyOf" in prop:  # a date or 长期: keep it a bounded string
        return {"type": "string", "maxLength": 20}
    out: dict[str, Any] = {}
    for key in ("enum", "pattern", "maxLength", "minLength", "format", "type"):
        if key in prop:
            out[key] = prop[key]
    if "enum" not in out:
        out.setdefault("type", "string")
    return out


def _field_schema(types: TypeRegistry, spec: Field) -> dict[str, Any]:
    expr = spec.expr
    refs = _refs(expr)
    if "copy" in expr and len(refs) == 1:
        schema = _source_prop(types, refs[0])
    elif "const" in expr:
        schema = {"type": "string", "maxLength": 200}
    elif "lookup" in expr:
        table = expr["table"]
        values = sorted({str(v) for v in table.values()}) if isinstance(table, dict) else None
        schema = {"type": "string", "maxLength": 40}
        if values and "default" not in expr:
            schema = {"enum": values}
    else:
        schema = {"type": "string", "maxLength": spec.max_length}
    return {"title": spec.zh, "x-label": {"zh": spec.zh, "en": spec.en}, **schema}


def build(service: Any, types: TypeRegistry) -> dict[str, Any]:
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
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for service in SERVICES:
        path = OUT / f"{service.code}.service.json"
        wanted.add(path.name)
        text = json.dumps(build(service, types), ensure_ascii=False, indent=2) + "\n"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    for stale in OUT.glob("*.service.json"):
        if stale.name not in wanted:
            stale.unlink()
    print(f"{len(SERVICES)} services in {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
