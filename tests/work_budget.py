"""Bounded-work checks for unit tests: counted Python calls and peak RSS, not seconds.

A wall-clock bound in a unit test fails on a loaded machine and passes a slow
algorithm on a fast one; a call count is the same everywhere. Performance figures
belong in benchmarks/.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")


def calls_made(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, int]:
    """(fn's result, how many Python and C functions it called)."""
    count = 0

    def profile(_frame: FrameType, event: str, _arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    return result, count


def peak_rss_growth(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, int]:
    """(fn's result, bytes by which the process's peak RSS grew while it ran).

    The peak only ever rises, so this is a lower bound on what fn allocated: a
    decompression bomb that is actually inflated shows up as gigabytes.
    """
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = fn(*args, **kwargs)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return result, (after - before) * 1024  # ru_maxrss is in KiB on Linux
