"""Find a shared library that an installed PyPI wheel shipped, by its RECORD.

ipp-crypto and intel-cmplr-lib-rt install their ``.so`` files as wheel data
(``<prefix>/lib``), outside any Python package and outside the loader's search
path. Reading the distribution's file list finds exactly the file that wheel
installed: nothing is downloaded and no other copy on the system is picked up
by accident (a stray ``libippcp.so`` elsewhere would bypass our pinned version).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

__all__ = ["wheel_library"]


def wheel_library(distribution: str, filename: str) -> Path:
    """The absolute path of ``filename`` installed by ``distribution``.

    Raises ImportError when the distribution is not installed and OSError when
    it does not contain the file (or the file is gone).
    """
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ImportError(f"{distribution} is not installed") from exc
    for entry in dist.files or ():
        if entry.name == filename:
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file():
                return path
            raise OSError(f"{distribution}: {filename} listed but missing at {path}")
    raise OSError(f"{distribution} does not ship {filename}")
