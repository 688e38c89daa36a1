"""Which build of the verifier's hot modules runs: mypyc-compiled, or their source.

setup.py compiles :data:`NATIVE_MODULES` with mypyc where a C compiler is at
hand, and records the SHA-256 of each source it compiled (``_native_build.json``).
The choice is made once, when this module is imported, before any of those
modules is:

- all or nothing: compiled modules call each other natively and share their
  exception classes, so a mix could let source code miss the compiled
  ``Unusual`` (and hand an input to the wrong parser);
- a compiled module runs only if its source is byte for byte the one it was
  compiled from. Threat: a stale binary of an edited or checked-out parser
  deciding verdicts the source no longer gives;
- ``SEALTRUST_NATIVE=off`` runs the source (an operator's switch, and how the
  tests and the fuzzer exercise the source path).

The source and the compiled code are the same type-checked Python, so both give
the same facts (the suite runs its parser tests against both:
tests/test_native_build.py).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Final

from verification._native_modules import NATIVE_MODULES

__all__ = ["BUILD_FILE", "NATIVE_MODULES", "NativeState", "decide", "state"]

BUILD_FILE: Final = "_native_build.json"
GROUP: Final = "sealtrust_native__mypyc"  # mypyc's shared library for the modules (setup.py)
_ROOT: Final = Path(__file__).resolve().parent.parent  # the directory holding verification/


@dataclass(frozen=True, slots=True)
class NativeState:
    """What was decided on import, for ``sealtrust doctor`` and the tests."""

    compiled: bool
    reason: str  # why, in a few words (English; doctor adds the Chinese)


def _source(root: Path, name: str) -> Path:
    return root.joinpath(*name.split(".")).with_suffix(".py")


def _binary(root: Path, name: str) -> Path | None:
    base = root.joinpath(*name.split("."))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = base.with_name(base.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def decide(root: Path, names: Sequence[str], switch: str | None) -> NativeState:
    """Whether the compiled modules under ``root`` may run (no side effects)."""
    if switch is not None and switch.lower() in ("off", "0", "no", "false"):
        return NativeState(False, "SEALTRUST_NATIVE=off")
    binaries = [_binary(root, name) for name in names]
    if not any(binaries):
        return NativeState(False, "not compiled (no C compiler or mypyc at install)")
    missing = [name for name, binary in zip(names, binaries, strict=True) if binary is None]
    if _binary(root, GROUP) is None:
        missing.append(GROUP)
    if missing:
        return NativeState(False, f"partly compiled ({', '.join(missing)} missing)")
    try:
        recorded = json.loads((root / "verification" / BUILD_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return NativeState(False, f"compiled, but {BUILD_FILE} is missing or unreadable")
    for name in names:
        try:
            digest = hashlib.sha256(_source(root, name).read_bytes()).hexdigest()
        except OSError:
            return NativeState(False, f"compiled, but the source of {name} is missing")
        if not isinstance(recorded, dict) or recorded.get(name) != digest:
            return NativeState(False, f"stale: {name} changed since it was compiled")
    return NativeState(True, f"compiled with mypyc ({len(names)} modules)")


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Loads the listed modules from their ``.py`` even where a compiled one lies beside it."""

    def __init__(self, root: Path, names: Sequence[str]) -> None:
        self._sources = {name: _source(root, name) for name in names}

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        source = self._sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def _choose() -> NativeState:
    """Decide, and make the listed modules import as decided (run once, on import)."""
    decided = decide(_ROOT, NATIVE_MODULES, os.environ.get("SEALTRUST_NATIVE"))
    if decided.compiled:
        decided = _load_compiled(decided)
    if not decided.compiled and any(_binary(_ROOT, n) for n in NATIVE_MODULES):
        sys.meta_path.insert(0, _SourceFinder(_ROOT, NATIVE_MODULES))
    return decided


def _load_compiled(decided: NativeState) -> NativeState:
    """Import the compiled modules now; any that fails to load sends all back to source."""
    try:
        for name in NATIVE_MODULES:
            importlib.import_module(name)
    except ImportError as exc:  # e.g. built for another interpreter, or a broken library
        for name in NATIVE_MODULES:
            sys.modules.pop(name, None)
        return NativeState(False, f"compiled modules failed to load ({exc})"[:300])
    return decided


# On import: the package imports this module before anything it compiles, so nothing
# listed is loaded yet (verification/__init__.py).
_STATE: Final = _choose()


def state() -> NativeState:
    """The decision of this process."""
    return _STATE
