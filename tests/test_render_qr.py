"""The printed QR symbol: fixed mask for tokens, bit-packed image mask, decoded from pixels.

The mask penalty is computed by the ``qrcode`` package (an independent
implementation of ISO/IEC 18004's evaluation), the symbol by zxing-cpp, the
pixels by poppler; none of them is our code.
"""

from __future__ import annotations

import io
import random
import statistics
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from qrcode import util as qr_util

from signing.render._qr import TOKEN_MASK, _packed_rows, qr_matrix, qr_operators
from signing.render.errors import RenderInputError
from tests.test_render import poppler, render
from trust.token import base45

_COSE_HEAD = bytes.fromhex("d28451a2013a00010000044808")  # tag 18, array(4), protected header


def _token(rng: random.Random, body_bytes: int) -> str:
    return "LZ1:" + base45.encode(_COSE_HEAD + rng.randbytes(body_bytes))


def _modules(payload: str, mask: int | None) -> list[list[bool]]:
    options: dict[str, object] = {"ec_level": "M"}
    if mask is not None:
        options["data_mask"] = mask
    barcode = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, **options)
    view = memoryview(barcode.to_image(scale=1, add_quiet_zones=False))  # type: ignore[arg-type]
    n = view.shape[0] if view.shape else 0
    data = view.tobytes()
    return [[data[r * n + c] == 0 for c in range(n)] for r in range(n)]


def test_tokens_get_the_fixed_mask_and_other_payloads_the_searched_one() -> None:
    token = _token(random.Random(1), 220)
    fixed = [[v == 0 for v in row] for row in qr_matrix(token)]
    assert fixed == _modules(token, TOKEN_MASK)
    url = "https://verify.example.cn/v/L1-DL-11330100MB0000001R-20261205-00000002-D"
    assert [[v == 0 for v in row] for row in qr_matrix(url)] == _modules(url, None)


def test_fixed_mask_scores_close_to_the_best_of_eight_on_token_payloads() -> None:
    rng = random.Random(20261204)
    ratios = []
    for _ in range(40):
        token = _token(rng, rng.randint(180, 270))  # presentation to grant-carrying sizes
        penalties = [qr_util.lost_point(_modules(token, mask)) for mask in range(8)]
        ratios.append(penalties[TOKEN_MASK] / min(penalties))
    assert max(ratios) <= 1.35, ratios
    assert statistics.mean(ratios) <= 1.15, ratios


def test_packed_rows_unpack_to_the_module_matrix() -> None:
    rows = qr_matrix(_token(random.Random(3), 200))
    n = len(rows)
    packed = _packed_rows(rows)
    width = (n + 7) // 8
    assert len(packed) == n * width
    for r, row in enumerate(rows):
        bits = "".join(f"{b:08b}" for b in packed[r * width : (r + 1) * width])
        assert bits[:n] == "".join("0" if v == 0 else "1" for v in row)
        assert set(bits[n:]) <= {"1"}  # padding is light


def test_operators_are_one_inline_image_mask_in_a_white_square() -> None:
    token = _token(random.Random(4), 200)
    ops = qr_operators(token, 10, 20, 80)
    n = len(qr_matrix(token))
    assert ops.startswith("q 1 1 1 rg 10.000 20.000 80.000 80.000 re f\n0 0 0 rg ")
    assert f"BI /W {n} /H {n} /IM true /BPC 1 /F /AHx ID\n" in ops
    assert ops.endswith(">\nEI Q")


@pytest.mark.parametrize("payload", ["", "x" * 2001, "证照", "a\nb"])
def test_unusable_payloads_are_refused(payload: str) -> None:
    with pytest.raises(RenderInputError):
        qr_matrix(payload)


@pytest.mark.parametrize(("code", "dpi"), [("RIC", 300), ("DL", 300), ("BL", 150), ("APR", 150)])
def test_a_token_printed_on_the_page_decodes_from_poppler_pixels(
    code: str, dpi: int, tmp_path: Path
) -> None:
    token = _token(random.Random(dpi + len(code)), 260)  # ~420 characters: a long token
    pdf = render(code, 1, qr_payload=token)
    result = poppler("pdftoppm", "-r", str(dpi), "-png", data=pdf, tmp_path=tmp_path)
    image = Image.open(io.BytesIO(result.stdout))
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [c.text for c in codes] == [token]
