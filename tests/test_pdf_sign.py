"""PDF sealing, judged by independent validators.

RSA: stock pyHanko with our RSA root as the only trust anchor, and
``openssl cms -verify``. SM2: pyHanko with a signature validator built on
gmssl (tests/sign_certs.py), so neither verdict runs through trust.sm2.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, x509
from cryptography.hazmat.primitives import hashes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from signing.pdf import (
    SEAL_ATTR_OID,
    SES_SIGNATURE_ATTR_OID,
    CertificateChainError,
    FieldInUseError,
    MalformedPdfError,
    PdfSealer,
    SealBinding,
    SealBindingError,
    SealPlacement,
    SealPlacementError,
    seal_pdf,
)
from signing.pdf.signer import KeySigner
from signing.tsa import BuiltinTSA, InProcessTimeStamper, TimestampError
from tests.sign_certs import gmssl_signature_validator, pki, sample_pdf, to_pem
from tests.support import require
from trust.errors import SealTrustError
from trust.keys import SoftwareKey

POLICY = "1.2.156.999.1.1"
# An opaque stand-in for a GB/T 38540 SESeal (trust/seal builds the real one).
OPAQUE_SEAL = b"\x30\x0b\x16\x02ES\x02\x01\x04\x16\x02V4"


def _now() -> datetime:
    return datetime.now(UTC)


def _timestamper(alg: str) -> InProcessTimeStamper:
    p = pki(alg)
    return InProcessTimeStamper(BuiltinTSA(p.tsa.key, p.tsa.chain, POLICY, _now))


_TIMESTAMPERS: dict[str, InProcessTimeStamper] = {}


def _ts(alg: str) -> InProcessTimeStamper:
    if alg not in _TIMESTAMPERS:
        _TIMESTAMPERS[alg] = _timestamper(alg)
    return _TIMESTAMPERS[alg]


def _seal(alg: str, pdf: bytes | None = None, **kwargs: Any) -> bytes:
    p = pki(alg)
    kwargs.setdefault("timestamper", _ts(alg))
    return seal_pdf(sample_pdf() if pdf is None else pdf, p.signer.key, p.signer.chain, **kwargs)


def _contexts(alg: str, root_alg: str | None = None) -> tuple[dict[str, Any], Any]:
    root = x509.Certificate.load(pki(root_alg or alg).root.cert)
    validator = gmssl_signature_validator() if alg == "sm2" else None
    kw: dict[str, Any] = {"trust_roots": [root]}
    if validator is not None:
        kw["signature_validator"] = validator
    return kw, validator


def _validate_counting(pdf: bytes, alg: str, index: int = 0, root_alg: str | None = None) -> tuple[Any, int]:
    """pyHanko's status, and how many SM2 checks gmssl made for it."""
    kw, validator = _contexts(alg, root_alg)
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[index]
    status = validate_pdf_signature(
        sig, ValidationContext(**kw), ts_validation_context=ValidationContext(**kw)
    )
    return status, validator.sm2_checks if validator else 0


def _validate(pdf: bytes, alg: str, index: int = 0, root_alg: str | None = None) -> Any:
    return _validate_counting(pdf, alg, index, root_alg)[0]


def _signer_info(pdf: bytes, index: int = 0) -> cms.SignerInfo:
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[index]
    return sig.signer_info


def _signed_attrs(pdf: bytes, index: int = 0) -> dict[str, Any]:
    return {a["type"].dotted: a["values"] for a in _signer_info(pdf, index)["signed_attrs"]}


# --- interoperability -----------------------------------------------------------------------


def test_rsa_sealed_pdf_is_intact_valid_trusted_in_stock_pyhanko() -> None:
    sealed = _seal("rsa-2048")
    status = _validate(sealed, "rsa-2048")
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.bottom_line
    assert status.md_algorithm == "sha256"
    assert status.coverage.name == "ENTIRE_FILE"
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted
    # The CMS carries the signer chain (leaf + root).
    sig = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[0]
    carried = {c.chosen.dump() for c in sig.signed_data["certificates"]}
    assert set(pki("rsa-2048").signer.chain) <= carried


