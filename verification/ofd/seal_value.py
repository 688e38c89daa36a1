"""A V4 ``SES_Signature`` read without parsing its seal again for every file.

Every licence a department seals embeds the same ``SESeal`` (some 15 KB with its
picture); ``trust.seal.parse_seal_signature`` builds and re-encodes an asn1crypto
tree of all of it per file, which cost more than both SM2 verifies of an OFD
licence. Here the envelope is sliced with the strict DER reader, the seal is
parsed by ``trust.seal.parse_seal`` once per distinct seal (bytes as key), the
octet strings are sliced (primitive, whole octets), and each other small field
is loaded strictly and must re-encode to its own bytes -- the rule
``trust.seal.asn1.load_strict`` applies to the whole. Anything else (V1,
extension data, any irregularity) goes to ``parse_seal_signature``, so the
result and every refusal are the strict parser's (tested on mutated inputs).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from asn1crypto import core

from trust.seal import Seal, SealFormatError, SealSignature, parse_seal, parse_seal_signature
from trust.seal.model import V4
from verification.der import Element, Unusual, children, element

__all__ = ["read_seal_signature"]

# tag byte -> the asn1crypto class each V4 field is loaded with (trust.seal.asn1)
_INTEGER: Final = 0x02
_BIT_STRING: Final = 0x03
_OCTET_STRING: Final = 0x04
_OID: Final = 0x06
_IA5: Final = 0x16
_GENERALIZED_TIME: Final = 0x18
_SEQUENCE: Final = 0x30
_EXPLICIT_0: Final = 0xA0


class _Fallback(Exception):
    """Not the plain shape this reader takes: the strict parser decides."""


def read_seal_signature(der: bytes) -> SealSignature:
    """:func:`trust.seal.parse_seal_signature`, faster for the common V4 shape; the same
    result, and the same SealFormatError for anything it would refuse."""
    try:
        return _fast(der)
    except (_Fallback, Unusual, SealFormatError):  # the strict parser words the refusal
        return parse_seal_signature(der)


@lru_cache(maxsize=64)
def _seal(der: bytes) -> Seal:
    """The parsed seal, once per distinct seal (a frozen dataclass: safe to share)."""
    return parse_seal(der)


def _strict(buf: bytes, el: Element) -> Any:
    """The field's value, when it is exactly the DER of its type (as load_strict demands):
    the native value, or the dotted form of an OBJECT IDENTIFIER. The type is the one
    ``trust.seal.asn1`` gives the field, told by its tag (checked by the caller)."""
    return _strict_field(bytes(buf[el.start:el.end]))


_BY_TAG: Final[dict[int, type[core.Asn1Value]]] = {
    _INTEGER: core.Integer, _OID: core.ObjectIdentifier, _IA5: core.IA5String,
    _GENERALIZED_TIME: core.GeneralizedTime}


@lru_cache(maxsize=256)
def _strict_field(raw: bytes) -> Any:
    """:func:`_strict` once per distinct field: a department's files repeat the version,
    the property text and the algorithm, and asn1crypto's strict load and re-encoding
    cost more than slicing the whole envelope. The result is immutable (int, str,
    datetime), so it is safe to share; a refusal (``_Fallback``) is not cached."""
    spec = _BY_TAG[raw[0]]
    try:
        value = spec.load(raw, strict=True)
        native = value.dotted if isinstance(value, core.ObjectIdentifier) else value.native
        canonical = spec.load(raw, strict=True).dump(force=True)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError,
            RecursionError) as exc:
        raise _Fallback from exc
    if canonical != raw:
        raise _Fallback
    return native


def _octets(buf: bytes, el: Element) -> bytes:
    """A primitive OCTET STRING's content (the header is already checked minimal)."""
    if el.tag != _OCTET_STRING:
        raise _Fallback
    return buf[el.body:el.end]


def _bit_octets(buf: bytes, el: Element) -> bytes:
    """A primitive BIT STRING of whole octets (0 unused bits), as OctetBitString reads it;
    anything else (unused bits, empty) is the strict parser's to judge."""
    if el.tag != _BIT_STRING or el.end - el.body < 2 or buf[el.body] != 0:
        raise _Fallback
    return buf[el.body + 1:el.end]


def _fast(der: bytes) -> SealSignature:
    if not isinstance(der, bytes):
        raise _Fallback
    top = element(der, 0, len(der))
    if top.tag != _SEQUENCE or top.end != len(der):
        raise _Fallback
    members = children(der, top)
    if len(members) not in (4, 5):
        raise _Fallback
    tbs, cert, alg, sig = members[:4]
    stamp = members[4] if len(members) == 5 else None
    if (tbs.tag, cert.tag, alg.tag, sig.tag) != (_SEQUENCE, _OCTET_STRING, _OID, _BIT_STRING):
        raise _Fallback
    fields = children(der, tbs)
    if len(fields) != 5:  # extDatas present: the strict parser reads them
        raise _Fallback
    version, eseal, time_info, data_hash, prop = fields
    if (version.tag, eseal.tag, time_info.tag, data_hash.tag, prop.tag) != (
            _INTEGER, _SEQUENCE, _GENERALIZED_TIME, _BIT_STRING, _IA5):
        raise _Fallback
    if len(children(der, eseal)) != 4:  # a V4 SESeal (a V1 one has 2 members)
        raise _Fallback
    timestamp = None
    if stamp is not None:
        if stamp.tag != _EXPLICIT_0:
            raise _Fallback
        inner = children(der, stamp)
        if len(inner) != 1 or inner[0].tag != _BIT_STRING:
            raise _Fallback
        timestamp = _bit_octets(der, inner[0])
    seal = _seal(der[eseal.start:eseal.end])
    if seal.format_version != V4:
        raise _Fallback
    moment = _strict(der, time_info)
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise _Fallback  # the strict parser names the defect
    return SealSignature(
        format_version=V4,
        version=_strict(der, version),
        seal=seal,
        time_info=moment,
        time_info_raw=der[time_info.body:time_info.end],  # primitive: its contents
        data_hash=_bit_octets(der, data_hash),
        property_info=_strict(der, prop),
        signer_cert=_octets(der, cert),
        signature_algorithm=_strict(der, alg),
        signature=_bit_octets(der, sig),
        timestamp=timestamp,
        extensions=(),
        signed_message=der[tbs.start:tbs.end],
        der=der,
    )
