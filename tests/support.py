"""Helpers for tests: prerequisite gating, headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# The hand-placed layouts and one type of each layout template: tests that exercise a code
# path per type (rendering, issuance, verification) run on these; tests/test_type_catalogue.py
# issues every type of the catalogue.
TYPE_SAMPLE = ("APR", "BL", "DL", "RIC", "SSC", "VL", "DPC", "MC", "RPC", "FBL")
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI, SEALTRUST_REQUIRE_ALL=1) when a prerequisite is missing."""
    if condition:
        return
    if os.environ.get("SEALTRUST_REQUIRE_ALL") == "1":
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)


@contextmanager
def chromium(profile: Path, *, window: str = "390,844", extra: tuple[str, ...] = (),
             page_load_timeout: float = 30) -> Iterator[Any]:
    """Debian's headless Chromium through Selenium, with the flags this closed network needs
    (no background networking, no component updates); required in CI, skipped locally."""
    require(CHROMIUM.exists() and CHROMEDRIVER.exists(),
            "Debian chromium and chromium-driver are not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        require(False, "selenium is not installed (pip install .[test])")
        raise
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--window-size={window}",
                 f"--user-data-dir={profile}", *extra):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(page_load_timeout)
    try:
        yield driver
    finally:
        driver.quit()