def test_ecdsa_p256_sealed_pdf_validates_in_stock_pyhanko() -> None:
    status = _validate(_seal("ecdsa-p256"), "ecdsa-p256")
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.pkcs7_signature_mechanism == "sha256_ecdsa"
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted


def test_rsa_seal_untrusted_under_another_root() -> None:
    status = _validate(_seal("rsa-2048"), "rsa-2048", root_alg="rsa-3072")
    assert status.intact and status.valid and not status.trusted


def test_sm2_sealed_pdf_validates_in_pyhanko_with_gmssl() -> None:
    status, sm2_checks = _validate_counting(_seal("sm2"), "sm2")
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.bottom_line
    assert status.md_algorithm == "sm3"
    assert status.pkcs7_signature_mechanism == "sm2_sm3"
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted
    # CMS signature, signer certificate, TSA signature, TSA certificate: all via gmssl.
    assert sm2_checks >= 4


def test_sm2_tampered_document_is_not_intact() -> None:
    sealed = bytearray(_seal("sm2"))
    pos = sealed.index(b"ReportLab")  # in the /Info dictionary, inside the signed range
    sealed[pos] ^= 0x01
    status = _validate(bytes(sealed), "sm2")
    assert not status.intact
    assert not status.bottom_line


def test_sm2_forged_signature_rejected_by_gmssl() -> None:
    # The signer key is replaced by another SM2 key with the same certificate:
    # the digest is right but gmssl must reject the signature.
    p = pki("sm2")

    class Impostor:
        algorithm = "sm2"

        def __init__(self) -> None:
            self._other = SoftwareKey.generate("sm2")

        def public_key_der(self) -> bytes:
            return p.signer.key.public_key_der()

        def sign(self, message: bytes) -> bytes:
            return self._other.sign(message)

    forged = seal_pdf(sample_pdf(), Impostor(), p.signer.chain, timestamper=None)
    status = _validate(forged, "sm2")
    assert status.intact and not status.valid


