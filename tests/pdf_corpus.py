"""Genuine and tampered signed PDFs for the verification tests and benchmarks.

Everything is generated (no binary fixtures): a one-page reportlab PDF signed
by pyHanko with an RSA key under a self-made CA (cryptography), and the same
with an SM2 key through a pyHanko Signer over trust.keys.SoftwareKey. The
attack builders follow the classes in shared/field-notes.md (Mladenov et al.
CCS 2019; Mainka et al. NDSS 2021).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import algos
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.pdfgen import canvas

import trust  # noqa: F401  (registers SM OIDs)
from trust import oids
from trust.keys import SoftwareKey

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def plain_pdf(text: str = "Licence 2026-0001", pages: int = 1) -> bytes:
    """A small PDF with visible text, written by reportlab."""
    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842))
    for i in range(pages):
        c.drawString(72, 770, f"{text} p{i + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


# ---------------------------------------------------------------- RSA test PKI
@dataclass(frozen=True)
class RsaPki:
    root_der: bytes
    signer_cert: asn1_x509.Certificate
    signer_key: asn1_keys.PrivateKeyInfo
    root: asn1_x509.Certificate
    root_key: rsa.RSAPrivateKey | None = None  # to sign CRLs and OCSP responses in tests


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_rsa_pki(cn: str = "SealTrust Test Signer") -> RsaPki:
    """Root CA -> end-entity signer, valid 2026-01-01 .. 2028-01-01."""
    root_key = rsa.generate_private_key(65537, 2048)
    ee_key = rsa.generate_private_key(65537, 2048)
    nb, na = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("SealTrust Test Root"))
        .issuer_name(_name("SealTrust Test Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    ee = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(root.subject)
        .public_key(ee_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    root_der = root.public_bytes(serialization.Encoding.DER)
    key_der = ee_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return RsaPki(
        root_der=root_der,
        signer_cert=asn1_x509.Certificate.load(ee.public_bytes(serialization.Encoding.DER)),
        signer_key=asn1_keys.PrivateKeyInfo.load(key_der),
        root=asn1_x509.Certificate.load(root_der),
        root_key=root_key,
    )


def sign_rsa(pdf: bytes, pki: RsaPki, *, pades: bool = True, field: str = "Sig1",
             md: str = "sha256") -> bytes:
    """Sign with pyHanko (PAdES B-B or adbe.pkcs7.detached)."""
    signer = signers.SimpleSigner(
        signing_cert=pki.signer_cert,
        signing_key=pki.signer_key,
        cert_registry=SimpleCertificateStore.from_certs([pki.root]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        md_algorithm=md,
        subfilter=fields.SigSeedSubFilter.PADES
        if pades
        else fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED,
    )
    out = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=signer)
    return out.getvalue()


# ---------------------------------------------------------------- SM2
@dataclass(frozen=True)
class Sm2Pki:
    cert: asn1_x509.Certificate
    key: SoftwareKey

    @property
    def root_der(self) -> bytes:
        return bytes(self.cert.dump())


def make_sm2_pki(cn: str = "SealTrust SM2 Test Signer") -> Sm2Pki:
    """A self-signed SM2 certificate (asn1crypto; cryptography cannot build SM2)."""
    key = SoftwareKey.generate("sm2")
    name = asn1_x509.Name.build({"country_name": "CN", "common_name": cn})
    sig_alg = algos.SignedDigestAlgorithm({"algorithm": oids.SM2_WITH_SM3})
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": 0x5EA1,
            "signature": sig_alg,
            "issuer": name,
            "subject": name,
            "validity": {
                "not_before": asn1_x509.Time({"utc_time": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}),
                "not_after": asn1_x509.Time({"utc_time": dt.datetime(2028, 1, 1, tzinfo=dt.UTC)}),
            },
            "subject_public_key_info": asn1_keys.PublicKeyInfo.load(key.public_key_der()),
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}},
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": {"digital_signature", "non_repudiation", "key_cert_sign"},
                },
            ],
        }
    )
    cert = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": sig_alg,
            "signature_value": key.sign(tbs.dump()),
        }
    )
    return Sm2Pki(cert=asn1_x509.Certificate.load(cert.dump()), key=key)


class Sm2Signer(signers.Signer):
    """A pyHanko Signer whose raw signature comes from trust.keys (standards.md §2)."""

    def __init__(self, pki: Sm2Pki) -> None:
        self._key = pki.key
        super().__init__(
            signing_cert=pki.cert,
            cert_registry=SimpleCertificateStore.from_certs([pki.cert]),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": oids.SM2_WITH_SM3}),
        )

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        return self._key.sign(data)


def sign_sm2(pdf: bytes, pki: Sm2Pki, *, pades: bool = False) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name="Sig1",
        md_algorithm="sm3",
        subfilter=fields.SigSeedSubFilter.PADES
        if pades
        else fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED,
    )
    pdf_signer = signers.PdfSigner(meta, signer=Sm2Signer(pki))
    w = IncrementalPdfFileWriter(BytesIO(pdf))
    out = asyncio.run(pdf_signer.async_sign_pdf(w, bytes_reserved=8192))
    return bytes(out.getvalue())


# ---------------------------------------------------------------- attacks
_BR = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def byte_range(signed: bytes) -> tuple[int, int, int, int]:
    m = list(_BR.finditer(signed))[-1]
    a, b, c, d = (int(x) for x in m.groups())
    return a, b, c, d


def incremental_text_change(signed: bytes, text: str = "FORGED") -> bytes:
    """ISA: an incremental update that replaces page 1's content stream."""
    w = IncrementalPdfFileWriter(BytesIO(signed))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    stream = generic.StreamObject(stream_data=f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET".encode())
    page["/Contents"] = w.add_object(stream)
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def incremental_page_added(signed: bytes) -> bytes:
    """ISA variant: a second page appended after signing."""
    w = IncrementalPdfFileWriter(BytesIO(signed))
    pages = w.root["/Pages"]
    first = pages["/Kids"][0].get_object()
    new_page = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Page"),
            generic.pdf_name("/Parent"): w.root.raw_get("/Pages"),
            generic.pdf_name("/MediaBox"): first["/MediaBox"],
            generic.pdf_name("/Contents"): w.add_object(
                generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (EXTRA) Tj ET")
            ),
        }
    )
    ref = w.add_object(new_page)
    pages["/Kids"].append(ref)
    pages["/Count"] = generic.NumberObject(int(pages["/Count"]) + 1)
    w.update_container(pages)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def incremental_annotation_overlay(signed: bytes) -> bytes:
    """Evil-annotation style: a FreeText annotation drawn over the signed text."""
    w = IncrementalPdfFileWriter(BytesIO(signed))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    annot = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/FreeText"),
            generic.pdf_name("/Rect"): generic.ArrayObject(
                [generic.NumberObject(x) for x in (60, 760, 400, 790)]
            ),
            generic.pdf_name("/Contents"): generic.TextStringObject("Licence REVOKED-0000"),
            generic.pdf_name("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
        }
    )
    ref = w.add_object(annot)
    annots = page.get("/Annots")
    page["/Annots"] = generic.ArrayObject([*(annots or []), ref])
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def signature_wrapping(signed: bytes) -> bytes:
    """SWA: the signature dictionary's /ByteRange is rewritten to point at a
    copy of the signed tail moved to the end, so attacker bytes sit in an
    unsigned gap while the declared ranges still hash to the signed digest."""
    _, b, c, d = byte_range(signed)
    tail = signed[c : c + d]
    evil = b"\n%attacker content lives in the unsigned gap\n"
    new_c = c + len(tail) + len(evil)
    m = list(_BR.finditer(tail))[-1]
    old_txt = m.group(0)
    new_txt = b"/ByteRange [0 %d %d %d]" % (b, new_c, d)
    spaces = len(tail[m.end() :]) - len(tail[m.end() :].lstrip(b" "))
    room = len(old_txt) + spaces
    if len(new_txt) > room:
        raise ValueError("no room to rewrite /ByteRange")
    modified = tail[: m.start()] + new_txt.ljust(room, b" ") + tail[m.end() + spaces :]
    return signed[:c] + modified + evil + tail


