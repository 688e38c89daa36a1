"""Where the project's shared/ folder (standards digest, OFD samples) is, for tests that read it.

In CI a copy of shared/ sits beside the clone (``../shared`` from the repository
root); a developer's worktree may sit one level deeper. ``SEALTRUST_SHARED``
overrides both. Tests needing it call :func:`shared_dir`, which skips locally and
fails under ``SEALTRUST_REQUIRE_ALL=1`` when the folder is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import require

ROOT = Path(__file__).resolve().parent.parent


def _candidates() -> list[Path]:
    env = os.environ.get("SEALTRUST_SHARED")
    found = [Path(env)] if env else []
    return [*found, ROOT.parent / "shared", ROOT.parent.parent / "shared"]


def shared_dir(needs: str = "") -> Path:
    """The shared/ folder (containing ``needs``, if given), or skip/fail with the reason."""
    for path in _candidates():
        if path.is_dir() and (not needs or (path / needs).exists()):
            return path
    where = ", ".join(str(p) for p in _candidates())
    require(False, f"shared/{needs} not found (looked in {where}; set SEALTRUST_SHARED)")
    raise AssertionError("unreachable")