def test_openssl_cms_verifies_rsa_signature(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    require(openssl is not None, "openssl CLI not installed")
    sealed = _seal("rsa-2048")
    sig = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[0]
    start1, len1, start2, len2 = (int(v) for v in sig.sig_object["/ByteRange"])
    (tmp_path / "content.bin").write_bytes(sealed[start1 : start1 + len1] + sealed[start2 : start2 + len2])
    content_info = cms.ContentInfo({"content_type": "signed_data", "content": sig.signed_data})
    (tmp_path / "sig.der").write_bytes(content_info.dump())
    (tmp_path / "root.pem").write_text(to_pem(pki("rsa-2048").root.cert))
    cmd = [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.der",
           "-content", tmp_path / "content.bin", "-CAfile", tmp_path / "root.pem", "-purpose", "any",
           "-out", "/dev/null"]
    ok = subprocess.run(cmd, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "content.bin").write_bytes(b"x" + (tmp_path / "content.bin").read_bytes()[1:])
    assert subprocess.run(cmd, capture_output=True).returncode != 0


def test_dual_signature_sm2_then_rsa_both_validate() -> None:
    once = _seal("sm2", field_name="SealSM2")
    twice = _seal("rsa-2048", once, field_name="SealRSA")
    assert twice.startswith(once)  # incremental: the SM2 revision is untouched
    sm2_status = _validate(twice, "sm2", index=0)
    rsa_status = _validate(twice, "rsa-2048", index=1)
    assert sm2_status.bottom_line and rsa_status.bottom_line
    assert sm2_status.coverage.name == "ENTIRE_REVISION"
    assert sm2_status.docmdp_ok
    assert rsa_status.coverage.name == "ENTIRE_FILE"


def test_async_seal_inside_running_loop() -> None:
    p = pki("rsa-2048")
    sealer = PdfSealer(p.signer.key, p.signer.chain, timestamper=None)

    async def main() -> bytes:
        return await sealer.async_seal(sample_pdf())

    assert _validate(asyncio.run(main()), "rsa-2048").bottom_line


@pytest.mark.parametrize("alg", ["sm2", "rsa"])
def test_demo_pki_issuer_and_tsa_certificates_validate(alg: str) -> None:
    """The project's demo PKI (trust/pki) profiles work end to end in pyHanko."""
    from trust.pki import build_demo_pki

    demo = build_demo_pki(b"pdf-sign test", _now())
    tsa_chain = [c.der for c in demo.chain(f"{alg}-tsa")]
    timestamper = InProcessTimeStamper(BuiltinTSA(demo.key(f"{alg}-tsa"), tsa_chain, POLICY, _now))
    sealed = seal_pdf(
        sample_pdf(),
        demo.key(f"{alg}-issuer"),
        [c.der for c in demo.chain(f"{alg}-issuer")],
        timestamper=timestamper,
    )
    root = x509.Certificate.load(demo.certificate(f"{alg}-root").der)
    kw: dict[str, Any] = {"trust_roots": [root]}
    if alg == "sm2":
        kw["signature_validator"] = gmssl_signature_validator()
    sig = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[0]
    status = validate_pdf_signature(sig, ValidationContext(**kw), ts_validation_context=ValidationContext(**kw))
    assert status.bottom_line
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted


# --- seal binding ----------------------------------------------------------------------------


def _signed_digest(pdf: bytes, md: str) -> bytes:
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    start1, len1, start2, len2 = (int(v) for v in sig.sig_object["/ByteRange"])
    h = hashes.Hash(hashes.SM3() if md == "sm3" else hashes.SHA256())
    h.update(pdf[start1 : start1 + len1] + pdf[start2 : start2 + len2])
    return h.finalize()


@pytest.mark.parametrize("alg", ["sm2", "rsa-2048"])
def test_seal_and_ses_signature_ride_as_signed_attributes(alg: str) -> None:
    seen: list[tuple[bytes, str]] = []

    def ses_signature(digest: bytes, md: str) -> bytes:
        seen.append((digest, md))
        return b"\x30\x22\x04\x20" + digest  # opaque: SEQUENCE { OCTET STRING dataHash }

    sealed = _seal(alg, seal=SealBinding(OPAQUE_SEAL, ses_signature=ses_signature))
    attrs = _signed_attrs(sealed)
    assert [v.dump() for v in attrs[SEAL_ATTR_OID]] == [OPAQUE_SEAL]
    md = "sm3" if alg == "sm2" else "sha256"
    digest = _signed_digest(sealed, md)
    assert seen == [(digest, md)]
    assert [v.dump() for v in attrs[SES_SIGNATURE_ATTR_OID]] == [b"\x30\x22\x04\x20" + digest]
    # The attributes are under the CMS signature: the signature still validates.
    assert _validate(sealed, alg).bottom_line


def test_seal_attribute_is_covered_by_the_signature() -> None:
    sealed = bytearray(_seal("rsa-2048", seal=SealBinding(OPAQUE_SEAL)))
    # Change the seal inside /Contents (hex): the CMS signature must break.
    hex_seal = OPAQUE_SEAL.hex().encode()
    pos = sealed.lower().index(hex_seal)
    sealed[pos + len(hex_seal) - 1 : pos + len(hex_seal)] = b"3" if sealed[pos + len(hex_seal) - 1] != ord("3") else b"4"
    status = _validate(bytes(sealed), "rsa-2048")
    assert not status.valid


@pytest.mark.parametrize("bad", [b"", b"\x30\x05\x02\x01", b"\x30\x03\x02\x01\x05trailing", b"\xff\xff"])
def test_seal_binding_rejects_non_der(bad: bytes) -> None:
    with pytest.raises(SealBindingError):
        SealBinding(bad)


def test_ses_hook_returning_garbage_is_a_typed_error() -> None:
    with pytest.raises(SealBindingError):
        _seal("sm2", seal=SealBinding(OPAQUE_SEAL, ses_signature=lambda d, m: b"junk"))


def test_fast_cms_matches_pyhanko_attribute_machinery() -> None:
    p = pki("sm2")

    class PyHankoPath(KeySigner):
        _fast_cms = False

    sealer = PdfSealer(p.signer.key, p.signer.chain, timestamper=_ts("sm2"))
    slow = PdfSealer(p.signer.key, p.signer.chain, timestamper=_ts("sm2"))
    slow._signer = PyHankoPath(p.signer.key, p.signer.chain)
    binding = SealBinding(OPAQUE_SEAL)
    fast_pdf = sealer.seal(sample_pdf(), seal=binding)
    slow_pdf = slow.seal(sample_pdf(), seal=binding)
    fast, slow_info = _signer_info(fast_pdf), _signer_info(slow_pdf)
    fast_attrs, slow_attrs = _signed_attrs(fast_pdf), _signed_attrs(slow_pdf)
    assert fast_attrs.keys() == slow_attrs.keys()
    for oid in fast_attrs:
        if oid != "1.2.840.113549.1.9.4":  # messageDigest differs with /M and /ID
            assert fast_attrs[oid].dump() == slow_attrs[oid].dump(), oid
    for field in ("version", "sid", "digest_algorithm"):
        assert fast[field].dump() == slow_info[field].dump()
    assert fast["signature_algorithm"]["algorithm"].dotted == slow_info["signature_algorithm"]["algorithm"].dotted
    assert [a["type"].dotted for a in fast["unsigned_attrs"]] == [a["type"].dotted for a in slow_info["unsigned_attrs"]]
    assert _validate(fast_pdf, "sm2").bottom_line and _validate(slow_pdf, "sm2").bottom_line


def test_one_private_key_operation_per_seal() -> None:
    p = pki("rsa-2048")

    class Counting:
        algorithm = p.signer.key.algorithm

        def __init__(self) -> None:
            self.calls = 0

        def public_key_der(self) -> bytes:
            return p.signer.key.public_key_der()

        def sign(self, message: bytes) -> bytes:
            self.calls += 1
            return p.signer.key.sign(message)

    key = Counting()
    sealer = PdfSealer(key, p.signer.chain, timestamper=_ts("rsa-2048"))
    for _ in range(3):
        sealer.seal(sample_pdf(), seal=SealBinding(OPAQUE_SEAL))
    assert key.calls == 3  # no dry-run signature, ever


# --- appearance --------------------------------------------------------------------------------


def _red_seal_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (64, 64), (220, 0, 0, 255)).save(buf, format="PNG")
    return buf.getvalue()


