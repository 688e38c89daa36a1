"""The verifier's hot modules compiled with mypyc, and the rules that pick compiled or source.

The compiled build runs only when every listed module was compiled from the very
source beside it (a stale binary never decides a verdict), all or nothing, and
``SEALTRUST_NATIVE=off`` runs the source. The parser tests run against both.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import require
from verification import native_state
from verification._native import BUILD_FILE, GROUP, NATIVE_MODULES, decide

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("pkg.alpha", "pkg.sub.beta")
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _tree(tmp_path: Path, *, binaries: tuple[str, ...] = NAMES, record: bool = True) -> Path:
    """A package tree with sources, fake binaries and the build record setup.py writes."""
    digests = {}
    for name in NAMES:
        source = tmp_path.joinpath(*name.split(".")).with_suffix(".py")
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(f"X = {name!r}\n")
        digests[name] = hashlib.sha256(source.read_bytes()).hexdigest()
        if name in binaries:
            source.with_name(source.stem + SUFFIX).write_bytes(b"\x7fELF")
    if binaries:
        (tmp_path / f"{GROUP}{SUFFIX}").write_bytes(b"\x7fELF")
    if record:
        (tmp_path / "verification").mkdir(exist_ok=True)
        (tmp_path / "verification" / BUILD_FILE).write_text(json.dumps(digests))
    return tmp_path


def test_a_build_matching_its_sources_is_used(tmp_path: Path) -> None:
    assert decide(_tree(tmp_path), NAMES, None).compiled


def test_an_edited_source_makes_the_whole_build_stale(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "pkg" / "sub" / "beta.py").write_text("X = 'edited after compiling'\n")
    state = decide(root, NAMES, None)
    assert not state.compiled and "stale: pkg.sub.beta" in state.reason


@pytest.mark.parametrize("switch", ["off", "OFF", "0", "false"])
def test_the_switch_runs_the_source(tmp_path: Path, switch: str) -> None:
    state = decide(_tree(tmp_path), NAMES, switch)
    assert not state.compiled and state.reason == "SEALTRUST_NATIVE=off"


def test_a_partial_build_or_a_missing_record_runs_the_source(tmp_path: Path) -> None:
    partial = decide(_tree(tmp_path / "a", binaries=("pkg.alpha",)), NAMES, None)
    assert not partial.compiled and "pkg.sub.beta missing" in partial.reason
    unrecorded = decide(_tree(tmp_path / "b", record=False), NAMES, None)
    assert not unrecorded.compiled and BUILD_FILE in unrecorded.reason
    plain = decide(_tree(tmp_path / "c", binaries=()), NAMES, None)
    assert not plain.compiled and plain.reason.startswith("not compiled")
    library = _tree(tmp_path / "d")
    (library / f"{GROUP}{SUFFIX}").unlink()
    lost = decide(library, NAMES, None)
    assert not lost.compiled and GROUP in lost.reason


def _loaded_files(env_native: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "SEALTRUST_NATIVE"}
    if env_native is not None:
        env["SEALTRUST_NATIVE"] = env_native
    code = ("import importlib, json, verification\n"
            f"names = {NATIVE_MODULES!r}\n"
            "mods = {n: importlib.import_module(n).__file__ for n in names}\n"
            "print(json.dumps({'state': verification.native_state().compiled, 'files': mods}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_off_loads_every_listed_module_from_its_source() -> None:
    seen = _loaded_files("off")
    assert seen["state"] is False
    files = seen["files"]
    assert isinstance(files, dict) and set(files) == set(NATIVE_MODULES)
    assert all(str(f).endswith(".py") for f in files.values())


def test_this_installation_runs_the_compiled_build() -> None:
    """CI installs with a C compiler: the suite and the benchmarks run the compiled code."""
    state = native_state()
    require(state.compiled, f"compiled verifier modules ({state.reason})")
    seen = _loaded_files(None)
    files = seen["files"]
    assert seen["state"] is True and isinstance(files, dict)
    assert not any(str(f).endswith(".py") for f in files.values())


def test_the_parser_tests_pass_on_the_source_too() -> None:
    """The compiled and the source build give the same facts: the fast CMS walk's and the
    locator's differential tests (against asn1crypto and a forward byte scan) run again
    with SEALTRUST_NATIVE=off (this process runs them on whichever build is installed)."""
    env = dict(os.environ, SEALTRUST_NATIVE="off")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_verify_cms_fast.py", "tests/test_verify_locate.py"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout


def test_a_compiled_module_that_fails_to_load_sends_all_back_to_source() -> None:
    state = native_state()
    require(state.compiled, f"compiled verifier modules ({state.reason})")
    code = (
        "import importlib, json\n"
        "real = importlib.import_module\n"
        "def failing(name, package=None):\n"
        "    if name == 'verification.pdf.xref':\n"
        "        raise ImportError('built for another interpreter')\n"
        "    return real(name, package)\n"
        "importlib.import_module = failing\n"
        "import verification, verification.der, verification.pdf.xref\n"
        "importlib.import_module = real\n"
        "print(json.dumps([verification.native_state().reason,\n"
        "                  verification.der.__file__, verification.pdf.xref.__file__]))\n")
    env = {k: v for k, v in os.environ.items() if k != "SEALTRUST_NATIVE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env)
    reason, der, xref = json.loads(out.stdout.strip().splitlines()[-1])
    assert reason.startswith("compiled modules failed to load")
    assert der.endswith(".py") and xref.endswith(".py")
