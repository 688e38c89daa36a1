"""Compile the verifier's hot modules with mypyc where a C compiler is at hand.

Everything else about the package is in pyproject.toml. The compiled modules
are the same type-checked source (``verification/_native_modules.py`` lists
them); the SHA-256 of each compiled source is written to
``verification/_native_build.json`` so that a binary older than its source is
never used (``verification/_native.py``). Without mypyc or a C compiler, or with
``SEALTRUST_PURE_PYTHON=1``, the package installs as pure Python.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import setup

ROOT = Path(__file__).resolve().parent
BUILD_FILE = ROOT / "verification" / "_native_build.json"


def native_extensions() -> list[Any]:
    """mypyc's extensions for the listed modules, each optional; [] when not compiling."""
    if sys.argv[1:2] in (["egg_info"], ["dist_info"]):
        return []  # metadata only: pip asks for it before the build, no need to compile
    BUILD_FILE.unlink(missing_ok=True)
    if os.environ.get("SEALTRUST_PURE_PYTHON") == "1":
        return []
    names = runpy.run_path(str(ROOT / "verification" / "_native_modules.py"))["NATIVE_MODULES"]
    paths = [name.replace(".", "/") + ".py" for name in names]
    try:
        from mypyc.build import mypycify

        extensions = mypycify(["--config-file", "mypyc.ini", *paths], opt_level="3",
                              group_name="sealtrust_native")
    except (Exception, SystemExit) as exc:  # noqa: BLE001  (no mypyc, or it refused)
        print(f"sealtrust: not compiling {len(paths)} modules ({exc}); pure Python",
              file=sys.stderr)
        return []
    for extension in extensions:
        extension.optional = True  # no C compiler: the pure-Python modules stay
    digests = {name: hashlib.sha256((ROOT / path).read_bytes()).hexdigest()
               for name, path in zip(names, paths, strict=True)}
    BUILD_FILE.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", "utf-8")
    return extensions


setup(ext_modules=native_extensions())
