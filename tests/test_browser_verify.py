"""The verification page in a real browser: headless Chromium against ``sealtrust serve``.

The server runs in a subprocess on a free loopback port with a temporary
deployment; Selenium drives Debian's chromium/chromedriver by explicit path
(Selenium Manager never downloads anything). The window is phone-sized.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.deployment import Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.presentation import issue_presentation
from signing.types import builtin_types
from tests.support import chromium
from trust.qrimage import to_png
from trust.registry.lifecycle import LicenceStatus, change_status

pytestmark = pytest.mark.browser

SCREENSHOT = os.environ.get("SEALTRUST_SCREENSHOT")  # set to keep a phone-sized screenshot


@dataclass
class Site:
    url: str
    deployment: Deployment

    def licence(self, seed: int) -> str:
        record: dict[str, Any] = builtin_types().get("DL").example(seed)
        record["valid_from"] = (date.today() - timedelta(days=5)).isoformat()
        record["valid_until"] = (date.today() + timedelta(days=900)).isoformat()
        with self.deployment.registry.session() as session:
            issued = issue_one(self.deployment, session, type_code="DL", record=record,
                               department=self.deployment.config["demo_department"],
                               actor="test")
        return issued.licence_id

    def token(self, licence_id: str) -> str:
        with self.deployment.registry.session() as session:
            return issue_presentation(session, self.deployment.issuer_context(), licence_id,
                                      at=datetime.now(UTC)).token

    def revoke(self, licence_id: str) -> None:
        with self.deployment.registry.session() as session:
            change_status(session, licence_id, LicenceStatus.REVOKED, reason="browser test",
                          at=datetime.now(UTC), actor="test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url + "/health/live", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("server did not become ready")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser") / "home"
    init_deployment(root)
    port = _free_port()
    log = (root.parent / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--home", str(root), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT)
    deployment = Deployment(Home(root), load_config(Home(root)))
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, server)
        yield Site(url, deployment)
    finally:
        deployment.close()
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def _verdict(driver: Any) -> tuple[str, str]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    element = WebDriverWait(driver, 15).until(
        lambda d: d.find_element(By.ID, "verdict") if d.find_element(
            By.ID, "verdict").get_attribute("data-indication") else False)
    return element.get_attribute("data-indication"), driver.find_element(By.ID, "result").text


def _paste_and_verify(driver: Any, url: str, token: str) -> tuple[str, str]:
    from selenium.webdriver.common.by import By

    driver.get(url + "/verify?lang=zh")
    driver.find_element(By.CSS_SELECTOR, "button[data-tab=paste]").click()
    box = driver.find_element(By.ID, "token")
    box.clear()
    box.send_keys(token)
    driver.find_element(By.ID, "verify-text").click()
    return _verdict(driver)


def test_pasted_presentation_code_is_valid_with_masked_holder(browser: Any, site: Site,
                                                              tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    licence_id = site.licence(701)
    indication, text = _paste_and_verify(browser, site.url, site.token(licence_id))
    assert indication == "TOTAL_PASSED", text
    assert "核验通过" in text and licence_id in text
    holder = browser.find_element(By.CSS_SELECTOR, "dd[data-claim=holder_name]").text
    assert "*" in holder
    assert "剩余有效时间" in browser.find_element(By.ID, "countdown").text
    browser.find_element(By.ID, "lang").click()
    assert browser.find_element(By.ID, "verdict").text == "Valid"
    assert "checked live" in browser.find_element(By.ID, "freshness").text
    shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "verify.png"
    browser.set_window_size(390, 844)
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_revoked_licence_shows_the_failure(browser: Any, site: Site) -> None:
    licence_id = site.licence(702)
    token = site.token(licence_id)
    site.revoke(licence_id)
    indication, text = _paste_and_verify(browser, site.url, token)
    assert indication == "TOTAL_FAILED"
    assert "REVOKED" in text


def test_uploaded_qr_picture_is_read_and_verified(browser: Any, site: Site,
                                                  tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    picture = tmp_path / "qr.png"
    picture.write_bytes(to_png(site.token(site.licence(703)), box_size=6))
    browser.get(site.url + "/verify?lang=en")
    browser.find_element(By.CSS_SELECTOR, "button[data-tab=upload]").click()
    browser.find_element(By.ID, "image").send_keys(str(picture))
    browser.find_element(By.ID, "verify-image").click()
    indication, text = _verdict(browser)
    assert indication == "TOTAL_PASSED", text
    assert "Valid: the holder is presenting this licence" in text


def test_the_language_button_relabels_the_page_and_the_shown_verdict(browser: Any,
                                                                    site: Site) -> None:
    """page.js: the switch relabels every [data-i18n] element, the title and the result."""
    from selenium.webdriver.common.by import By

    indication, text = _paste_and_verify(browser, site.url, site.token(site.licence(706)))
    assert indication == "TOTAL_PASSED" and "核验通过" in text
    switch = browser.find_element(By.ID, "lang")
    assert switch.text == "EN" and browser.title == "亮证核验"
    switch.click()
    assert switch.text == "中文" and browser.title == "Licence verification"
    assert browser.find_element(By.CSS_SELECTOR, "button[data-tab=paste]").text == "Paste"
    assert "Valid" in _verdict(browser)[1]
    switch.click()
    assert browser.title == "亮证核验" and "核验通过" in _verdict(browser)[1]


def test_the_camera_button_starts_a_scan_or_says_there_is_no_camera(browser: Any,
                                                                    site: Site) -> None:
    """page.js's camera scan is wired: headless Chromium has no camera, so the hint says so."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(site.url + "/verify?lang=en")
    browser.find_element(By.CSS_SELECTOR, "button[data-tab=scan]").click()
    browser.find_element(By.ID, "start-camera").click()
    hint = WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "camera-hint").text or False)
    assert hint in {"Camera unavailable: paste the text or upload a picture.", "Scanning…"}