def contents_emptied(signed: bytes) -> bytes:
    """USF: /Contents hex replaced by zeros (same length)."""
    _, b, c, _ = byte_range(signed)
    return signed[:b] + b"<" + b"0" * (c - b - 2) + b">" + signed[c:]


def contents_removed(signed: bytes) -> bytes:
    """USF: the /Contents key renamed away, so the dictionary has no /Contents."""
    _, b, _, _ = byte_range(signed)
    head = signed[:b]
    idx = head.rfind(b"/Contents")
    head = head[:idx] + b"/Cxntents" + head[idx + 9 :]
    return head + signed[b:]


def signature_copied(target_plain_signed: bytes, donor_signed: bytes) -> bytes:
    """The CMS from one signed file pasted into another file's /Contents."""
    _, b, c, _ = byte_range(target_plain_signed)
    _, db, dc, _ = byte_range(donor_signed)
    donor_hex = donor_signed[db + 1 : dc - 1].rstrip(b"0")
    room = c - b - 2
    if len(donor_hex) > room:
        raise ValueError("donor signature does not fit")
    return (
        target_plain_signed[:b]
        + b"<"
        + donor_hex.ljust(room, b"0")
        + b">"
        + target_plain_signed[c:]
    )


def truncated(signed: bytes, keep: float = 0.8) -> bytes:
    return signed[: int(len(signed) * keep)]


