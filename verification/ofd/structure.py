"""The signature structure of an OFD package (GB/T 33190 §18), read but not judged.

OFD.xml -> DocBody (DocRoot, Signatures) -> Signatures.xml -> one
Signature.xml per signature: SignedInfo (References with CheckValues,
StampAnnots, the seal location) and the location of the signed value.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache

from verification.errors import OfdFormatError
from verification.ofd.package import OfdPackage
from verification.ofd.xmlread import child, children, parse_xml, text_of

__all__ = ["OfdDocument", "OfdReference", "OfdSignatureEntry", "read_documents"]


@dataclass(frozen=True, slots=True)
class OfdReference:
    """One protected file: the name written, the entry it resolves to, its CheckValue."""

    file_ref: str
    entry: str | None  # None: no such entry in the package
    check_value: bytes


@dataclass(frozen=True, slots=True)
class OfdSignatureEntry:
    """One Signature of Signatures.xml and what its Signature.xml says."""

    sign_id: str
    sign_type: str  # "Seal" or "Sign"
    signature_xml: str  # entry name of Signature.xml (its bytes are what is signed)
    signed_value: str | None  # entry name of the value file
    seal_loc: str | None  # entry name of Seal.esl, when given
    check_method: str
    signature_method: str
    signature_datetime: str
    provider: str
    references: tuple[OfdReference, ...]
    stamp_pages: tuple[str, ...]  # PageRef of each StampAnnot
    parameters: tuple[tuple[str, str], ...]  # Parameters/Parameter Name -> text
    detail_error: str | None = None  # a defect of this signature alone


@dataclass(frozen=True, slots=True)
class OfdDocument:
    """One DocBody: its Document.xml entry, page IDs and signatures."""

    doc_root: str
    signatures_xml: str | None
    page_ids: frozenset[str]
    signatures: tuple[OfdSignatureEntry, ...]


def _dir(entry: str) -> str:
    return posixpath.dirname(entry)


def _require(package: OfdPackage, ref: str, base: str, what: str) -> str:
    found = package.resolve(ref, base)
    if found is None:
        raise OfdFormatError(f"{what} {ref!r} is not in the package")
    return found


def read_documents(package: OfdPackage) -> tuple[OfdDocument, ...]:
    """Every DocBody of OFD.xml with its signatures; structural defects raise."""
    root_entry = package.resolve("OFD.xml")
    if root_entry is None:
        raise OfdFormatError("not an OFD package: OFD.xml is missing")
    ofd = parse_xml(package.read(root_entry), "OFD.xml")
    bodies = list(children(ofd, "DocBody"))
    if not bodies:
        raise OfdFormatError("OFD.xml has no DocBody")
    return tuple(_document(package, body) for body in bodies)


def _document(package: OfdPackage, body: ET.Element) -> OfdDocument:
    doc_root = _require(package, text_of(child(body, "DocRoot")), "", "DocRoot")
    page_ids = _page_ids(package.read(doc_root), doc_root)
    sigs_ref = text_of(child(body, "Signatures"))
    if not sigs_ref:
        return OfdDocument(doc_root, None, page_ids, ())
    sigs_entry = _require(package, sigs_ref, _dir(doc_root), "Signatures")
    entries = tuple(
        _signature(package, sign_id, sign_type, loc, _dir(sigs_entry))
        for sign_id, sign_type, loc in _signature_list(package.read(sigs_entry), sigs_entry)
    )
    return OfdDocument(doc_root, sigs_entry, page_ids, entries)


# Document.xml and Signatures.xml are byte for byte the same in every licence of a type
# from one issuer: what they say is read once per distinct content (immutable results;
# a refusal is raised again each time, never cached).
@lru_cache(maxsize=256)
def _page_ids(xml: bytes, what: str) -> frozenset[str]:
    """The ID of every Page of a Document.xml."""
    pages = child(parse_xml(xml, what), "Pages")
    return frozenset(
        p.get("ID", "") for p in (children(pages, "Page") if pages is not None else ())
    )


@lru_cache(maxsize=256)
def _signature_list(xml: bytes, what: str) -> tuple[tuple[str, str, str], ...]:
    """(ID, Type, BaseLoc) of every Signature of a Signatures.xml."""
    return tuple(
        (item.get("ID", ""), item.get("Type", "Seal") or "Seal",  # §18.2.2: absent is Seal
         item.get("BaseLoc", ""))
        for item in children(parse_xml(xml, what), "Signature")
    )


def _signature(package: OfdPackage, sign_id: str, sign_type: str, loc: str,
               base: str) -> OfdSignatureEntry:
    entry = package.resolve(loc, base)
    if entry is None:
        raise OfdFormatError(f"signature {sign_id!r}: Signature.xml {loc!r} is not in the package")
    xml = parse_xml(package.read(entry), entry)
    here = _dir(entry)
    info = child(xml, "SignedInfo")
    if info is None:
        raise OfdFormatError(f"{entry}: no SignedInfo")
    value_ref = text_of(child(xml, "SignedValue"))
    seal = child(info, "Seal")
    seal_ref = text_of(child(seal, "BaseLoc")) if seal is not None else ""
    refs_el = child(info, "References")
    refs: list[OfdReference] = []
    method = ""
    if refs_el is not None:
        method = refs_el.get("CheckMethod", "")
        for ref in children(refs_el, "Reference"):
            file_ref = ref.get("FileRef", "")
            raw = text_of(child(ref, "CheckValue"))
            try:
                value = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise OfdFormatError(f"{entry}: CheckValue of {file_ref!r} is not base64") from exc
            refs.append(OfdReference(file_ref, package.resolve(file_ref, here), value))
    provider = child(info, "Provider")
    params = child(info, "Parameters")
    return OfdSignatureEntry(
        sign_id=sign_id,
        sign_type=sign_type,
        signature_xml=entry,
        signed_value=package.resolve(value_ref, here) if value_ref else None,
        seal_loc=package.resolve(seal_ref, here) if seal_ref else None,
        check_method=method,
        signature_method=text_of(child(info, "SignatureMethod")),
        signature_datetime=text_of(child(info, "SignatureDateTime")),
        provider="" if provider is None else provider.get("ProviderName", ""),
        references=tuple(refs),
        stamp_pages=tuple(s.get("PageRef", "") for s in children(info, "StampAnnot")),
        parameters=tuple(
            (p.get("Name", ""), text_of(p))
            for p in (children(params, "Parameter") if params is not None else ())
        ),
        detail_error=None if value_ref else f"{entry}: no SignedValue",
    )
