"""Seal an OFD package: one GB/T 38540 V4 seal signature over Signature.xml.

Layout (docs/ofd.md): ``Doc_0/Signs/Signatures.xml`` lists one Type="Seal"
signature; ``Sign_0/Signature.xml`` protects every file of the package with
SM3 CheckValues — pages, resources, fonts, OFD.xml, Seal.esl and, because no
later signature is planned for a licence, Signatures.xml itself — and
carries the StampAnnot that shows the seal, the seal location and the
licence's signed Parameters (trust.ofd_profile); ``SignedValue.dat`` is the
DER SES_Signature whose dataHash is SM3(Signature.xml), with the RFC 3161
time-stamp over the signature value in its timeStamp field.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from asn1crypto import cms
from pyhanko.sign.timestamps import TimeStamper

from signing.ofd.package import Entry, Part, entry_sm3, shared, zip_package
from signing.thread_loop import thread_loop
from signing.tsa.client import InProcessTimeStamper
from trust import ofd_profile, oids
from trust.errors import InputError
from trust.keys import SigningKey
from trust.seal import sign_with_seal
from trust.sm3 import sm3

__all__ = ["OfdSealRequest", "seal_ofd"]

_NS: Final = 'xmlns:ofd="http://www.ofdspec.org/2016"'
_HEAD: Final = '<?xml version="1.0" encoding="UTF-8"?>'
_FIRST: Final = ("OFD.xml", "Doc_0/Document.xml")  # readers sniff these first
_SIGNATURES: Final = (
    f'{_HEAD}<ofd:Signatures {_NS}><ofd:MaxSignId>1</ofd:MaxSignId>'
    f'<ofd:Signature ID="1" Type="Seal" BaseLoc="/{ofd_profile.SIGNATURE_FILE}"/>'
    "</ofd:Signatures>").encode()


@dataclass(frozen=True)
class OfdSealRequest:
    """Where the stamp goes and what the signature carries."""

    stamp_box_mm: tuple[float, float, float, float]  # x, y (from the top), width, height
    page_id: str = "1"
    parameters: Mapping[str, str] = field(default_factory=dict)
    protect_signatures: bool = True  # a licence plans no later signature


def _n(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _timestamp(timestamper: TimeStamper, value: bytes) -> bytes:
    """The RFC 3161 token whose imprint is SM3 of the signature value (GB/T 38540 §7.3)."""
    if isinstance(timestamper, InProcessTimeStamper):  # the deployment's own TSA
        return timestamper.token(sm3(value), "sm3")
    token: cms.ContentInfo = thread_loop().run_until_complete(
        timestamper.async_timestamp(sm3(value), "sm3"))
    return bytes(token.dump())


def seal_ofd(
    entries: Mapping[str, Entry],
    *,
    key: SigningKey,
    chain: tuple[bytes, ...],
    seal_der: bytes,
    at: datetime,
    request: OfdSealRequest,
    timestamper: TimeStamper | None = None,
) -> bytes:
    """The sealed OFD package (zip bytes) of the unsigned ``entries``."""
    if key.algorithm != "sm2":
        raise InputError("OFD licences are sealed with SM2 only (GB/T 38540, GM/T 0099); "
                         "OFD 证照只支持 SM2 签章", code="ofd.algorithm")
    if any(name.startswith("Doc_0/Signs/") for name in entries):
        raise InputError("the package is already signed", code="ofd.signed")
    files: dict[str, Entry] = dict(entries)
    files[ofd_profile.SIGNATURES_FILE] = Part(shared(_SIGNATURES, deflate=True))
    files[ofd_profile.SEAL_FILE] = Part(shared(seal_der, deflate=False))  # hashed once per seal
    protected = [n for n in files
                 if not n.startswith("Doc_0/Signs/") or n == ofd_profile.SEAL_FILE
                 or (n == ofd_profile.SIGNATURES_FILE and request.protect_signatures)]
    references = "".join(
        f'<ofd:Reference FileRef="/{escape(name)}"><ofd:CheckValue>'
        f"{base64.b64encode(entry_sm3(files[name])).decode()}</ofd:CheckValue></ofd:Reference>"
        for name in protected)
    x, y, w, h = request.stamp_box_mm
    parameters = "".join(f"<ofd:Parameter Name={quoteattr(k)}>{escape(v)}</ofd:Parameter>"
                         for k, v in request.parameters.items())
    when = at.astimezone(UTC)
    signature_xml = (
        f"{_HEAD}<ofd:Signature {_NS}><ofd:SignedInfo>"
        '<ofd:Provider ProviderName="SealTrust" Company="SealTrust" Version="1"/>'
        f"<ofd:SignatureMethod>{oids.SM2_WITH_SM3}</ofd:SignatureMethod>"
        f"<ofd:SignatureDateTime>{when:%Y%m%d%H%M%S}Z</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="{ofd_profile.CHECK_METHOD}">{references}'
        "</ofd:References>"
        f'<ofd:StampAnnot ID="1" PageRef="{request.page_id}" '
        f'Boundary="{_n(x)} {_n(y)} {_n(w)} {_n(h)}"/>'
        f"<ofd:Seal><ofd:BaseLoc>/{ofd_profile.SEAL_FILE}</ofd:BaseLoc></ofd:Seal>"
        + (f"<ofd:Parameters>{parameters}</ofd:Parameters>" if parameters else "")
        + "</ofd:SignedInfo>"
        f"<ofd:SignedValue>/{ofd_profile.SIGNED_VALUE_FILE}</ofd:SignedValue>"
        "</ofd:Signature>").encode()
    files[ofd_profile.SIGNATURE_FILE] = signature_xml
    files[ofd_profile.SIGNED_VALUE_FILE] = sign_with_seal(
        seal_der, key, chain[0], sm3(signature_xml), f"/{ofd_profile.SIGNATURE_FILE}", at,
        timestamper=None if timestamper is None else (lambda v: _timestamp(timestamper, v)))
    order = [n for n in _FIRST if n in files] + [n for n in files if n not in _FIRST]
    return zip_package((name, files[name]) for name in order)