def flip_inside(signed: bytes) -> bytes:
    """Flip one byte of the signed content (first range, in the page stream)."""
    _, b, _, _ = byte_range(signed)
    pos = signed.index(b"stream", 200) + 20
    assert pos < b
    return signed[:pos] + bytes([signed[pos] ^ 0x01]) + signed[pos + 1 :]


def flip_outside(signed: bytes) -> bytes:
    """Flip one hex digit in the signature value (the unsigned gap)."""
    _, b, c, _ = byte_range(signed)
    hexpart = signed[b + 1 : c - 1].rstrip(b"0")
    pos = b + 1 + len(hexpart) - 10  # inside the trailing signature value
    old = signed[pos : pos + 1]
    new = b"1" if old != b"1" else b"2"
    return signed[:pos] + new + signed[pos + 1 :]


ATTACKS: dict[str, Callable[[bytes], bytes]] = {
    "isa_text_change": incremental_text_change,
    "isa_page_added": incremental_page_added,
    "annotation_overlay": incremental_annotation_overlay,
    "swa_byte_range_wrap": signature_wrapping,
    "usf_contents_emptied": contents_emptied,
    "usf_contents_removed": contents_removed,
    "truncated": truncated,
    "flip_inside_range": flip_inside,
    "flip_outside_range": flip_outside,
}


def open_pyhanko(data: bytes) -> PdfFileReader:
    return PdfFileReader(BytesIO(data), strict=False)


# ---------------------------------------------------------------- long-term validation updates
@dataclass(frozen=True)
class Tsa:
    cert: asn1_x509.Certificate
    key: asn1_keys.PrivateKeyInfo
    root: asn1_x509.Certificate


