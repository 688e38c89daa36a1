"""The licence type catalogue (issue 14): >= 100 types as data, template layouts, issuance.

Every type loads, passes ``sealtrust types validate``, and issues as PDF and OFD from one
deployment; what lands on the page is read back by independent tools (poppler's pdftotext
and pdftoppm, zxing-cpp for the QR code, the OFD package's XML read with zipfile). A sample
is looked at pixel by pixel; values as long as the schema allows stay on the page.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from api.cli import cli
from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.render import render_licence
from signing.types import LicenceType, builtin_types
from signing.types._examples import today_cst
from signing.types._model import layout_validator
from signing.types._templates import TEMPLATES
from trust.licence_id import format_licence_id
from trust.registry.models import Licence
from trust.token.codec import decode_token

ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = ROOT / "signing" / "types" / "definitions"
TYPES = builtin_types()
CODES = sorted(TYPES.codes())
TEMPLATED = [t.code for t in TYPES if "template" in t.to_dict()["definition"]["layout"]]
MM = 72 / 25.4


def _template(licence_type: LicenceType) -> str | None:
    return licence_type.to_dict()["definition"]["layout"].get("template")


def test_the_catalogue_is_large_varied_and_consistent() -> None:
    assert len(TYPES) >= 100
    kinds = {t.holder_kind for t in TYPES}
    classes = {t.authority_class for t in TYPES}
    assert kinds == {"person", "organisation"}
    assert len(classes) >= 20
    assert len({t.name_zh for t in TYPES}) == len(TYPES)  # no type twice under two codes
    for t in TYPES:
        assert re.fullmatch(r"[A-Z][A-Z0-9]{1,5}", t.code)
        assert t.name_en and t.version >= 1
        fields = set(t.schema["properties"])
        # the field-naming conventions of the issue-14 contract
        if t.holder_kind == "person" and "id_number" in fields:
            assert t.holder_id_field is not None
        if t.holder_kind == "organisation" and "uscc" in fields:
            assert t.holder_id_field == "uscc", t.code
        for common in ("issue_date", "valid_from", "valid_until"):  # common names are dates
            assert common not in fields or t.label(common)["zh"], t.code


def test_generated_definitions_are_the_committed_ones() -> None:
    """The JSON files are the reviewed truth; the generator must reproduce them exactly."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_licence_types.py"),
                             "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _cli(*args: str, home: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["types", *args, "--home", str(home)])
    return result.exit_code, result.stdout, result.stderr


def test_types_validate_passes_on_every_type_and_list_names_each_code(tmp_path: Path) -> None:
    code, out, err = _cli("validate", "--examples", "5", "--json", home=tmp_path)
    assert code == 0, err
    rows = json.loads(out)["types"]
    assert {r["code"] for r in rows} == set(CODES)
    assert all(r["valid"] for r in rows)
    code, out, _ = _cli("list", "--json", home=tmp_path)
    listed = json.loads(out)
    assert code == 0 and sorted(r["code"] for r in listed) == CODES
    assert all({"version", "name", "holder_kind", "authority_class"} <= set(r) for r in listed)


@pytest.mark.parametrize("code", TEMPLATED)
def test_a_template_expands_to_a_valid_layout_inside_its_page(code: str) -> None:
    licence_type = TYPES.get(code)
    expanded = licence_type.to_dict()["layout"]
    assert list(layout_validator().iter_errors(expanded)) == []
    layout = licence_type.layout
    printed = [f.field for f in layout.fields if f.field]
    assert printed == [f if isinstance(f, str) else f["field"]
                       for f in licence_type.to_dict()["definition"]["layout"]["fields"]]
    geometry = TEMPLATES[_template(licence_type) or ""]
    for spec in layout.fields:
        assert spec.field is None or spec.label == licence_type.label(spec.field)["zh"]
        assert geometry.x0 <= spec.x_mm and spec.x_mm + (spec.width_mm or 0) <= geometry.x1 + 0.01
        assert geometry.top < spec.y_mm <= geometry.bottom_alone
    # the bottom of the last slot, with all its lines, is still inside the content area
    last = max(layout.fields, key=lambda s: s.y_mm)
    bottom = last.y_mm + (last.lines - 1) * last.size * 1.32 / MM
    assert bottom <= geometry.bottom_alone + 0.01


# -- issuance of every type, PDF and OFD, one deployment -------------------------------


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("catalogue") / "home"
    init_deployment(root)
    home = Home(root)
    dep = Deployment(home, load_config(home))
    yield dep
    dep.close()


