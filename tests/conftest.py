"""Shared fixtures: the vector files and marker gating.

Tests that need a device or server carry a marker (pkcs11, sdf, postgres,
browser). Locally they skip with a reason when the thing is absent; with
``SEALTRUST_REQUIRE_ALL=1`` (set by .ci/run) a missing prerequisite is an
error instead, so CI can never go green by skipping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture(scope="session")
def sm2_vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / "sm2.json").read_text())
    return data


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which SM2 backends and which parser build this run verifies with: the fast paths
    depend on the CPU and extras, the build on the compiler at install."""
    from trust import sm2
    from verification import native_state

    single, batch = sm2.fast_paths()
    return [
        f"sm2: signer {sm2.backend_name()}, single verify {sm2.verify_backend_name()}"
        f" ({single.code_path or single.detail}), batch {sm2.batch_backend_name() or 'loop'}"
        f" ({batch.detail})",
        f"verifier parsers: {native_state().reason}",
    ]


pytest_plugins = ["tests.db_support", "tests.api_support"]
