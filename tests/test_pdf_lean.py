"""The lean sealing path: taken for our own renderer's PDFs, judged by independent validators.

The lean path writes the signature revision by hand (signing/pdf/incremental.py)
after a strict read of reportlab's layout (signing/pdf/reportlab_pdf.py). These
tests check that it is really taken for licences, that stock pyHanko (RSA) and
pyHanko with gmssl (SM2) accept what it writes, that it writes what the pyHanko
path writes, and that anything else falls back to pyHanko or fails with a typed error.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader
from reportlab.pdfgen import canvas

from signing.pdf import (
    MalformedPdfError,
    PdfSealer,
    SealBinding,
    SealingError,
    SealPlacement,
    SealPlacementError,
    seal_pdf,
)
from signing.pdf.incremental import append_signature_revision
from signing.pdf.reportlab_pdf import read_reportlab_pdf
from signing.pdf.signer import seal_paths
from signing.render import render_licence, seal_box_pt
from signing.tsa import BuiltinTSA, InProcessTimeStamper
from signing.types import get_type
from tests.licence_corpus import Licences, open_licences
from tests.sign_certs import gmssl_signature_validator, pki, sample_pdf
from tests.support import require
from trust.errors import SealTrustError
from trust.indications import Indication
from trust.licence_id import format_licence_id
from verification import verify_pdf
from verification.extract import extract_facts
from verification.pdf.locate import locate

POLICY = "1.2.156.999.1.1"
OPAQUE_SEAL = b"\x30\x0b\x16\x02ES\x02\x01\x04\x16\x02V4"
HOLDER = "张三丰"


def _timestamper(alg: str) -> InProcessTimeStamper:
    p = pki(alg)
    return InProcessTimeStamper(BuiltinTSA(p.tsa.key, p.tsa.chain, POLICY, lambda: datetime.now(UTC)))


def _rendered() -> bytes:
    dl = get_type("DL")
    record = {**dl.example(0), "name": HOLDER}
    lid = format_licence_id("DL", "91350100M000100Y43", 7, date(2026, 1, 16))
    return render_licence(dl, record, lid, qr_payload="https://verify.example.cn/v/" + lid,
                          seal_png=None, issuer_name="北京市公安局公安交通管理局",
                          issued_at=datetime(2026, 1, 16, 2, tzinfo=UTC))


def _placement() -> SealPlacement:
    x1, y1, x2, y2 = seal_box_pt(get_type("DL"))
    return SealPlacement(page=0, x=x1, y=y1, width=x2 - x1, height=y2 - y1)


def _seal(alg: str, pdf: bytes, *, lean: bool = True, **kwargs: Any) -> bytes:
    p = pki(alg)
    kwargs.setdefault("seal", SealBinding(OPAQUE_SEAL, licence_id="L-1"))
    sealer = PdfSealer(p.signer.key, p.signer.chain, timestamper=_timestamper(alg), lean=lean)
    return sealer.seal(pdf, **kwargs)


def _paths(run: Any) -> tuple[dict[str, int], Any]:
    before = dict(seal_paths)
    result = run()
    return {k: seal_paths[k] - before.get(k, 0) for k in ("lean", "pyhanko")}, result


def _status(pdf: bytes, alg: str, index: int = 0) -> Any:
    root = x509.Certificate.load(pki(alg).root.cert)
    kw: dict[str, Any] = {"trust_roots": [root]}
    if alg == "sm2":
        kw["signature_validator"] = gmssl_signature_validator()
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[index]
    return validate_pdf_signature(sig, ValidationContext(**kw),
                                  ts_validation_context=ValidationContext(**kw))


def _last_revision(pdf: bytes) -> bytes:
    return pdf[pdf.rfind(b"%%EOF", 0, len(pdf) - 6) :]


# --- the lean path is taken, and its output is a normal PAdES signature ----------------------


def test_rendered_licence_takes_the_lean_path_and_validates_in_stock_pyhanko() -> None:
    pdf = _rendered()
    counts, sealed = _paths(lambda: _seal("rsa-2048", pdf, appearance=_placement(),
                                          reason="机动车驾驶证 L-1", location="北京"))
    assert counts == {"lean": 1, "pyhanko": 0}
    assert sealed.startswith(pdf) and sealed.count(b"%%EOF") == 2
    tail = _last_revision(sealed)
    # the revision the lean writer makes: page, catalog, form, field+widget, appearance, signature
    assert len(re.findall(rb"\d+ 0 obj", tail)) == 6
    assert b"pyHanko" not in sealed  # pyHanko rewrites /Info with its name; the lean path does not
    status = _status(sealed, "rsa-2048")
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.coverage.name == "ENTIRE_FILE" and status.modification_level.name == "NONE"
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    sig = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[0]
    assert sig.field_name == "Seal"
    assert sig.sig_object["/Filter"] == "/Adobe.PPKLite"
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.sig_object["/Reason"] == "机动车驾驶证 L-1"
    assert sig.sig_object["/Location"] == "北京"
    assert sig.self_reported_timestamp is not None


def test_sm2_lean_seal_validates_with_gmssl_and_in_our_fast_and_full_readers() -> None:
    counts, sealed = _paths(lambda: _seal("sm2", _rendered(), appearance=_placement()))
    assert counts == {"lean": 1, "pyhanko": 0}
    status = _status(sealed, "sm2")
    assert status.intact and status.valid and status.trusted and status.bottom_line
    located = locate(sealed)
    assert located is not None and located.field_name == "Seal" and located.revisions == 2
    fast = extract_facts(sealed, name="lean")
    full = extract_facts(sealed, name="lean", allow_fast=False)
    assert fast.parser == "fast"
    assert fast.without_parser() == full.without_parser()


def test_lean_and_pyhanko_paths_write_the_same_signature_structure() -> None:
    pdf = _rendered()
    counts, (lean, slow) = _paths(lambda: (
        _seal("rsa-2048", pdf, appearance=_placement(), reason="r", location="l"),
        _seal("rsa-2048", pdf, appearance=_placement(), reason="r", location="l", lean=False),
    ))
    assert counts == {"lean": 1, "pyhanko": 1}

    def shape(data: bytes) -> dict[str, Any]:
        reader = PdfFileReader(io.BytesIO(data))
        sig = reader.embedded_signatures[0]
        widget = reader.root["/AcroForm"]["/Fields"][0]
        page = reader.root["/Pages"]["/Kids"][0]
        return {
            "field": (widget["/FT"], widget["/T"], widget["/Subtype"], int(widget["/F"]),
                      [float(v) for v in widget["/Rect"]]),
            "annots": [a.get_object()["/T"] for a in page["/Annots"]],
            "sigflags": int(reader.root["/AcroForm"]["/SigFlags"]),
            "esic": reader.root["/Extensions"]["/ESIC"]["/ExtensionLevel"],
            "sig": {k: str(sig.sig_object[k]) for k in ("/Type", "/Filter", "/SubFilter",
                                                         "/Reason", "/Location")},
            "attrs": sorted(a["type"].dotted for a in sig.signer_info["signed_attrs"]),
            "unsigned": sorted(a["type"].dotted for a in sig.signer_info["unsigned_attrs"]),
        }

    assert shape(lean) == shape(slow)


def test_invisible_lean_seal_and_negative_page_index() -> None:
    counts, invisible = _paths(lambda: _seal("rsa-2048", sample_pdf()))
    assert counts == {"lean": 1, "pyhanko": 0}
    reader = PdfFileReader(io.BytesIO(invisible))
    widget = reader.root["/AcroForm"]["/Fields"][0]
    assert [float(v) for v in widget["/Rect"]] == [0, 0, 0, 0] and "/AP" not in widget
    assert _status(invisible, "rsa-2048").bottom_line

    placement = SealPlacement(page=-1, x=10, y=10, width=50, height=50)
    counts, last = _paths(lambda: _seal("sm2", sample_pdf(3), appearance=placement))
    assert counts == {"lean": 1, "pyhanko": 0}
    kids = PdfFileReader(io.BytesIO(last)).root["/Pages"]["/Kids"]
    assert "/Annots" not in kids[0] and "/Annots" not in kids[1]
    assert [float(v) for v in kids[2]["/Annots"][0]["/Rect"]] == [10, 10, 60, 60]
    assert _status(last, "sm2").bottom_line


def test_lean_sealed_licence_still_renders_and_extracts(tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    require(pdftoppm is not None, "poppler-utils (pdftoppm) not installed")
    sealed = _seal("sm2", _rendered(), appearance=_placement())
    (tmp_path / "sealed.pdf").write_bytes(sealed)
    subprocess.run([pdftoppm, "-r", "60", "-png", "-singlefile", tmp_path / "sealed.pdf",
                    tmp_path / "page"], check=True)
    with Image.open(tmp_path / "page.png") as page:
        assert page.convert("L").getextrema()[0] < 100  # something dark was drawn
    assert HOLDER in PdfReader(io.BytesIO(sealed)).pages[0].extract_text()


# --- issuance: single signatures lean, the second signature of a dual licence via pyHanko -----


@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Licences]:
    yield from open_licences(tmp_path_factory.mktemp("lean") / "home")


@pytest.mark.parametrize(("alg", "lean", "pyhanko"), [("sm2", 1, 0), ("rsa", 1, 0),
                                                      ("sm2+rsa", 1, 1)])
def test_issued_licences_take_the_lean_path_and_pass_our_verifier(
    lic: Licences, alg: str, lean: int, pyhanko: int
) -> None:
    counts, pdf = _paths(lambda: lic.issue(alg, alg, number=len(lic.pdfs) + 1))
    assert counts == {"lean": lean, "pyhanko": pyhanko}
    report = verify_pdf(pdf, lic.online(), name=alg)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert len(report.signatures) == 1 + pyhanko


# --- everything else falls back to pyHanko ---------------------------------------------------


def _foreign_producer() -> bytes:
    return sample_pdf().replace(b"ReportLab Generated", b"SomeOther Generated", 1)  # same length


def _with_form() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.acroForm.textfield(name="holder", x=72, y=700)
    c.showPage()
    c.save()
    return buf.getvalue()


def _two_revisions() -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(sample_pdf()))
    writer.root["/PageLayout"] = writer.root["/PageMode"]
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _with_annotation() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.linkURL("https://example.cn", (72, 700, 200, 720))
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.mark.parametrize("make", [_foreign_producer, _with_form, _two_revisions, _with_annotation])
def test_other_pdfs_fall_back_to_pyhanko_and_validate(make: Any) -> None:
    pdf = make()
    assert read_reportlab_pdf(pdf, 0) is None
    counts, sealed = _paths(lambda: _seal("rsa-2048", pdf))
    assert counts == {"lean": 0, "pyhanko": 1}
    assert _status(sealed, "rsa-2048").bottom_line


def test_second_signature_and_seal_picture_fall_back_to_pyhanko() -> None:
    counts, once = _paths(lambda: _seal("sm2", _rendered(), appearance=_placement()))
    assert counts == {"lean": 1, "pyhanko": 0}
    counts, twice = _paths(lambda: _seal("rsa-2048", once, field_name="Seal2"))
    assert counts == {"lean": 0, "pyhanko": 1}
    assert _status(twice, "sm2", 0).bottom_line and _status(twice, "rsa-2048", 1).bottom_line
    buf = io.BytesIO()
    Image.new("RGBA", (32, 32), (220, 0, 0, 255)).save(buf, format="PNG")
    picture = SealPlacement(page=0, x=10, y=10, width=40, height=40, image=buf.getvalue())
    counts, _ = _paths(lambda: _seal("rsa-2048", _rendered(), appearance=picture))
    assert counts == {"lean": 0, "pyhanko": 1}
    counts, _ = _paths(lambda: _seal("rsa-2048", sample_pdf(), field_name="Seal.one"))
    assert counts == {"lean": 0, "pyhanko": 1}


def test_encrypted_reportlab_pdf_is_refused_as_before() -> None:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, encrypt="secret")
    c.drawString(72, 700, "encrypted")
    c.showPage()
    c.save()
    assert read_reportlab_pdf(buf.getvalue(), 0) is None  # /Encrypt in the trailer
    before = seal_paths["pyhanko"]
    with pytest.raises(MalformedPdfError):
        _seal("rsa-2048", buf.getvalue())
    assert seal_paths["pyhanko"] == before + 1


# --- odd input: typed errors, never a crash --------------------------------------------------


def test_missing_page_is_a_placement_error_on_either_path() -> None:
    with pytest.raises(SealPlacementError):
        _seal("sm2", _rendered(), appearance=SealPlacement(page=1, x=10, y=10, width=5, height=5))


@pytest.mark.parametrize("cut", [20, 200, 2000, 50_000])
def test_truncated_rendered_pdf_is_a_typed_error(cut: int) -> None:
    pdf = _rendered()
    with pytest.raises(MalformedPdfError):
        _seal("rsa-2048", pdf[: len(pdf) - cut])


def test_missing_final_newline_is_left_to_pyhanko() -> None:
    pdf = _rendered()[:-1]
    assert read_reportlab_pdf(pdf, 0) is None
    counts, sealed = _paths(lambda: _seal("rsa-2048", pdf))
    assert counts == {"lean": 0, "pyhanko": 1} and _status(sealed, "rsa-2048").bottom_line


def test_too_little_reserved_space_is_a_sealing_error() -> None:
    pdf = sample_pdf()
    layout = read_reportlab_pdf(pdf, 0)
    assert layout is not None
    revision = append_signature_revision(pdf, layout, field_name="Seal", rect=None,
                                         contents_hex_digits=16, signed_at=datetime.now(UTC))
    with pytest.raises(SealingError):
        revision.fill(bytes(9))
    assert revision.fill(bytes(8)).count(b"<" + b"0" * 16 + b">") == 1


def _structure_positions(pdf: bytes) -> list[int]:
    """Offsets inside what the lean reader parses: header, catalog, page tree, page, xref, trailer."""
    spans = [(0, 80), (pdf.rindex(b"xref"), len(pdf))]
    for m in re.finditer(rb"\d+ 0 obj\n<<\n(?:/PageMode|/Count|/Contents)", pdf):
        spans.append((m.start(), pdf.index(b"endobj", m.start()) + 7))
    return [i for a, b in spans for i in range(a, b)]


PLAIN = sample_pdf()
POSITIONS = _structure_positions(PLAIN)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(POSITIONS), st.binary(min_size=1, max_size=6))
def test_mutated_structure_seals_validly_or_fails_cleanly(pos: int, patch: bytes) -> None:
    pdf = bytearray(PLAIN)
    pdf[pos : pos + len(patch)] = patch
    """Every path is checked: what the strict reader accepts must seal; whatever seals (lean or
    fallback writer) must come out intact and valid in pyHanko; the rest is a typed error."""
    lean = read_reportlab_pdf(bytes(pdf), 0) is not None
    p = pki("rsa-2048")
    try:
        sealed = seal_pdf(bytes(pdf), p.signer.key, p.signer.chain, timestamper=None)
    except SealTrustError as exc:
        assert not lean, f"the lean reader accepted it, but sealing failed: {exc}"  # noqa: PT017
        return
    assert sealed.startswith(bytes(pdf))
    status = _status(sealed, "rsa-2048")
    assert status.intact and status.valid, (lean, status.pretty_print_details())


def test_a_direct_pages_object_is_a_typed_refusal_not_a_pyhanko_assert() -> None:
    """Found by the property test above: ``/Pages 6    `` (a number where the catalog needs an
    indirect reference) made pyHanko's incremental writer fail an ``assert``."""
    match = re.search(rb"/Pages (\d+) 0 R", PLAIN)
    assert match is not None
    pdf = PLAIN.replace(match[0], b"/Pages " + match[1] + b"    ", 1)
    assert read_reportlab_pdf(pdf, 0) is None  # the fallback writer's path
    p = pki("rsa-2048")
    with pytest.raises(MalformedPdfError, match="/Pages is not an indirect reference"):
        seal_pdf(pdf, p.signer.key, p.signer.chain, timestamper=None)