def _pdf_text(data: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / "l.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", *args, str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def _ofd_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        pages = [n for n in package.namelist() if n.endswith("Content.xml") and "/Pages/" in n]
        assert pages
        xml = "".join(package.read(n).decode("utf-8") for n in pages)
    return "".join(re.findall(r"<ofd:TextCode[^>]*>([^<]*)</ofd:TextCode>", xml))


@pytest.mark.parametrize("code", CODES)
def test_every_type_issues_as_pdf_and_ofd_naming_its_holder(
        deployment: Deployment, code: str, tmp_path: Path) -> None:
    licence_type = TYPES.get(code)
    today = today_cst()  # the examples' "today": China Standard Time, not UTC (8 h apart)
    for index in range(40):  # examples issue licences valid now and for most of a year
        example = licence_type.example(index, seed=index % 3)
        if licence_type.validity is not None:
            assert date.fromisoformat(example[licence_type.validity.start]) < today
            end = example[licence_type.validity.end]
            assert end == "长期" or date.fromisoformat(end) > today + timedelta(days=300)
    record = licence_type.example(11)
    holder = licence_type.holder_name(record)
    with deployment.registry.session() as s:
        pdf = issue_one(deployment, s, type_code=code, record=record,
                        department=DEMO_DEPARTMENT, actor="test")
        ofd = issue_one(deployment, s, type_code=code, record=record,
                        department=DEMO_DEPARTMENT, actor="test", file_format="ofd")
        s.commit()
    assert pdf.pdf.startswith(b"%PDF-") and ofd.pdf.startswith(b"PK")
    assert holder in _pdf_text(pdf.pdf, tmp_path)
    assert holder in _ofd_text(ofd.pdf)
    with deployment.registry.session() as s:
        for issued in (pdf, ofd):
            row = s.get(Licence, issued.licence_id)
            assert row is not None and row.type_code == code
            assert row.type_version == licence_type.version


# -- pixels ------------------------------------------------------------------------------

SAMPLE = ["DPC", "RSP", "MC", "HHR", "RPC", "NCC", "FBL", "PDP", "BMC", "SCH"]


def _raster(data: bytes, tmp_path: Path, dpi: int) -> Image.Image:
    path = tmp_path / "p.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(path),
                    str(tmp_path / "page")], check=True, timeout=60)
    return Image.open(tmp_path / "page.png").convert("L")


def _words(data: bytes, tmp_path: Path) -> list[tuple[str, float, float, float, float]]:
    """(word, x0, y0, x1, y1) in points, from pdftotext's bounding boxes."""
    html = _pdf_text(data, tmp_path, "-bbox")
    return [(w, float(a), float(b), float(c), float(d)) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        html)]


@pytest.mark.parametrize("code", SAMPLE)
def test_sampled_types_are_legible_in_pixels(deployment: Deployment, code: str,
                                             tmp_path: Path) -> None:
    """The holder's name and a field value are drawn (ink where poppler places their words),
    the page is not blank, and the printed QR decodes from the pixels to this licence."""
    licence_type = TYPES.get(code)
    record = licence_type.example(3)
    with deployment.registry.session() as s:
        issued = issue_one(deployment, s, type_code=code, record=record,
                           department=DEMO_DEPARTMENT, actor="test")
        s.commit()
    dpi = 300 if _template(licence_type) == "id-card" else 150
    image = _raster(issued.pdf, tmp_path, dpi)
    width_pt = licence_type.layout.width_mm * MM
    scale = image.width / width_pt
    pixels = image.tobytes()
    assert sum(1 for v in pixels if v < 128) > 0.003 * len(pixels)  # not blank
    words = _words(issued.pdf, tmp_path)
    field = next(f.field for f in licence_type.layout.fields
                 if f.field and f.field != licence_type.holder_field and f.format == "text"
                 and str(record.get(f.field, "")).isascii() and record.get(f.field))
    for value in (licence_type.holder_name(record), str(record[field])):
        boxes = [w for w in words if w[0] and w[0] in value]
        assert boxes, (code, value)
        word, x0, y0, x1, y1 = max(boxes, key=lambda w: len(w[0]))
        assert 0 <= x0 < x1 <= width_pt and 0 <= y0 < y1 <= licence_type.layout.height_mm * MM
        crop = image.crop((int(x0 * scale), int(y0 * scale), int(x1 * scale) + 1,
                           int(y1 * scale) + 1))
        ink = sum(1 for v in crop.tobytes() if v < 140)
        assert ink > 0.04 * crop.width * crop.height, (code, word, "no ink under the word")
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert found, f"{code}: the QR code does not decode from the page's pixels"
    assert decode_token(found[0].text).claims.licence_id == issued.licence_id


