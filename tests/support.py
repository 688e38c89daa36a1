"""Helpers for tests: prerequisite gating."""

from __future__ import annotations

import os

import pytest


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI, SEALTRUST_REQUIRE_ALL=1) when a prerequisite is missing."""
    if condition:
        return
    if os.environ.get("SEALTRUST_REQUIRE_ALL") == "1":
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)
