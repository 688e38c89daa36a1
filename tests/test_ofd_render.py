"""OFD licences render in an independent OFD renderer: npm ofd.js@0.2.6 in headless Chromium.

scripts/test.sh fetches the package's self-contained bundle (``npm pack``) into
``.cache/ofdjs``; ``SEALTRUST_OFDJS`` points elsewhere. The screenshot must
show ink (text, QR) and the seal's red, the picture taken from the seal inside
the signature, as a viewer shows it.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from api.deployment import DEMO_DEPARTMENT
from api.issuance import issue_one
from tests.licence_corpus import TYPES, Licences, open_licences
from tests.support import chromium, require

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = Path(os.environ.get("SEALTRUST_OFDJS", ROOT / ".cache" / "ofdjs" / "ofd.umd.min.js"))

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>body{margin:0;background:#fff} #out div{margin:0 auto}</style>
<script src="%(bundle)s"></script></head><body><div id="out"></div>
<script>
const raw = atob("%(data)s"); const bytes = new Uint8Array(raw.length);
for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
ofd.parseOfdDocument({ofd: bytes.buffer,
  success(res) { const divs = ofd.renderOfd(%(width)d, res[0]);
    for (const d of divs) document.getElementById("out").appendChild(d);
    setTimeout(() => { document.title = "rendered"; }, 1500); },
  fail(err) { document.title = "failed: " + err; }});
</script></body></html>"""


@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    yield from open_licences(tmp_path_factory.mktemp("ofd-render") / "home")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require(BUNDLE.is_file(), f"ofd.js bundle not found at {BUNDLE} (scripts/test.sh fetches it)")
    with chromium(tmp_path_factory.mktemp("chromium-ofd"), window="1000,800",
                  extra=("--allow-file-access-from-files",), page_load_timeout=60) as driver:
        yield driver


def _render(browser: Any, data: bytes, tmp_path: Path) -> Image.Image:
    from selenium.webdriver.support.ui import WebDriverWait

    page = tmp_path / "view.html"
    page.write_text(PAGE % {"bundle": BUNDLE.as_uri(), "width": 900,
                            "data": base64.b64encode(data).decode()}, encoding="utf-8")
    browser.get(page.as_uri())
    WebDriverWait(browser, 60).until(lambda d: d.title in ("rendered",) or
                                     d.title.startswith("failed"))
    assert browser.title == "rendered", browser.title
    return Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")


@pytest.mark.parametrize("type_code", ["BL", "DL", "RIC"])
def test_our_ofd_licence_renders_with_text_and_red_seal(
        lic: Licences, browser: Any, tmp_path: Path, type_code: str) -> None:
    with lic.deployment.registry.session() as s:
        issued = issue_one(lic.deployment, s, type_code=type_code,
                           record=TYPES.get(type_code).example(5), department=DEMO_DEPARTMENT,
                           actor="test", file_format="ofd")
    image = _render(browser, issued.pdf, tmp_path)
    image.save(tmp_path / f"{type_code}.png")
    raw = image.tobytes()
    pixels = list(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))
    dark = sum(1 for r, g, b in pixels if r + g + b < 200)
    red = sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90)
    total = len(pixels)
    assert dark > total * 0.002, f"no ink: {dark} dark pixels of {total}"
    assert red > 300, f"no red seal: {red} red pixels"
