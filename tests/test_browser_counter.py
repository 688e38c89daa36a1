"""The counter page (一证通办) in headless Chromium against ``sealtrust serve``.

The holder's side runs over HTTP (holder session, consent view, grant); the
counter's side is the page: credential, service, the grant code pasted or a
picture of its QR uploaded; the page must show each licence's verdict, the
filled form and the missing licences, in Chinese and in English.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.auth import Role, create_client
from api.deployment import Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from tests.counter_support import SERVICE, person_records, write_service
from tests.support import chromium
from tests.test_browser_verify import _free_port, _wait_ready

pytestmark = pytest.mark.browser


@dataclass
class Site:
    url: str
    deployment: Deployment
    tokens: dict[str, str]

    def call(self, method: str, path: str, who: str, body: Any = None,
             session: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}",
                   "content-type": "application/json"}
        if session:
            headers["X-Holder-Session"] = session
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def grant(self, seed: int, types: tuple[str, ...] = ("RIC", "DL", "SSC")
              ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        records = person_records(seed)
        with self.deployment.registry.session() as session:
            for code in types:
                issue_one(self.deployment, session, type_code=code, record=records[code],
                          department=self.deployment.config["demo_department"], actor="test")
        opened = self.call("POST", "/v1/holder/sessions", "holder_app",
                           {"holder_id": records["RIC"]["id_number"]})["session"]
        counter = self.tokens["verifier"].split("_", 2)[1]
        view = self.call("GET", f"/v1/services/{SERVICE}/consent?verifier_id={counter}",
                         "holder_app", session=opened)
        granted = self.call("POST", f"/v1/services/{SERVICE}/grants", "holder_app",
                            {"verifier_id": counter, "consent": view["consent"]},
                            session=opened)
        return granted, records


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser-counter") / "home"
    init_deployment(root)
    write_service(root)
    deployment = Deployment(Home(root), load_config(Home(root)))
    tokens: dict[str, str] = {}
    with deployment.registry.session() as s:
        for who, role in (("verifier", Role.VERIFIER), ("holder_app", Role.HOLDER_APP)):
            _, tokens[who] = create_client(s, who, frozenset({role}))
    port = _free_port()
    log = (root.parent / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--home", str(root), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, server)
        yield Site(url, deployment, tokens)
    finally:
        deployment.close()
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def _open(driver: Any, site: Site, lang: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site.url}/counter?lang={lang}&service={SERVICE}")
    box = driver.find_element(By.ID, "credential")
    box.clear()
    box.send_keys(site.tokens["verifier"])


def _wait_result(driver: Any) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "status").text.strip())
    return str(driver.find_element(By.ID, "result").text)


def _paste(driver: Any, code: str) -> str:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.ID, "grant")
    box.clear()
    box.send_keys(code)
    driver.find_element(By.ID, "fill-text").click()
    return _wait_result(driver)


def _verdicts(driver: Any) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    return {li.get_attribute("data-licence"): li.get_attribute("data-indication")
            for li in driver.find_elements(By.CSS_SELECTOR, "#licences li")}


def _form(driver: Any) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    return {tr.get_attribute("data-field"): tr.find_element(By.CSS_SELECTOR, "td.value").text
            for tr in driver.find_elements(By.CSS_SELECTOR, "#form tr")}


def test_pasted_code_shows_verified_licences_and_the_filled_form(browser: Any, site: Site,
                                                                 tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    granted, records = site.grant(8101)
    _open(browser, site, "zh")
    assert browser.find_element(By.ID, "counter-id").text == site.tokens["verifier"].split(
        "_", 2)[1]
    text = _paste(browser, granted["code"])
    assert set(_verdicts(browser).values()) == {"TOTAL_PASSED"}, text
    assert len(_verdicts(browser)) == 3
    assert "核验通过" in text and "申请人姓名" in text
    form = _form(browser)
    assert form["applicant_name"].startswith(records["RIC"]["name"])
    assert form["vehicle_class"].startswith(records["DL"]["vehicle_class"])
    assert records["RIC"]["address"] not in text  # outside the scope: never on the page
    assert browser.find_element(By.ID, "missing").get_attribute("data-missing") == ""
    browser.find_element(By.ID, "lang").click()
    english = browser.find_element(By.ID, "result").text
    assert "Applicant name" in english and "Valid" in english
    shot = Path(os.environ.get("SEALTRUST_SCREENSHOT_COUNTER") or tmp_path / "counter.png")
    browser.set_window_size(390, 1400)
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:4] == b"\x89PNG"
    # the same code again: refused, and the page says why
    assert "grant.redeemed" in _paste(browser, granted["code"])


def test_a_picture_of_the_code_is_read_and_missing_licences_are_named(
        browser: Any, site: Site, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    granted, records = site.grant(8102, types=("RIC",))
    picture = tmp_path / "grant.png"
    picture.write_bytes(base64.b64decode(granted["png"].split(",", 1)[1]))
    _open(browser, site, "en")
    browser.find_element(By.CSS_SELECTOR, "button[data-tab=upload]").click()
    browser.find_element(By.ID, "image").send_keys(str(picture))
    browser.find_element(By.ID, "fill-image").click()
    text = _wait_result(browser)
    assert list(_verdicts(browser).values()) == ["TOTAL_PASSED"], text
    missing = browser.find_element(By.ID, "missing")
    assert sorted(missing.get_attribute("data-missing").split(",")) == ["DL", "SSC"]
    assert "Missing licences" in missing.text and "(DL)" in missing.text
    form = _form(browser)
    assert form["applicant_name"].startswith(records["RIC"]["name"])
    assert "enter by hand" in form["vehicle_class"]


def test_a_wrong_credential_is_shown_not_hidden(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    granted, _ = site.grant(8103)
    browser.get(f"{site.url}/counter?lang=zh&service={SERVICE}")
    box = browser.find_element(By.ID, "credential")
    box.clear()
    box.send_keys("st_nobody_secret")
    assert "auth.unauthenticated" in _paste(browser, granted["code"])
    assert _verdicts(browser) == {}
    with pytest.raises(urllib.error.HTTPError):  # not a counter
        site.call("POST", f"/v1/services/{SERVICE}/fill", "holder_app",
                  {"grant": granted["code"]})
    # still unspent: the real counter redeems it
    filled = site.call("POST", f"/v1/services/{SERVICE}/fill", "verifier",
                       {"grant": granted["code"]})
    assert filled["missing"] == [] and filled["form"]["applicant_name"]