def test_garbage_text_is_a_format_failure(browser: Any, site: Site) -> None:
    indication, text = _paste_and_verify(browser, site.url, "LZ1:NOT-A-TOKEN")
    assert indication == "TOTAL_FAILED" and "FORMAT_FAILURE" in text


def _issue_file(site: Site, seed: int, file_format: str) -> bytes:
    record: dict[str, Any] = builtin_types().get("DL").example(seed)
    record["valid_from"] = (date.today() - timedelta(days=5)).isoformat()
    record["valid_until"] = (date.today() + timedelta(days=900)).isoformat()
    with site.deployment.registry.session() as session:
        return issue_one(site.deployment, session, type_code="DL", record=record,
                         department=site.deployment.config["demo_department"], actor="test",
                         file_format=file_format).pdf


@pytest.mark.parametrize(("file_format", "lang", "passed_word"),
                         [("ofd", "zh", "核验通过"), ("pdf", "en", "Valid")])
def test_uploaded_licence_file_is_verified_on_the_page(
        browser: Any, site: Site, tmp_path: Path, file_format: str, lang: str,
        passed_word: str) -> None:
    from selenium.webdriver.common.by import By

    path = tmp_path / f"licence.{file_format}"
    path.write_bytes(_issue_file(site, 704 if file_format == "ofd" else 705, file_format))
    browser.get(f"{site.url}/verify?lang={lang}")
    browser.find_element(By.CSS_SELECTOR, "button[data-tab=file]").click()
    browser.find_element(By.ID, "licence-file").send_keys(str(path))
    browser.find_element(By.ID, "verify-file").click()
    indication, text = _verdict(browser)
    assert indication == "TOTAL_PASSED", text
    assert passed_word in text and file_format.upper() in text
    checks = browser.find_element(By.ID, "checks").get_attribute("textContent")
    assert "integrity.signature" in checks and "licence_status" in checks


def test_tampered_licence_file_fails_on_the_page(browser: Any, site: Site,
                                                 tmp_path: Path) -> None:
    import io
    import zipfile

    from selenium.webdriver.common.by import By

    original = zipfile.ZipFile(io.BytesIO(_issue_file(site, 706, "ofd")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in original.infolist():
            data = original.read(info)
            if info.filename.endswith("Content.xml"):
                changed = data.replace("驾驶证".encode(), "驾驶正".encode(), 1)
                assert changed != data
                data = changed
            z.writestr(info, data)
    path = tmp_path / "tampered.ofd"
    path.write_bytes(out.getvalue())
    browser.get(f"{site.url}/verify?lang=zh")
    browser.find_element(By.CSS_SELECTOR, "button[data-tab=file]").click()
    browser.find_element(By.ID, "licence-file").send_keys(str(path))
    browser.find_element(By.ID, "verify-file").click()
    indication, text = _verdict(browser)
    assert indication == "TOTAL_FAILED" and "HASH_FAILURE" in text