def make_tsa() -> Tsa:
    """A self-made root and a time-stamping unit certificate (EKU timeStamping, critical)."""
    root_key = rsa.generate_private_key(65537, 2048)
    tsa_key = rsa.generate_private_key(65537, 2048)
    nb, na = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
    root_name = _name("SealTrust Test TSA Root")
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(nb).not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    tsa = (
        x509.CertificateBuilder().subject_name(_name("SealTrust Test TSU"))
        .issuer_name(root_name).public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(nb).not_valid_after(na)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]),
                       critical=True)
        .sign(root_key, hashes.SHA256())
    )
    der = serialization.Encoding.DER
    key_der = tsa_key.private_bytes(der, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return Tsa(
        cert=asn1_x509.Certificate.load(tsa.public_bytes(der)),
        key=asn1_keys.PrivateKeyInfo.load(key_der),
        root=asn1_x509.Certificate.load(root.public_bytes(der)),
    )


def add_dss(signed: bytes, pki: RsaPki) -> bytes:
    """An LTV update: a DSS dictionary with the signer's certificates."""
    return add_dss_certs(signed, [pki.signer_cert, pki.root])


def add_dss_certs(signed: bytes, certs: list[asn1_x509.Certificate]) -> bytes:
    """An LTV update (pyHanko's DSS writer) for the last signature, holding ``certs``."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    _, b, c, _ = byte_range(signed)
    contents = bytes.fromhex(signed[b + 1 : c - 1].decode())
    out = BytesIO(signed)
    DocumentSecurityStore.add_dss(out, contents, certs=certs, force_write=True)
    return out.getvalue()


def add_doc_timestamp(signed: bytes, tsa: Tsa) -> bytes:
    """An LTV update: a /DocTimeStamp signature (ETSI.RFC3161) over the whole file."""
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    stamper = DummyTimeStamper(
        tsa_cert=tsa.cert, tsa_key=tsa.key,
        certs_to_embed=SimpleCertificateStore.from_certs([tsa.root]),
    )
    out = signers.PdfTimeStamper(timestamper=stamper).timestamp_pdf(
        IncrementalPdfFileWriter(BytesIO(signed)), "sha256", validation_context=None,
    )
    return bytes(out.getvalue())


def with_bogus_signature_field(pdf: bytes) -> bytes:
    """An unsigned PDF that already has a filled signature field whose value has no
    /ByteRange (a USF-style decoy), to be signed afterwards in another field."""
    w = IncrementalPdfFileWriter(BytesIO(pdf))
    decoy = w.add_object(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Sig"),
        generic.pdf_name("/Filter"): generic.pdf_name("/Adobe.PPKLite"),
        generic.pdf_name("/SubFilter"): generic.pdf_name("/adbe.pkcs7.detached"),
        generic.pdf_name("/Contents"): generic.ByteStringObject(b"\x00" * 16),
    }))
    page_ref = w.root["/Pages"].raw_get("/Kids")[0]
    field = w.add_object(generic.DictionaryObject({
        generic.pdf_name("/FT"): generic.pdf_name("/Sig"),
        generic.pdf_name("/T"): generic.TextStringObject("Decoy"),
        generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Widget"),
        generic.pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(0)] * 4),
        generic.pdf_name("/P"): page_ref,
        generic.pdf_name("/V"): decoy,
    }))
    w.root["/AcroForm"] = generic.DictionaryObject({
        generic.pdf_name("/Fields"): generic.ArrayObject([field]),
    })
    w.update_root()
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def shadow_prepared(pdf: bytes) -> tuple[bytes, int]:
    """Shadow attack, step 1 (Mainka et al., NDSS 2021): an unused content stream
    hidden in the document before it is signed. Returns the PDF and the object id."""
    w = IncrementalPdfFileWriter(BytesIO(pdf))
    ref = w.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (SHADOW) Tj ET"))
    out = BytesIO()
    w.write(out)
    return out.getvalue(), ref.idnum


def shadow_replace(signed: bytes, hidden_id: int) -> bytes:
    """Shadow attack, step 2: after signing, an update only re-points the page's
    /Contents at the hidden stream (no new object is added)."""
    w = IncrementalPdfFileWriter(BytesIO(signed))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    page["/Contents"] = generic.IndirectObject(hidden_id, 0, w)
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


# ---------------------------------------------------------------- changes after signing (issue 12)
# Each writes one incremental update with pyHanko's writer, which also stamps
# /Info /ModDate and /Producer, as every incremental writer does.
def _write(w: IncrementalPdfFileWriter) -> bytes:
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def metadata_info_update(signed: bytes, title: str = "Licence REVOKED") -> bytes:
    """Metadata-only update: the document information dictionary gets another /Title."""
    w = IncrementalPdfFileWriter(BytesIO(signed))
    info_ref = w.trailer.raw_get("/Info") if "/Info" in w.trailer else None
    info = (generic.DictionaryObject() if info_ref is None
            else generic.DictionaryObject(dict(info_ref.get_object())))
    info[generic.pdf_name("/Title")] = generic.TextStringObject(title)
    w.set_info(w.add_object(info))
    return _write(w)


XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    b'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Licence REVOKED</rdf:li></rdf:Alt>'
    b'</dc:title></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def metadata_xmp_update(signed: bytes) -> bytes:
    """Metadata-only update: an XMP metadata stream with another title in the catalog."""
    w = IncrementalPdfFileWriter(BytesIO(signed))
    stream = generic.StreamObject(
        {generic.pdf_name("/Type"): generic.pdf_name("/Metadata"),
         generic.pdf_name("/Subtype"): generic.pdf_name("/XML")},
        stream_data=XMP,
    )
    w.root["/Metadata"] = w.add_object(stream)
    w.update_root()
    return _write(w)


def _appearance(w: IncrementalPdfFileWriter, text: str, box: tuple[int, int]) -> generic.PdfObject:
    """A form XObject that paints ``text`` (Helvetica) in a box of ``box`` points."""
    font = generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Font"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
        generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
    })
    return w.add_object(generic.StreamObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/XObject"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Form"),
            generic.pdf_name("/BBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, *box)]),
            generic.pdf_name("/Resources"): generic.DictionaryObject({
                generic.pdf_name("/Font"): generic.DictionaryObject(
                    {generic.pdf_name("/F1"): w.add_object(font)}),
            }),
        },
        stream_data=f"BT /F1 14 Tf 4 8 Td ({text}) Tj ET".encode("latin-1"),
    ))


def sneaky_signature_field(signed: bytes) -> bytes:
    """Sneaky signature (Rohlmann et al., S&P 2021): after signing, a new, unsigned
    signature field whose visible widget paints text over the page."""
    w = IncrementalPdfFileWriter(BytesIO(signed))
    page_ref = w.root["/Pages"].raw_get("/Kids")[0]
    page = page_ref.get_object()
    field = w.add_object(generic.DictionaryObject({
        generic.pdf_name("/FT"): generic.pdf_name("/Sig"),
        generic.pdf_name("/T"): generic.TextStringObject("Sneaky"),
        generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Widget"),
        generic.pdf_name("/F"): generic.NumberObject(4),
        generic.pdf_name("/Rect"): generic.ArrayObject(
            [generic.NumberObject(v) for v in (60, 740, 360, 790)]),
        generic.pdf_name("/P"): page_ref,
        generic.pdf_name("/AP"): generic.DictionaryObject(
            {generic.pdf_name("/N"): _appearance(w, "Licence REVOKED", (300, 50))}),
    }))
    form = w.root["/AcroForm"]
    form["/Fields"].append(field)
    w.update_container(form["/Fields"])
    w.update_container(form)
    annots = page.get("/Annots")
    if annots is None:
        page["/Annots"] = generic.ArrayObject([field])
    else:
        annots.append(field)
        w.update_container(annots)
    w.update_container(page)
    return _write(w)


def plain_pdf_with_text_field(value: str = "Holder: Zhang San") -> bytes:
    """A one-page PDF with a filled text field "Holder" (reportlab AcroForm)."""
    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842))
    c.drawString(72, 770, "Licence with a form field")
    c.acroForm.textfield(name="Holder", value=value, x=72, y=700, width=300, height=24,
                         borderWidth=0, forceBorder=False)
    c.showPage()
    c.save()
    return buf.getvalue()


def form_value_change(signed: bytes, value: str = "Holder: Li Si") -> bytes:
    """After signing, the text field's value and its appearance are changed."""
    w = IncrementalPdfFileWriter(BytesIO(signed))
    for raw in w.root["/AcroForm"]["/Fields"]:
        field = raw.get_object()
        if field.get("/FT") == "/Tx":
            break
    else:
        raise ValueError("no text field to change")
    field["/V"] = generic.TextStringObject(value)
    field["/AP"] = generic.DictionaryObject(
        {generic.pdf_name("/N"): _appearance(w, value, (300, 24))})
    w.update_container(field)
    return _write(w)


CHANGES: dict[str, Callable[[bytes], bytes]] = {
    "metadata_info": metadata_info_update,
    "metadata_xmp": metadata_xmp_update,
    "sneaky_signature_field": sneaky_signature_field,
    "annotation_overlay": incremental_annotation_overlay,
}


# ---------------------------------------------------------------- BER signatures (issue 12)
# Acrobat-style encodings of a DER CMS: indefinite lengths on the envelope
# (ContentInfo, SignedData, encapsulated content, certificate set, SignerInfos,
# SignerInfo, unsigned attributes) and
# constructed OCTET STRINGs. What is signed or hashed keeps its bytes: the
# signed attributes, each certificate (the ESS attribute hashes it) and the
# value of every OCTET STRING (a constructed one concatenates its chunks).
def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos``."""
    tag, first = buf[pos], buf[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    n = first & 0x7F
    body = pos + 2 + n
    return tag, body, body + int.from_bytes(buf[pos + 2 : body], "big")


def _kids(buf: bytes) -> list[bytes]:
    """The raw child elements of one DER element."""
    _, pos, end = _tlv(buf, 0)
    out = []
    while pos < end:
        _, _, stop = _tlv(buf, pos)
        out.append(buf[pos:stop])
        pos = stop
    return out


def _indefinite(tag: int, parts: list[bytes]) -> bytes:
    return bytes([tag, 0x80]) + b"".join(parts) + b"\x00\x00"


def _chunked(octets: bytes, size: int = 7) -> bytes:
    """A primitive OCTET STRING as a constructed, indefinite one of ``size``-byte chunks."""
    _, body, end = _tlv(octets, 0)
    value = octets[body:end]
    chunks = [value[i : i + size] for i in range(0, len(value), size)] or [b""]
    return _indefinite(0x24, [bytes([0x04, len(c)]) + c for c in chunks])


def ber_content_info(der: bytes, *, ber_attrs: bool = False) -> bytes:
    """A DER ContentInfo(SignedData) re-encoded the way BER signers write it.

    ``ber_attrs``: the signed attributes too (indefinite block, attributes and
    value sets); the signature stays the one made over their DER encoding.
    """
    oid, wrapper = _kids(der)
    (sd,) = _kids(wrapper)
    return _indefinite(0x30, [oid, _indefinite(0xA0, [_ber_signed_data(sd, ber_attrs)])])


def _ber_attrs(block: bytes) -> bytes:
    attrs = []
    for attr in _kids(block):
        oid, values = _kids(attr)
        attrs.append(_indefinite(0x30, [oid, _indefinite(0x31, _kids(values))]))
    return _indefinite(0xA0, attrs)


def _ber_signed_data(sd: bytes, ber_attrs: bool) -> bytes:
    out = []
    for kid in _kids(sd):
        tag = kid[0]
        if tag == 0x30 and not out[2:]:  # encapContentInfo
            parts = _kids(kid)
            if len(parts) == 2:  # eContent [0] { OCTET STRING }
                (octets,) = _kids(parts[1])
                parts[1] = _indefinite(0xA0, [_chunked(octets)])
            out.append(_indefinite(0x30, parts))
        elif tag == 0xA0:  # certificate set: the certificates themselves stay DER
            out.append(_indefinite(0xA0, _kids(kid)))
        elif tag == 0x31 and out[2:]:  # signerInfos
            out.append(_indefinite(0x31, [_ber_signer_info(si, ber_attrs) for si in _kids(kid)]))
        else:
            out.append(kid)
    return _indefinite(0x30, out)


def _ber_signer_info(si: bytes, ber_attrs: bool) -> bytes:
    out = []
    for kid in _kids(si):
        if kid[0] == 0xA0 and ber_attrs:
            out.append(_ber_attrs(kid))
        elif kid[0] == 0x04:  # the signature value
            out.append(_chunked(kid))
        elif kid[0] == 0xA1:  # unsigned attributes, e.g. the signature time-stamp token
            attrs = []
            for attr in _kids(kid):
                oid, values = _kids(attr)
                # the token stays as its TSA wrote it (DER): asn1crypto, and so pyHanko,
                # refuse more than 10 nested indefinite lengths
                attrs.append(_indefinite(0x30, [oid, _indefinite(0x31, _kids(values))]))
            out.append(_indefinite(0xA1, attrs))
        else:  # version, sid, algorithms, signed attributes (what is signed stays DER)
            out.append(kid)
    return _indefinite(0x30, out)


def with_ber_signature(signed: bytes, *, ber_attrs: bool = False) -> bytes:
    """The last signature's CMS replaced by its BER re-encoding, same /Contents room."""
    _, b, c, _ = byte_range(signed)
    contents = bytes.fromhex(signed[b + 1 : c - 1].decode())
    _, _, end = _tlv(contents, 0)
    ber = ber_content_info(contents[:end], ber_attrs=ber_attrs).hex().upper().encode()
    room = c - b - 2
    if len(ber) > room:
        raise ValueError(f"BER signature needs {len(ber) // 2} bytes, {room // 2} reserved")
    return signed[: b + 1] + ber.ljust(room, b"0") + signed[c - 1 :]


def annotation_with_text_change(signed: bytes) -> bytes:
    """One update that both overlays an annotation and replaces the page text: naming the
    annotation must not hide the content change."""
    overlaid = incremental_annotation_overlay(signed)
    w = IncrementalPdfFileWriter(BytesIO(signed))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (FORGED) Tj ET")
    page["/Contents"] = w.add_object(stream)
    annot = open_pyhanko(overlaid).root["/Pages"]["/Kids"][0]["/Annots"][-1]
    copy = generic.DictionaryObject(dict(annot.items()))
    annots = page.get("/Annots")
    page["/Annots"] = generic.ArrayObject([*(annots or []), w.add_object(copy)])
    w.update_container(page)
    return _write(w)