def _longest_record(licence_type: LicenceType) -> dict[str, Any]:
    """A valid record whose free-text fields are as long as the schema allows."""
    record = licence_type.example(0)
    for name, prop in licence_type.schema["properties"].items():
        if prop.get("type") == "string" and "maxLength" in prop and "pattern" not in prop \
                and "format" not in prop:
            record[name] = "测" * int(prop["maxLength"])
    licence_type.validate(record)
    return record


# Types whose template has room for every value at its longest (crowded ones, such as
# RSP or MDL, cut their longest values with "…" rather than overflow).
WHOLE = {"MC", "HHR", "RPC", "SCH", "NCC", "BMC", "PAT", "FBL", "DPC"}


@pytest.mark.parametrize("code", ["DPC", "RSP", "MC", "HHR", "RPC", "FBL", "MDL", "SCH", "NCC",
                                  "BMC", "PAT", "TGC"])
def test_values_as_long_as_allowed_stay_on_the_page(code: str, tmp_path: Path) -> None:
    licence_type = TYPES.get(code)
    record = _longest_record(licence_type)
    now = datetime.now(UTC)
    licence_id = format_licence_id(code, "91350100M000100Y43", 1, now.date())
    pdf = render_licence(licence_type, record, licence_id, qr_payload="https://v.example/x",
                         seal_png=None, issuer_name="示例发证机关", issued_at=now)
    geometry = TEMPLATES[_template(licence_type) or ""]
    words = _words(pdf, tmp_path)
    long_words = [w for w in words if "测" in w[0]]
    printed = {f.field for f in licence_type.layout.fields}
    expected = sum(len(v) for k, v in record.items() if k in printed and set(str(v)) == {"测"})
    assert expected > 0
    if code in WHOLE:  # wrapped, maybe smaller, but whole: no value was cut with an ellipsis
        assert sum(w[0].count("测") for w in long_words) == expected
        assert not any("…" in w[0] for w in words)
    qr = licence_type.layout.qr
    for word, x0, y0, x1, y1 in long_words:
        # inside the content area the template reserves (0.5 mm tolerance for glyph boxes)
        assert geometry.x0 * MM - 2 <= x0 and x1 <= geometry.x1 * MM + 2, (word, x0, x1)
        assert y1 <= geometry.bottom_alone * MM + 2, (word, y1)
        assert not (x1 > qr.x_mm * MM and x0 < (qr.x_mm + qr.size_mm) * MM
                    and y1 > qr.y_mm * MM and y0 < (qr.y_mm + qr.size_mm) * MM), word


# -- refusals ----------------------------------------------------------------------------


def _home_type(home: Path, mutate_type: Any = None, mutate_schema: Any = None,
               source: str = "DPC", code: str = "DPX") -> None:
    types_dir = home / "types"
    types_dir.mkdir(parents=True, exist_ok=True)
    definition = json.loads((DEFINITIONS / f"{source}.type.json").read_text())
    schema = json.loads((DEFINITIONS / f"{source}.schema.json").read_text())
    definition["code"] = code
    if mutate_type:
        mutate_type(definition)
    if mutate_schema:
        mutate_schema(schema)
    (types_dir / f"{code}.type.json").write_text(json.dumps(definition, ensure_ascii=False))
    (types_dir / f"{code}.schema.json").write_text(json.dumps(schema, ensure_ascii=False))


@pytest.mark.parametrize(("mutate_type", "mutate_schema", "message"), [
    (lambda d: d["layout"].update(template="poster"), None, "bad type definition"),
    (lambda d: d["layout"]["fields"].append("favourite_colour"), None,
     "names field 'favourite_colour' that the schema does not define"),
    (lambda d: d["layout"].update(fields=d["layout"]["fields"] * 3), None,
     "do not fit the template"),
    (lambda d: d["layout"].update(x_mm=3), None, "Additional properties"),
    (lambda d: d.update(authority_class="ministry_of_magic"), None, "bad type definition"),
    (lambda d: d["labels"].pop("address"), None, "labels has no entry for field 'address'"),
    (None, lambda s: s["properties"]["address"].update(maxLenght=80),
     "record schema is not valid"),
    (None, lambda s: s["properties"]["id_number"].update(format="cn-resident-idd"),
     "format 'cn-resident-idd' is not one of"),
    (None, lambda s: s["properties"]["certificate_number"].update(pattern="(["),
     "is not a 'regex'"),
])
def test_a_bad_catalogue_entry_is_refused_with_a_clear_error(
        tmp_path: Path, mutate_type: Any, mutate_schema: Any, message: str) -> None:
    _home_type(tmp_path, mutate_type, mutate_schema)
    code, _, err = _cli("validate", "--json", home=tmp_path)
    assert code == 2
    assert "licence_type.definition" in err and "DPX" in err and message in err, err
    code, _, err = _cli("list", home=tmp_path)  # nothing uses a deployment with a bad type
    assert code == 2 and message in err


