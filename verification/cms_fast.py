"""The fast CMS walk: :class:`SignedCms` from a plain DER slice walk, or None.

Building asn1crypto object trees was most of a licence's non-crypto time.
This walk reads only the elements :func:`verification.cms.parse_cms` reads,
as slices of the DER, and returns None (meaning: let asn1crypto parse it)
for anything it does not know exactly: other tags, BER, unknown attributes,
algorithm parameters other than NULL, a signer not found by byte equality.
Leaf values it does read go through the same helpers (or the same asn1crypto
types) as the full parse, except the per-licence ones read on every file
(TSTInfo imprint and genTime, licence id, status reference): in their plain
encoding those are read directly, anything else still goes through the
helpers. When the walk answers, it answers the same
(tests/test_verify_cms_fast.py checks this on every corpus file, on
mutated ones and on each leaf's other encodings).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

from asn1crypto import algos, core, x509

from trust.pki.oids import ATTR_LICENCE_ID, ATTR_LICENCE_VALIDITY, ATTR_SEAL, ATTR_STATUS_REF
from verification import cms
from verification.certinfo import cert_info
from verification.der import Element, Unusual, children, element
from verification.errors import CmsFormatError

__all__ = ["walk_cms"]

_SEQ: Final = 0x30
_SET: Final = 0x31
_OID: Final = 0x06
_INT: Final = 0x02
_OCTETS: Final = 0x04
_CTX0: Final = 0xA0
_CTX1: Final = 0xA1
_KEY_ID: Final = 0x80
_NULL: Final = b"\x05\x00"
_TST_REQUIRED: Final = [_INT, _OID, _SEQ, _INT, 0x18]  # ..., GeneralizedTime
_TST_OPTIONAL: Final = (_SEQ, 0x01, _INT, _CTX0, _CTX1)  # accuracy, ordering, nonce, tsa, ext
_GEN_TIME: Final = re.compile(rb"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z")


def _oid_der(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


_SIGNED_DATA: Final = _oid_der("1.2.840.113549.1.7.2")
_DATA: Final = _oid_der("1.2.840.113549.1.7.1")
_TST_INFO: Final = _oid_der("1.2.840.113549.1.9.16.1.4")
_TOKEN_ATTR: Final = _oid_der("1.2.840.113549.1.9.16.2.14")
# signed attributes the walk understands -> the asn1crypto name the full parse uses
_ATTRS: Final = {
    _oid_der("1.2.840.113549.1.9.3"): "content_type",
    _oid_der("1.2.840.113549.1.9.4"): "message_digest",
    _oid_der("1.2.840.113549.1.9.5"): "signing_time",
    _oid_der("1.2.840.113549.1.9.16.2.12"): "signing_certificate",
    _oid_der("1.2.840.113549.1.9.16.2.47"): "signing_certificate_v2",
    _oid_der(ATTR_SEAL): "seal",
    _oid_der(ATTR_LICENCE_ID): "licence_id",
    _oid_der(ATTR_STATUS_REF): "status_ref",
    _oid_der(ATTR_LICENCE_VALIDITY): "validity",
}


def walk_cms(der: bytes, timestamp: bool) -> cms.SignedCms | None:
    """The SignedCms of exactly-sized DER, or None when the full parse must decide."""
    try:
        return _walk(der, timestamp)
    except (Unusual, CmsFormatError, *cms._PARSE_ERRORS):
        # e.g. a mangled embedded certificate (asn1crypto raises AttributeError on its
        # names): asn1crypto, through the full parse, gives the precise verdict and message
        return None


def _one(buf: bytes, parent: Element, *tags: int) -> list[Element]:
    """The children of ``parent``, which must have exactly these tags in order."""
    kids = children(buf, parent)
    if len(kids) != len(tags):
        raise Unusual
    for kid, tag in zip(kids, tags, strict=True):
        if kid[0] != tag:
            raise Unusual
    return kids


def _raw(buf: bytes, e: Element) -> bytes:
    return buf[e.start : e.end]


def _content(buf: bytes, e: Element) -> bytes:
    return buf[e.body : e.end]


@lru_cache(maxsize=256)
def _digest_name(oid: bytes) -> str:
    return str(algos.DigestAlgorithmId.load(oid).native)


@lru_cache(maxsize=256)
def _signature_name(oid: bytes) -> str:
    return str(algos.SignedDigestAlgorithmId.load(oid).native)


def _algorithm(buf: bytes, e: Element) -> bytes:
    """The OID DER of an AlgorithmIdentifier whose parameters are absent or NULL."""
    return _algorithm_oid(buf[e.start : e.end])


@lru_cache(maxsize=256)
def _algorithm_oid(raw: bytes) -> bytes:
    """:func:`_algorithm` of one element's DER (a signer uses the same few, so cached;
    what raises Unusual is not cached)."""
    e = element(raw, 0, len(raw))
    kids = children(raw, e)
    if e.tag != _SEQ or not 1 <= len(kids) <= 2 or kids[0].tag != _OID:
        raise Unusual
    if len(kids) == 2 and _raw(raw, kids[1]) != _NULL:
        raise Unusual
    return _raw(raw, kids[0])


def _walk(der: bytes, timestamp: bool) -> cms.SignedCms | None:
    top = element(der, 0, len(der))
    if top.tag != _SEQ or top.end != len(der):
        raise Unusual
    kind, wrapper = _one(der, top, _OID, _CTX0)
    if _raw(der, kind) != _SIGNED_DATA:
        raise Unusual
    (sd,) = _one(der, wrapper, _SEQ)
    parts = children(der, sd)
    tags = [p.tag for p in parts]
    if tags not in ([_INT, _SET, _SEQ, _SET], [_INT, _SET, _SEQ, _CTX0, _SET]):
        raise Unusual
    tst_info, imprint_alg, imprint, gen_time = _encapsulated(der, parts[2], timestamp)
    certs = []
    if len(parts) == 5:
        for c in children(der, parts[3]):
            if c.tag != _SEQ:
                raise Unusual  # other CertificateChoices: the full parse filters them
            certs.append(_raw(der, c))
    (si,) = _one(der, parts[-1], _SEQ)
    fields = children(der, si)
    if [f.tag for f in fields[:6]] != [_INT, fields[1].tag, _SEQ, _CTX0, _SEQ, _OCTETS]:
        raise Unusual
    if len(fields) not in (6, 7) or (len(fields) == 7 and fields[6].tag != _CTX1):
        raise Unusual
    signer = _signer(der, fields[1], certs)
    digest_alg = _digest_name(_algorithm(der, fields[2]))
    sig_alg = _signature_name(_algorithm(der, fields[4]))
    attrs = _signed_attrs(der, fields[3], _TST_INFO if timestamp else _DATA)
    if fields[5].tag != _OCTETS:
        raise Unusual
    token = None
    if not timestamp and len(fields) == 7:
        token = _token(der, fields[6])
    return cms.SignedCms(
        digest_algorithm=digest_alg,
        signature_algorithm=sig_alg,
        signature_oid=cms._SIG_OIDS.get((sig_alg, digest_alg)),
        signer_cert=signer,
        certificates=tuple(certs),
        signed_attrs=b"\x31" + der[fields[3].start + 1 : fields[3].end],
        message_digest=attrs.message_digest,
        signature=_content(der, fields[5]),
        signing_time=attrs.signing_time,
        timestamp_time=gen_time,
        signer_cert_id=attrs.cert_id,
        tst_info=tst_info,
        imprint_algorithm=imprint_alg,
        imprint=imprint,
        seal_der=attrs.seal_der,
        licence_id=attrs.licence_id,
        status_index=attrs.status_index,
        timestamp_token=token,
        validity=attrs.validity,
        walked=True,
    )


def _encapsulated(
    der: bytes, encap: Element, timestamp: bool
) -> tuple[bytes | None, str | None, bytes | None, datetime | None]:
    """Nothing for a detached signature; TSTInfo, imprint and genTime for a token."""
    if not timestamp:
        _one(der, encap, _OID)  # detached: the content type alone
        return None, None, None, None
    kind, wrapper = _one(der, encap, _OID, _CTX0)
    if _raw(der, kind) != _TST_INFO:
        raise Unusual
    (octets,) = _one(der, wrapper, _OCTETS)
    tst_info = _content(der, octets)
    return (tst_info, *_tst_info(tst_info))


def _tst_info(tst: bytes) -> tuple[str, bytes, datetime]:
    """Imprint algorithm, imprint and genTime of a TSTInfo (RFC 3161 2.4.2).

    What cms.py reads through asn1crypto, read directly when the TSTInfo has
    the plain shape: the five required fields, then optional ones in their
    order, all with their universal or [0]/[1] tags (asn1crypto then assigns
    each child to its field without trying alternatives), a NULL-or-absent
    imprint parameter and a ``YYYYMMDDHHMMSSZ`` genTime.
    """
    top = element(tst, 0, len(tst))
    if top.tag != _SEQ or top.end != len(tst):
        raise Unusual
    fields = children(tst, top)
    if [f[0] for f in fields[:5]] != _TST_REQUIRED:
        raise Unusual
    optional = iter(_TST_OPTIONAL)  # each at most once, in order
    if not all(f[0] in optional for f in fields[5:]):
        raise Unusual
    algorithm, hashed = _one(tst, fields[2], _SEQ, _OCTETS)
    imprint_alg = _digest_name(_algorithm(tst, algorithm))
    gen_time = _GEN_TIME.fullmatch(tst, fields[4].body, fields[4].end)
    if gen_time is None or gen_time[1] == b"0000":
        raise Unusual  # fractions, offsets, year 0: asn1crypto's parse
    year, month, day, hour, minute, second = (int(g) for g in gen_time.groups())
    when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return imprint_alg, _content(tst, hashed), when


def _signer(der: bytes, sid: Element, certs: list[bytes]) -> bytes:
    """The embedded certificate the sid names, matched on exact bytes only."""
    if sid.tag == _SEQ:
        issuer, serial = _one(der, sid, _SEQ, _INT)
        issuer_der = _raw(der, issuer)
        if serial.body == serial.end:
            raise Unusual
        number = int.from_bytes(_content(der, serial), "big", signed=True)
        for c in certs:
            info = cert_info(c)
            if info.serial_number == number and info.issuer_der == issuer_der:
                return c
    elif sid.tag == _KEY_ID:
        key_id = _content(der, sid)
        for c in certs:
            if cert_info(c).key_identifier == key_id:
                return c
    raise Unusual  # name normalisation or an error message: the full parse's job


class _Attrs:
    __slots__ = ("cert_id", "licence_id", "message_digest", "seal_der", "signing_time",
                 "status_index", "validity")

    def __init__(self) -> None:
        self.message_digest: bytes | None = None
        self.signing_time: datetime | None = None
        self.cert_id: tuple[str, bytes] | None = None
        self.seal_der: bytes | None = None
        self.licence_id: str | None = None
        self.status_index: int | None = None
        self.validity: tuple[datetime, datetime | None] | None = None


def _signed_attrs(der: bytes, block: Element, content_type: bytes) -> _Attrs:
    out = _Attrs()
    seen: set[str] = set()
    for attr in children(der, block):
        if attr[0] != _SEQ:
            raise Unusual  # an Attribute is a SEQUENCE; children() checks only "constructed"
        # SEQUENCE { OID, SET { one value } }, each element filling its parent exactly
        # (what children() would check, read as three elements instead of two lists)
        kind_el = element(der, attr[2], attr[3])
        values = element(der, kind_el[3], attr[3])
        if kind_el[0] != _OID or values[0] != _SET or values[3] != attr[3]:
            raise Unusual
        kind = _ATTRS.get(der[kind_el[1] : kind_el[3]])
        if kind is None or kind in seen:
            raise Unusual
        seen.add(kind)
        value = element(der, values[2], values[3])  # exactly one value
        if value[3] != values[3]:
            raise Unusual
        raw = der[value[1] : value[3]]
        if kind == "message_digest":
            if value[0] != _OCTETS:
                raise Unusual
            out.message_digest = der[value[2] : value[3]]
        elif kind == "signing_time":
            out.signing_time = x509.Time.load(raw, strict=True).native
        elif kind in ("signing_certificate", "signing_certificate_v2"):
            out.cert_id = cms._ess_cert_id(kind, raw)
        elif kind == "content_type":
            if raw != content_type:
                raise Unusual
        elif kind == "seal":
            if value[0] != _SEQ:
                raise Unusual  # asn1crypto's registered SESeal spec refuses it: let it say so
            out.seal_der = raw
        elif kind == "licence_id":
            out.licence_id = _licence_id(raw)
        elif kind == "validity":
            out.validity = _validity(raw)
        else:
            out.status_index = _status_index(raw)
    if out.message_digest is None:
        raise Unusual
    return out


def _utf8(raw: bytes, pos: int, end: int) -> tuple[str, int] | None:
    """A primitive short-form UTF8String at ``pos`` ending by ``end``: (text, its end)."""
    if pos + 2 > end or raw[pos] != 0x0C or raw[pos + 1] >= 0x80:
        return None
    stop = pos + 2 + raw[pos + 1]
    return (raw[pos + 2 : stop].decode("utf-8"), stop) if stop <= end else None


def _licence_id(raw: bytes) -> str:
    """cms._licence_id; its asn1crypto parse is skipped for the plain encoding."""
    plain = _utf8(raw, 0, len(raw))
    if plain is None or plain[1] != len(raw):
        return cms._licence_id(raw)
    text = plain[0]
    if not 0 < len(text) <= 64 or not text.isprintable():
        raise Unusual  # cms._licence_id words the error
    return text


def _gen_time(raw: bytes, at: int) -> datetime | None:
    """A plain 15-byte GeneralizedTime ``YYYYMMDDHHMMSSZ`` at ``at``, else None."""
    if raw[at : at + 2] != b"\x18\x0f":
        return None
    match = _GEN_TIME.fullmatch(raw, at + 2, at + 17)
    if match is None:
        return None
    try:
        y, mo, d, h, mi, sec = (int(g) for g in match.groups())
        return datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
    except ValueError:
        return None


def _validity(raw: bytes) -> tuple[datetime, datetime | None]:
    """cms.licence_validity; its asn1crypto parse is skipped for the plain encoding:
    SEQUENCE { GeneralizedTime [, GeneralizedTime] }, whole seconds, UTC."""
    size = len(raw)
    if size not in (19, 36) or raw[0] != _SEQ or raw[1] != size - 2:
        return cms.licence_validity(raw)
    start = _gen_time(raw, 2)
    end = None if size == 19 else _gen_time(raw, 19)
    if start is None or (size == 36 and (end is None or end <= start)):
        return cms.licence_validity(raw)  # it words the error, or reads other forms
    return start, end


def _status_index(raw: bytes) -> int:
    """cms._status_index; its asn1crypto parse is skipped for the plain encoding:
    SEQUENCE { UTF8String, INTEGER }, short forms, a non-empty integer."""
    size = len(raw)
    if size < 2 or raw[0] != _SEQ or raw[1] != size - 2 or raw[1] >= 0x80:
        return cms._status_index(raw)
    plain = _utf8(raw, 2, size)
    if plain is None:
        return cms._status_index(raw)
    list_id, at = plain
    if at + 3 > size or raw[at] != _INT or raw[at + 1] != size - at - 2:
        return cms._status_index(raw)
    index = int.from_bytes(raw[at + 2 :], "big", signed=True)
    if not 0 <= index < 2**40 or not 0 < len(list_id) <= 32:
        raise Unusual  # cms._status_index words the error
    return index


def _token(der: bytes, block: Element) -> bytes | None:
    """The signature time-stamp token: the only unsigned attribute the walk accepts."""
    attrs = children(der, block)
    if len(attrs) != 1 or attrs[0].tag != _SEQ:
        raise Unusual
    kind, values = _one(der, attrs[0], _OID, _SET)
    if _raw(der, kind) != _TOKEN_ATTR:
        raise Unusual
    first = children(der, values)
    if not first or first[0].tag != _SEQ:
        raise Unusual
    return _raw(der, first[0])
