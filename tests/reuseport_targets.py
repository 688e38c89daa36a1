"""Worker targets for the supervisor tests (module level: the spawn context pickles them
by name)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def crash_at_once(config: dict[str, Any], host: str, port: int) -> None:
    """A worker that dies on start-up every time (a broken native library, say)."""
    with Path(config["starts"]).open("a") as out:
        out.write(f"{os.getpid()}\n")
    os._exit(3)