def test_visible_seal_renders_in_its_box(tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    require(pdftoppm is not None, "poppler-utils (pdftoppm) not installed")
    placement = SealPlacement(page=0, x=400, y=100, width=120, height=120, image=_red_seal_png())
    sealed = _seal("rsa-2048", appearance=placement)
    (tmp_path / "sealed.pdf").write_bytes(sealed)
    subprocess.run([pdftoppm, "-r", "72", "-png", "-singlefile", tmp_path / "sealed.pdf", tmp_path / "page"], check=True)
    with Image.open(tmp_path / "page.png") as page:
        rgb = page.convert("RGB")
        height = rgb.height
        inside = rgb.getpixel((460, height - 160))
        outside = rgb.getpixel((300, height - 160))
    assert inside[0] > 180 and inside[1] < 60 and inside[2] < 60
    assert outside == (255, 255, 255)
    assert _validate(sealed, "rsa-2048").bottom_line


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page": 0, "x": 0, "y": 0, "width": 0, "height": 10},
        {"page": 0, "x": -1, "y": 0, "width": 10, "height": 10},
        {"page": 0, "x": 0, "y": 0, "width": 10, "height": 10, "image": b"not an image"},
    ],
)
def test_bad_placement_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(SealPlacementError):
        SealPlacement(**kwargs)


