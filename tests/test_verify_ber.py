"""CMS signatures in BER (indefinite lengths, constructed OCTET STRINGs), as Acrobat writes
them: read on both paths, judged like their DER originals, in agreement with pyHanko.

Before issue 12 every one of them was TOTAL_FAILED / FORMAT_FAILURE with
"/Contents has an invalid DER length".
"""

from __future__ import annotations

import datetime as dt
import logging
from io import BytesIO

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests import pdf_corpus as corpus
from trust.indications import Indication
from verification import UnsafeNoRevocationCheck, VerificationPolicy, extract_facts, verify_pdf
from verification.ber import element_end, is_definite
from verification.cms import parse_cms
from verification.errors import CmsFormatError

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)


@pytest.fixture(scope="module")
def rsa() -> corpus.RsaPki:
    return corpus.make_rsa_pki()


@pytest.fixture(scope="module")
def tsa() -> corpus.Tsa:
    return corpus.make_tsa()


def _sign(pdf: bytes, rsa: corpus.RsaPki, tsa: corpus.Tsa | None, subfilter: str) -> bytes:
    signer = signers.SimpleSigner(
        signing_cert=rsa.signer_cert, signing_key=rsa.signer_key,
        cert_registry=SimpleCertificateStore.from_certs([rsa.root]))
    stamper = None if tsa is None else DummyTimeStamper(
        tsa_cert=tsa.cert, tsa_key=tsa.key,
        certs_to_embed=SimpleCertificateStore.from_certs([tsa.root]))
    meta = signers.PdfSignatureMetadata(
        field_name="Sig1", md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES if subfilter == "pades"
        else fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED)
    out = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=signer,
                           timestamper=stamper, bytes_reserved=16384)
    return bytes(out.getvalue())


@pytest.fixture(scope="module")
def files(rsa: corpus.RsaPki, tsa: corpus.Tsa) -> dict[str, bytes]:
    """DER originals and their BER re-encodings (pyHanko-made, RSA)."""
    der = {
        "pades": _sign(corpus.plain_pdf(), rsa, None, "pades"),
        "adbe": _sign(corpus.plain_pdf("Adobe"), rsa, None, "adbe"),
        "pades_t": _sign(corpus.plain_pdf("B-T"), rsa, tsa, "pades"),
    }
    out = dict(der)
    for name, data in der.items():
        out[f"{name}_ber"] = corpus.with_ber_signature(data)
    out["pades_ber_tampered"] = corpus.flip_inside(out["pades_ber"])
    out["pades_t_ber_then_doc_ts"] = corpus.add_doc_timestamp(out["pades_t_ber"], tsa)
    return out


def _policy(rsa: corpus.RsaPki, tsa: corpus.Tsa) -> VerificationPolicy:
    return VerificationPolicy(trust_anchors=frozenset({rsa.root_der, tsa.root.dump()}),
                              revocation=UnsafeNoRevocationCheck())


def test_the_corpus_really_is_ber(files: dict[str, bytes]) -> None:
    for name in ("pades_ber", "adbe_ber", "pades_t_ber"):
        _, b, c, _ = corpus.byte_range(files[name])
        contents = bytes.fromhex(files[name][b + 1 : c - 1].decode())
        assert contents[:2] == b"\x30\x80", name
        end = element_end(contents)
        assert not is_definite(contents[:end]) and not contents[end:].strip(b"\x00")
        assert b"\x24\x80\x04\x07" in contents[:end]  # a constructed OCTET STRING


def test_ber_signatures_are_judged_like_their_der_originals_and_as_pyhanko_does(
    files: dict[str, bytes], rsa: corpus.RsaPki, tsa: corpus.Tsa
) -> None:
    policy = _policy(rsa, tsa)
    at = dt.datetime.now(dt.UTC)
    for name, data in files.items():
        report = verify_pdf(data, policy, at, name=name)
        context = ValidationContext(trust_roots=[rsa.root, tsa.root], moment=at)
        status = validate_pdf_signature(corpus.open_pyhanko(data).embedded_signatures[0],
                                        context)
        theirs = bool(status.intact and status.valid and status.trusted and status.bottom_line)
        first = report.signatures[0]
        assert (first.indication is Indication.TOTAL_PASSED) == theirs, (name, report.to_json())
        if name.endswith("_ber"):
            original = verify_pdf(files[name[:-4]], policy, at).signatures[0]
            assert first.indication is original.indication is Indication.TOTAL_PASSED
            same = ("digest_matches", "signature_valid", "signer_cert_bound", "licence_id",
                    "timestamp_valid", "timestamp_time", "certificates", "signer_cert")
            for key in same:
                assert getattr(first.facts, key) == getattr(original.facts, key), (name, key)
    assert not verify_pdf(files["pades_ber_tampered"], policy, at).passed


def test_fast_and_full_paths_agree_on_ber(files: dict[str, bytes]) -> None:
    for name, data in files.items():
        fast, full = extract_facts(data, name=name), extract_facts(data, name=name,
                                                                    allow_fast=False)
        assert fast.without_parser() == full.without_parser(), name
    assert extract_facts(files["pades_ber"]).parser == "fast"


def test_sm2_ber_signature_passes() -> None:
    pki = corpus.make_sm2_pki()
    data = corpus.with_ber_signature(corpus.sign_sm2(corpus.plain_pdf(), pki))
    policy = VerificationPolicy(trust_anchors=frozenset({pki.root_der}),
                                revocation=UnsafeNoRevocationCheck())
    report = verify_pdf(data, policy, corpus.NOW + dt.timedelta(days=1))
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()


@pytest.mark.parametrize(("contents", "message"), [
    (b"\x30\x80\x02\x01\x01", "not terminated"),  # no end-of-contents octets, no padding
    (b"\x30\x80\x02\x01\x01" + b"\x00" * 16, "malformed CMS"),  # the padding ends it
    (b"\x30\x80" * 80 + b"\x00" * 160, "too deep"),  # nesting bomb
    (b"\x30\x80\x04\x80\x00\x00\x00\x00", "primitive"),  # indefinite primitive
    (b"\x30\x80\x04\x85\x01\x00\x00\x00\x00\x00\x00", "invalid BER length"),
    (b"\x30\x80\x04\x84\x7f\xff\xff\xff", "exceeds"),
])
def test_malformed_ber_is_a_clean_format_error(contents: bytes, message: str) -> None:
    with pytest.raises(CmsFormatError, match=message):
        parse_cms(contents)


def test_ber_signed_attributes_are_verified_over_their_der_encoding(
    files: dict[str, bytes], rsa: corpus.RsaPki, tsa: corpus.Tsa
) -> None:
    """RFC 5652 §5.4: the signature covers the DER encoding of the signed attributes.
    Here we deliberately differ from pyHanko, which verifies the bytes as written and
    so calls this genuine signature invalid (Acrobat itself writes them in DER)."""
    data = corpus.with_ber_signature(files["pades"], ber_attrs=True)
    _, b, c, _ = corpus.byte_range(data)
    assert b"A080" in data[b:c]  # the [0] signed attributes block is indefinite
    at = dt.datetime.now(dt.UTC)
    report = verify_pdf(data, _policy(rsa, tsa), at)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    status = validate_pdf_signature(corpus.open_pyhanko(data).embedded_signatures[0],
                                    ValidationContext(trust_roots=[rsa.root], moment=at))
    assert status.intact and not status.valid
    tampered = corpus.with_ber_signature(corpus.flip_outside(files["pades"]), ber_attrs=True)
    assert verify_pdf(tampered, _policy(rsa, tsa), at).indication is Indication.TOTAL_FAILED