def test_a_deployment_type_from_a_template_is_data_only(tmp_path: Path) -> None:
    """A province adds a type with no code: names, labels, fields and a template."""
    _home_type(tmp_path, lambda d: d["layout"].update(template="certificate-a4",
                                                      title="残疾人证明"))
    code, out, err = _cli("validate", "DPX", "--json", home=tmp_path)
    assert code == 0, err
    assert json.loads(out)["types"] == [{"code": "DPX", "version": 1, "valid": True,
                                         "errors": []}]
    code, out, _ = _cli("preview", "DPX", "-o", str(tmp_path / "dpx.pdf"), "--json",
                        home=tmp_path)
    assert code == 0
    assert "残疾人证明" in _pdf_text((tmp_path / "dpx.pdf").read_bytes(), tmp_path)


# -- OFD pixels: an independent renderer (ofd.js in headless Chromium) ---------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.support import chromium, require
    from tests.test_ofd_render import BUNDLE

    require(BUNDLE.is_file(), f"ofd.js bundle not found at {BUNDLE} (scripts/test.sh fetches it)")
    with chromium(tmp_path_factory.mktemp("chromium-types"), window="1700,1300",
                  extra=("--allow-file-access-from-files",), page_load_timeout=60) as driver:
        yield driver


def _ofd_js(browser: Any, data: bytes, tmp_path: Path, width: int) -> Image.Image:
    """ofd.js's rendering of an OFD file, ``width`` pixels wide (the test_ofd_render page)."""
    import base64

    from selenium.webdriver.support.ui import WebDriverWait

    from tests.test_ofd_render import BUNDLE, PAGE

    page = tmp_path / "view.html"
    page.write_text(PAGE % {"bundle": BUNDLE.as_uri(), "width": width,
                            "data": base64.b64encode(data).decode()}, encoding="utf-8")
    browser.get(page.as_uri())
    WebDriverWait(browser, 60).until(lambda d: d.title == "rendered"
                                     or d.title.startswith("failed"))
    assert browser.title == "rendered", browser.title
    return Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")


@pytest.mark.browser
@pytest.mark.parametrize("code", ["DPC", "MC", "RPC", "FBL"])  # one type per template
def test_template_types_render_in_ofd_js_with_ink_seal_and_a_readable_qr(
        deployment: Deployment, browser: Any, code: str, tmp_path: Path) -> None:
    with deployment.registry.session() as s:
        issued = issue_one(deployment, s, type_code=code, record=TYPES.get(code).example(4),
                           department=DEMO_DEPARTMENT, actor="test", file_format="ofd")
        s.commit()
    portrait = _template(TYPES.get(code)) == "certificate-a4"
    image = _ofd_js(browser, issued.pdf, tmp_path, 900 if portrait else 1600)  # fits 1300 px
    image.save(tmp_path / f"{code}.png")
    box = Image.eval(image.convert("L"), lambda v: 255 - v).getbbox()  # the drawn page
    assert box is not None, "ofd.js drew nothing"
    page = image.crop(box)
    raw = page.tobytes()
    pixels = list(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))
    assert sum(1 for r, g, b in pixels if r + g + b < 200) > len(pixels) * 0.003, "no ink"
    assert sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90) > 300, "no red seal"
    # ofd.js draws a card ~5 px/mm (2.4 px a QR module): zxing needs it upscaled
    grey = image.convert("L")
    found = zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode) or \
        zxingcpp.read_barcodes(grey.resize((grey.width * 2, grey.height * 2), Image.LANCZOS),
                               formats=zxingcpp.BarcodeFormat.QRCode)
    assert found, f"{code}: no QR code readable in ofd.js's rendering"
    assert decode_token(found[0].text).claims.licence_id == issued.licence_id