def test_placement_on_missing_page_rejected() -> None:
    with pytest.raises(SealPlacementError):
        _seal("sm2", timestamper=None, appearance=SealPlacement(page=3, x=10, y=10, width=50, height=50))


def test_placement_on_last_page_by_negative_index() -> None:
    placement = SealPlacement(page=-1, x=10, y=10, width=50, height=50)
    sealed = _seal("sm2", sample_pdf(2), appearance=placement)
    reader = PdfFileReader(io.BytesIO(sealed))
    annots = reader.root["/Pages"]["/Kids"][1]["/Annots"]
    assert [float(v) for v in annots[0]["/Rect"]] == [10, 10, 60, 60]
    assert _validate(sealed, "sm2").bottom_line


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pdf",
    [b"", b"hello", b"%PDF-1.7\n", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF"],
)
def test_malformed_pdf_is_a_typed_error(pdf: bytes) -> None:
    with pytest.raises(MalformedPdfError):
        _seal("rsa-2048", pdf, timestamper=None)


def test_truncated_pdf_is_a_typed_error() -> None:
    with pytest.raises(MalformedPdfError):
        _seal("rsa-2048", sample_pdf()[: len(sample_pdf()) // 2], timestamper=None)


def test_non_bytes_input_is_a_typed_error() -> None:
    with pytest.raises(MalformedPdfError):
        _seal("rsa-2048", "a string", timestamper=None)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10**6), st.binary(min_size=1, max_size=8))
def test_mutated_pdfs_seal_or_fail_cleanly(pos: int, patch: bytes) -> None:
    """A mutated input is refused with a typed error, or sealed into a PDF that pyHanko (an
    independent reader) finds intact and valid, with the input kept byte for byte before it."""
    pdf = bytearray(sample_pdf())
    at = pos % len(pdf)
    pdf[at : at + len(patch)] = patch
    try:
        sealed = _seal("rsa-2048", bytes(pdf), timestamper=None)
    except SealTrustError:
        return
    assert sealed.startswith(bytes(pdf))  # an incremental update: the input is not rewritten
    status = _validate(sealed, "rsa-2048")
    assert status.intact and status.valid, status.pretty_print_details()


def test_chain_not_matching_key_rejected() -> None:
    with pytest.raises(CertificateChainError):
        seal_pdf(sample_pdf(), pki("sm2").signer.key, pki("rsa-2048").signer.chain, timestamper=None)


@pytest.mark.parametrize("chain", [[], [b"\x30\x00"], [b"garbage"]])
def test_malformed_chain_rejected(chain: list[bytes]) -> None:
    with pytest.raises(CertificateChainError):
        seal_pdf(sample_pdf(), pki("sm2").signer.key, chain, timestamper=None)


def test_same_field_twice_is_refused() -> None:
    once = _seal("rsa-2048", field_name="Seal", timestamper=None)
    with pytest.raises(FieldInUseError):
        _seal("rsa-2048", once, field_name="Seal", timestamper=None)


def test_tsa_failure_aborts_sealing() -> None:
    p = pki("sm2")
    broken = InProcessTimeStamper(
        BuiltinTSA(p.tsa.key, p.tsa.chain, POLICY, lambda: datetime(2026, 1, 1))
    )
    with pytest.raises(TimestampError):
        seal_pdf(sample_pdf(), p.signer.key, p.signer.chain, timestamper=broken)


def test_b_b_without_timestamper_has_no_timestamp() -> None:
    sealed = _seal("sm2", timestamper=None)
    status = _validate(sealed, "sm2")
    assert status.bottom_line and status.timestamp_validity is None
