"""Every third-party module the service imports is a runtime dependency in pyproject.toml.

Threat: a module the test extra happens to install (httpx came with FastAPI's test client)
imported by service code: the suite passes, and `scripts/serve.sh` in a fresh clone, which
installs no test extra, fails at start-up.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("trust", "hsm_adapters", "signing", "verification", "api")
# Optional backends imported behind a guard (their absence is a start-up fallback).
GUARDED = {"ipp_crypto", "pkcs11"}


def _top_level_imports() -> set[str]:
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~! ;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _runtime_distributions() -> set[str]:
    """The declared runtime dependencies and their own unconditional requirements."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(d) for d in project["dependencies"]}
    hard = {_name(r) for d in declared for r in (requires(d) or []) if "extra ==" not in r}
    return declared | hard


def test_service_imports_only_runtime_dependencies() -> None:
    declared = _runtime_distributions()
    owners = packages_distributions()
    missing = {}
    for module in sorted(_top_level_imports() - GUARDED):
        dists = {d.lower().replace("_", "-") for d in owners.get(module, [])}
        if not dists & declared:
            missing[module] = sorted(dists)
    assert not missing, f"imported by service code but not a runtime dependency: {missing}"
