"""Signed OFD packages for the verifier's tests, written here apart from production code.

A tiny OFD writer: the zip, the XML skeleton (GB/T 33190 §7, §18) and the
References are made with the standard library (SM3 from hashlib), so the
verifier is checked against a package built from the standard's text, not
from its own reader. Seal signatures come from ``trust.seal.sign_with_seal``
and GB/T 35275 SignedData values are assembled here with asn1crypto.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import algos, cms, core, x509

from trust import oids
from trust.keys import SigningKey
from trust.seal import asn1, sign_with_seal

NS = "http://www.ofdspec.org/2016"
SIGNATURES = "Doc_0/Signs/Signatures.xml"


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def content_entries(pages: int = 1) -> dict[str, bytes]:
    """OFD.xml, Document.xml, PublicRes.xml and ``pages`` pages of text."""
    page_list = "".join(
        f'<ofd:Page ID="{10 + i}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(pages))
    entries = {
        "OFD.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{NS}" Version="1.0" '
            'DocType="OFD"><ofd:DocBody><ofd:DocInfo><ofd:DocID>0123456789abcdef</ofd:DocID>'
            "</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"
            f"<ofd:Signatures>/{SIGNATURES}</ofd:Signatures></ofd:DocBody></ofd:OFD>"),
        "Doc_0/Document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{NS}">'
            "<ofd:CommonData><ofd:PublicRes>PublicRes.xml</ofd:PublicRes><ofd:PageArea>"
            "<ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>"
            f"<ofd:MaxUnitID>99</ofd:MaxUnitID></ofd:CommonData><ofd:Pages>{page_list}"
            "</ofd:Pages></ofd:Document>"),
        "Doc_0/PublicRes.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res xmlns:ofd="{NS}" BaseLoc="Res">'
            '<ofd:Fonts><ofd:Font ID="2" FontName="宋体"/></ofd:Fonts></ofd:Res>'),
    }
    for i in range(pages):
        entries[f"Doc_0/Pages/Page_{i}/Content.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{NS}"><ofd:Content>'
            '<ofd:Layer ID="3"><ofd:TextObject ID="4" Boundary="20 20 170 10" Font="2" Size="5">'
            f'<ofd:TextCode X="0" Y="5">营业执照 第{i + 1}页</ofd:TextCode></ofd:TextObject>'
            "</ofd:Layer></ofd:Content></ofd:Page>")
    return {k: v.encode() for k, v in entries.items()}


def zip_package(entries: Mapping[str, bytes], *, prefix: bytes = b"", suffix: bytes = b"",
                names: Mapping[str, str] | None = None) -> bytes:
    """The zip bytes; ``names`` renames entries in the archive only (case quirks)."""
    out = io.BytesIO()
    out.write(prefix)
    with zipfile.ZipFile(out, "a" if prefix else "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr((names or {}).get(name, name), data)
    return out.getvalue() + suffix


@dataclass
class SealSpec:
    """How one seal signature is written (each field a vendor quirk or an attack)."""

    key: SigningKey
    cert: bytes
    seal_der: bytes
    at: datetime
    sign_type: str = "Seal"  # or "Sign"
    check_method: str = "SM3"
    paths: str = "absolute"  # absolute | relative | upper
    protect_signatures: bool = False
    raw_rs: bool = False  # the SM2 value as 64 raw bytes
    value_name: str = "SignedValue.dat"
    write_seal_file: bool = True
    stamp_page: str = "10"
    parameters: dict[str, str] = field(default_factory=dict)
    sign_attrs: bool = True  # Sign: with signed attributes
    sign_content: str = "raw"  # Sign: none | raw | base64
    exclude: tuple[str, ...] = ()  # files left out of the References
    tamper_value: Callable[[bytes], bytes] | None = None
    # builds the value from SM3(Signature.xml) instead of sign_with_seal (e.g. a V1 seal)
    value_builder: Callable[[bytes], bytes] | None = None


def add_signature(entries: dict[str, bytes], spec: SealSpec) -> str:
    """Sign the current files and add Sign_N; returns the new Signature.xml name."""
    existing = entries.get(SIGNATURES)
    n = 0 if existing is None else existing.count(b"<ofd:Signature ")
    folder = f"Doc_0/Signs/Sign_{n}"
    sig_xml_name = f"{folder}/Signature.xml"
    seal_name = f"{folder}/Seal.esl"
    value_name = f"{folder}/{spec.value_name}"
    entry = (f'<ofd:Signature ID="{n + 1}" Type="{spec.sign_type}" '
             f'BaseLoc="/{sig_xml_name}"/>')
    body = (existing.decode().split("<ofd:MaxSignId>")[0].split(">", 2)[2]
            if existing else "")
    entries[SIGNATURES] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Signatures xmlns:ofd="{NS}">{body}'
        f"{entry}<ofd:MaxSignId>{n + 1}</ofd:MaxSignId></ofd:Signatures>").encode()
    if spec.sign_type == "Seal" and spec.write_seal_file:
        entries[seal_name] = spec.seal_der
    protected = [k for k in entries
                 if k not in spec.exclude and (not k.startswith("Doc_0/Signs/") or k == seal_name
                                               or (k == SIGNATURES and spec.protect_signatures))]
    refs = "".join(
        f'<ofd:Reference FileRef="{_ref(k, folder, spec.paths)}"><ofd:CheckValue>'
        f"{base64.b64encode(_check(k, entries[k], spec.check_method)).decode()}"
        "</ofd:CheckValue></ofd:Reference>" for k in protected)
    seal_loc = (f"<ofd:Seal><ofd:BaseLoc>{_ref(seal_name, folder, spec.paths)}</ofd:BaseLoc>"
                "</ofd:Seal>" if spec.sign_type == "Seal" and spec.write_seal_file else "")
    params = "".join(f'<ofd:Parameter Name="{k}">{v}</ofd:Parameter>'
                     for k, v in spec.parameters.items())
    sig_xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Signature xmlns:ofd="{NS}"><ofd:SignedInfo>'
        '<ofd:Provider ProviderName="sealtrust-tests" Version="1.0"/>'
        f"<ofd:SignatureMethod>{oids.SM2_WITH_SM3}</ofd:SignatureMethod>"
        f"<ofd:SignatureDateTime>{spec.at:%Y%m%d%H%M%SZ}</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="{spec.check_method}">{refs}</ofd:References>'
        f'<ofd:StampAnnot ID="{n + 100}" PageRef="{spec.stamp_page}" Boundary="150 240 40 40"/>'
        f"{seal_loc}"
        + (f"<ofd:Parameters>{params}</ofd:Parameters>" if params else "")
        + "</ofd:SignedInfo>"
        f"<ofd:SignedValue>{_ref(value_name, folder, spec.paths)}</ofd:SignedValue>"
        "</ofd:Signature>").encode()
    entries[sig_xml_name] = sig_xml
    if spec.value_builder is not None:
        value = spec.value_builder(sm3(sig_xml))
    elif spec.sign_type == "Seal":
        value = sign_with_seal(spec.seal_der, spec.key, spec.cert, sm3(sig_xml),
                               f"/{sig_xml_name}", spec.at)
        if spec.raw_rs:
            value = _raw_rs(value)
    else:
        value = signed_data(spec, sm3(sig_xml))
    entries[value_name] = spec.tamper_value(value) if spec.tamper_value else value
    return sig_xml_name


def _check(name: str, data: bytes, method: str) -> bytes:
    if method.upper() in ("MD5", "SHA1"):
        return hashlib.new(method.lower(), data).digest()
    return sm3(data)


def _ref(name: str, folder: str, style: str) -> str:
    if style == "relative" and name.startswith(folder + "/"):
        return name[len(folder) + 1:]
    if style == "upper":
        return "/" + name.upper()
    return "/" + name


def _raw_rs(value: bytes) -> bytes:
    sig = asn1.SES_Signature.load(value)
    rs = algos.DSASignature.load(sig["signature"].native)
    raw = rs["r"].native.to_bytes(32, "big") + rs["s"].native.to_bytes(32, "big")
    sig["signature"] = raw
    return bytes(sig.dump(force=True))


def signed_data(spec: SealSpec, digest: bytes) -> bytes:
    """A GB/T 35275 SignedData (GM OIDs) over SM3(Signature.xml)."""
    cert = x509.Certificate.load(spec.cert)
    content_bytes = {"none": None, "raw": digest,
                     "base64": base64.b64encode(digest)}[spec.sign_content]
    sid = cms.SignerIdentifier({"issuer_and_serial_number": {
        "issuer": cert.issuer, "serial_number": cert.serial_number}})
    signer: dict[str, object] = {
        "version": "v1", "sid": sid,
        "digest_algorithm": {"algorithm": oids.SM3},
        "signature_algorithm": {"algorithm": oids.SM2_1_SIGN},
    }
    if spec.sign_attrs:
        attrs = cms.CMSAttributes([
            {"type": "content_type", "values": [oids.GMT0010_DATA]},
            {"type": "message_digest", "values": [digest]},
        ])
        signer["signed_attrs"] = attrs
        message = attrs.dump()
    else:
        assert content_bytes is not None
        message = content_bytes
    signer["signature"] = spec.key.sign(message)
    encap_der = core.ObjectIdentifier(oids.GMT0010_DATA).dump()
    if content_bytes is not None:  # [0] EXPLICIT OCTET STRING, written by hand
        encap_der += _tlv(0xA0, core.OctetString(content_bytes).dump())
    sd = _tlv(0x30, core.Integer(1).dump()
              + cms.DigestAlgorithms([{"algorithm": oids.SM3}]).dump()
              + _tlv(0x30, encap_der)
              + _tlv(0xA0, spec.cert)  # [0] IMPLICIT SET OF Certificate
              + _tlv(0x31, cms.SignerInfo(signer).dump()))
    body = core.ObjectIdentifier(oids.GMT0010_SIGNED_DATA).dump() + _tlv(0xA0, sd)
    return _tlv(0x30, body)


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content
