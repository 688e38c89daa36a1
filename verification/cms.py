"""CMS SignedData of a PDF signature: parse once, check integrity once.

The same code serves the fast path and the full analysis, so both reach the
same verdict by construction. Only the signature value check is
cryptographic and it goes through :func:`trust.keys.verify_signature` (via
``verification.sm2_batch``, which answers a bulk chunk's SM2 inputs from one batch).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from asn1crypto import cms, core, tsp, x509

from trust import oids, sm3
from trust.keys import UnsupportedKeyError
from trust.pki.oids import ATTR_LICENCE_ID, ATTR_LICENCE_VALIDITY, ATTR_SEAL, ATTR_STATUS_REF
from verification import sm2_batch
from verification.ber import element_end, is_definite
from verification.certinfo import cert_info
from verification.errors import CmsFormatError

__all__ = ["Integrity", "SignedCms", "digest_ranges", "parse_cms"]

_PARSE_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)
_RSA_SHA256: Final = "1.2.840.113549.1.1.11"
_ECDSA_SHA256: Final = "1.2.840.10045.4.3.2"
# (SignerInfo signature algorithm, digest algorithm) -> signature OID for trust.keys
_SIG_OIDS: Final = {
    ("rsassa_pkcs1v15", "sha256"): _RSA_SHA256,
    ("sha256_rsa", "sha256"): _RSA_SHA256,
    ("sha256_ecdsa", "sha256"): _ECDSA_SHA256,
    ("ecdsa", "sha256"): _ECDSA_SHA256,
    ("sm2_sm3", "sm3"): oids.SM2_WITH_SM3,
    ("sm2", "sm3"): oids.SM2_WITH_SM3,
}
_HASHLIB: Final = {"sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}


@dataclass(frozen=True, slots=True)
class Integrity:
    """Time-independent integrity facts of one signature."""

    digest_matches: bool
    signature_valid: bool | None  # None: algorithm not supported (cannot decide)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SignedCms:
    """What the pipeline needs from a detached CMS SignedData, parsed once."""

    digest_algorithm: str
    signature_algorithm: str
    signature_oid: str | None
    signer_cert: bytes
    certificates: tuple[bytes, ...]
    signed_attrs: bytes | None
    message_digest: bytes | None
    signature: bytes
    signing_time: datetime | None
    timestamp_time: datetime | None
    # ESS signing-certificate(-v2) attribute: (hash algorithm, hash), if present
    signer_cert_id: tuple[str, bytes] | None = None
    # document time-stamps (ETSI.RFC3161): the TSTInfo and its message imprint
    tst_info: bytes | None = None
    imprint_algorithm: str | None = None
    imprint: bytes | None = None
    # SealTrust binding (docs/seal-binding.md): signed attributes, authentic once the
    # signature verifies; the embedded RFC 3161 signature time-stamp token (unsigned)
    seal_der: bytes | None = None
    licence_id: str | None = None
    status_index: int | None = None  # signed status reference (offline status lists)
    timestamp_token: bytes | None = None
    # signed licence validity period: (valid from, valid until or None: no end)
    validity: tuple[datetime, datetime | None] | None = None
    # read by the fast walk (verification.cms_fast), which refuses every signed attribute
    # it does not know: then there is no adbe-revocationInfoArchival attribute to look for
    walked: bool = field(default=False, compare=False, repr=False)

    @property
    def signer_cert_bound(self) -> bool | None:
        """Whether the signed ESS attribute names the embedded signer certificate
        (None: no such attribute). The certificate bag itself is not signed."""
        if self.signer_cert_id is None:
            return None
        algorithm, expected = self.signer_cert_id
        return hmac.compare_digest(_hash(algorithm, self.signer_cert), expected)

    @property
    def range_digest_algorithm(self) -> str:
        """The hash the byte ranges must be digested with for :meth:`check`."""
        return self.imprint_algorithm or self.digest_algorithm

    def check(self, computed_digest: bytes, signed_content: bytes | None = None) -> Integrity:
        """Compare the byte-range digest with what was signed and verify the signature.

        For a signature that is messageDigest; for a document time-stamp it is
        the TSTInfo's message imprint, and messageDigest must hash the TSTInfo.
        ``signed_content`` is only needed for the rare SignerInfo without
        signed attributes, where the signature covers the content itself.
        """
        if self.tst_info is not None:
            if self.imprint is None or not hmac.compare_digest(self.imprint, computed_digest):
                return Integrity(False, None, "time-stamp imprint differs from the byte range")
            computed_digest = _hash(self.digest_algorithm, self.tst_info)
        if self.signed_attrs is not None:
            if self.message_digest is None or not hmac.compare_digest(
                self.message_digest, computed_digest
            ):
                return Integrity(False, None, "messageDigest differs from the signed data digest")
            message = self.signed_attrs
        else:
            if signed_content is None:
                return Integrity(True, None, "no signed attributes")
            message = signed_content
        if self.signature_oid is None:
            return Integrity(True, None, f"unsupported algorithm {self.signature_algorithm}")
        spki = cert_info(self.signer_cert).spki
        try:
            ok = sm2_batch.verify(spki, self.signature_oid, message, self.signature)
        except UnsupportedKeyError as exc:
            return Integrity(True, None, exc.message)
        return Integrity(True, ok, "" if ok else "signature value does not verify")

    def signature_input(self) -> sm2_batch.SignatureInput | None:
        """The verification :meth:`check` makes over signed attributes, for a bulk chunk to
        gather (``verification.sm2_batch``); None where there is none to gather (the
        check then decides, and words, the case itself)."""
        if self.signed_attrs is None or self.signature_oid is None:
            return None
        try:
            spki = cert_info(self.signer_cert).spki
        except Exception:  # noqa: BLE001  (asn1crypto on a bad certificate: check says why)
            return None
        return spki, self.signature_oid, self.signed_attrs, self.signature


def new_hash(algorithm: str) -> Any:
    """A hash object with update() for a CMS digest algorithm name.

    A copy of an empty context made once per algorithm: ``hashlib.new`` looks the
    digest up in OpenSSL every time (~3 µs for SM3, against ~0.4 µs for a copy), and
    a licence needs four of them."""
    template = _EMPTY.get(algorithm)
    if template is None:
        template = _EMPTY[algorithm] = _new_hash(algorithm)  # (unsupported: raises, not kept)
    return template.copy()


def _new_hash(algorithm: str) -> Any:
    if algorithm == "sm3":
        return sm3.context()  # (trust.sm3 picks the one SM3 backend)
    name = _HASHLIB.get(algorithm)
    if name is None:
        raise CmsFormatError(f"digest algorithm {algorithm} is not supported")
    return hashlib.new(name)


# algorithm name -> an empty context, never updated (only copied)
_EMPTY: dict[str, Any] = {}


def _hash(algorithm: str, data: bytes) -> bytes:
    h = new_hash(algorithm)
    h.update(data)
    return bytes(h.digest())


def digest_ranges(data: bytes, ranges: Sequence[tuple[int, int]], algorithm: str) -> bytes:
    """Hash the signed byte ranges without copying them."""
    h = new_hash(algorithm)
    view = memoryview(data)
    for start, length in ranges:
        h.update(view[start : start + length])
    return bytes(h.digest())


def digest_signed_and_whole(data: bytes, b: int, c: int, d: int,
                            algorithm: str) -> tuple[bytes, bytes]:
    """The digest of the signed ranges ``[0, b) + [c, c + d)`` and the same algorithm's
    digest of ``data[:c + d]`` (the file as its signer left it), hashing the common prefix
    ``[0, b)`` -- nearly all of a licence -- once instead of twice."""
    if not 0 < b <= c <= c + d <= len(data):
        raise CmsFormatError("byte range outside the file")
    view = memoryview(data)
    signed = new_hash(algorithm)
    signed.update(view[:b])
    whole = signed.copy()
    signed.update(view[c : c + d])
    whole.update(view[b : c + d])
    return bytes(signed.digest()), bytes(whole.digest())


def _der_length(der: bytes) -> int:
    """Total length of the CMS element at the start (the rest is /Contents padding).

    BER is read, not only DER: Acrobat and other widespread signers write
    indefinite lengths, and a genuine third-party signature must never fail
    for its encoding (issue 12). No rule asks our own licences for DER here:
    what they must be byte for byte is the registered file, checked on its own.
    """
    if len(der) < 2 or der[0] != 0x30:
        raise CmsFormatError("/Contents does not start with a DER SEQUENCE")
    if der[1] != 0x80:
        first = der[1]
        if first < 0x80:
            return 2 + first
        n = first & 0x7F
        if n > 4 or len(der) < 2 + n:
            raise CmsFormatError("/Contents has an invalid DER length")
        return 2 + n + int.from_bytes(der[2 : 2 + n], "big")
    return element_end(der)


def parse_cms(contents: bytes, *, timestamp: bool = False) -> SignedCms:
    """Parse the raw /Contents bytes (DER or BER, zero-padded) into :class:`SignedCms`.

    Raises CmsFormatError for anything that is not exactly one detached
    SignedData with one SignerInfo whose certificate is embedded (with
    ``timestamp``: one RFC 3161 token, TSTInfo encapsulated).
    """
    total = _der_length(contents)
    if total > len(contents):
        raise CmsFormatError("CMS DER length exceeds /Contents")
    if contents.count(0, total) != len(contents) - total:  # (no copy of the padding)
        raise CmsFormatError("non-zero bytes after the CMS in /Contents")
    der = contents[:total]
    from verification.cms_fast import walk_cms  # it builds on this module

    fast = walk_cms(der, timestamp)
    if fast is not None:
        return fast
    try:
        return _parse(der, timestamp)
    except CmsFormatError:
        raise
    except _PARSE_ERRORS as exc:
        raise CmsFormatError(f"malformed CMS: {exc}") from exc


def _parse(der: bytes, timestamp: bool) -> SignedCms:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise CmsFormatError("CMS is not SignedData")
    sd = info["content"]
    encap = sd["encap_content_info"]
    tst_info: bytes | None = None
    imprint_alg: str | None = None
    imprint: bytes | None = None
    gen_time: datetime | None = None
    expected_type = "data"
    if timestamp:
        expected_type = "tst_info"
        if encap["content_type"].native != "tst_info" or isinstance(encap["content"], core.Void):
            raise CmsFormatError("document time-stamp does not encapsulate a TSTInfo")
        tst_info = bytes(encap["content"])  # the value: a BER constructed string is merged
        tst = tsp.TSTInfo.load(tst_info, strict=True)
        imprint_alg = tst["message_imprint"]["hash_algorithm"]["algorithm"].native
        imprint = bytes(tst["message_imprint"]["hashed_message"].native)
        gen_time = tst["gen_time"].native
    elif not isinstance(encap["content"], core.Void):
        raise CmsFormatError("CMS SignedData is not detached")
    signer_infos = sd["signer_infos"]
    if len(signer_infos) != 1:
        raise CmsFormatError(f"expected one SignerInfo, found {len(signer_infos)}")
    si = signer_infos[0]
    cert_set = sd["certificates"]
    certs = (
        []
        if isinstance(cert_set, core.Void)
        else [bytes(c.chosen.dump()) for c in cert_set if c.name == "certificate"]
    )
    signer = _find_signer(si["sid"], certs)
    digest_alg = si["digest_algorithm"]["algorithm"].native
    sig_alg = si["signature_algorithm"]["algorithm"].native
    signed_attrs_value = si["signed_attrs"]
    signed_attrs: bytes | None = None
    message_digest: bytes | None = None
    signing_time: datetime | None = None
    cert_id: tuple[str, bytes] | None = None
    seal_der: bytes | None = None
    licence_id: str | None = None
    status_index: int | None = None
    validity: tuple[datetime, datetime | None] | None = None
    if not isinstance(signed_attrs_value, core.Void):
        raw = signed_attrs_value.dump()
        if not is_definite(raw, levels=2):
            # RFC 5652 §5.4: the signature is over the DER encoding of the attributes,
            # whatever encoding a BER signer wrote them in (the block, each Attribute
            # and its SET of values are looked at; values are taken as written)
            raw = signed_attrs_value.dump(force=True)
        signed_attrs = b"\x31" + raw[1:]  # the signature covers the SET OF, not [0] IMPLICIT
        seen: set[str] = set()
        for attr in signed_attrs_value:
            oid = attr["type"].dotted  # computed once: asn1crypto does not memoise it
            kind = attr["type"].native
            if kind in seen:
                raise CmsFormatError(f"duplicate signed attribute {kind}")
            seen.add(kind)
            values = attr["values"]
            if len(values) != 1:
                raise CmsFormatError(f"signed attribute {kind} must have one value")
            if kind == "message_digest":
                message_digest = bytes(values[0].native)
            elif kind == "signing_time":
                signing_time = values[0].native
            elif kind in ("signing_certificate_v2", "signing_certificate"):
                cert_id = _ess_cert_id(kind, values[0].dump())
            elif kind == "content_type" and values[0].native != expected_type:
                raise CmsFormatError(f"content-type attribute is not {expected_type}")
            elif oid == ATTR_SEAL:
                # The one DER-only rule a licence keeps: the bound seal is read with
                # trust.seal.asn1.load_strict, because GB/T 38540's maker signature
                # covers DER(SES_SealInfo); the CMS around it may be BER.
                seal_der = bytes(values[0].dump())
            elif oid == ATTR_LICENCE_ID:
                licence_id = _licence_id(values[0].dump())
            elif oid == ATTR_STATUS_REF:
                status_index = _status_index(values[0].dump())
            elif oid == ATTR_LICENCE_VALIDITY:
                validity = licence_validity(values[0].dump())
        if message_digest is None:
            raise CmsFormatError("signed attributes lack messageDigest")
    return SignedCms(
        digest_algorithm=digest_alg,
        signature_algorithm=sig_alg,
        signature_oid=_SIG_OIDS.get((sig_alg, digest_alg)),
        signer_cert=signer,
        certificates=tuple(certs),
        signed_attrs=signed_attrs,
        message_digest=message_digest,
        signature=bytes(si["signature"].native),
        signing_time=signing_time,
        timestamp_time=gen_time,  # a signature's token is read by verification.timestamp
        signer_cert_id=cert_id,
        tst_info=tst_info,
        imprint_algorithm=imprint_alg,
        imprint=imprint,
        seal_der=seal_der,
        licence_id=licence_id,
        status_index=status_index,
        timestamp_token=None if timestamp else _timestamp_token(si),
        validity=validity,
    )


class _StatusRef(core.Sequence):
    _fields = [("list", core.UTF8String), ("index", core.Integer)]


def _status_index(value_der: bytes) -> int:
    """The status-list index attribute (docs/seal-binding.md)."""
    try:
        ref = _StatusRef.load(value_der, strict=True)
        index = int(ref["index"].native)
        list_id = str(ref["list"].native)
    except (ValueError, TypeError) as exc:
        raise CmsFormatError(f"malformed status reference attribute: {exc}") from exc
    if not 0 <= index < 2**40 or not 0 < len(list_id) <= 32:
        raise CmsFormatError("status reference out of range")
    return index


class _Validity(core.Sequence):
    _fields = [("validFrom", core.GeneralizedTime),
               ("validUntil", core.GeneralizedTime, {"optional": True})]


def licence_validity(value_der: bytes) -> tuple[datetime, datetime | None]:
    """The licence validity attribute (docs/seal-binding.md): from, and an exclusive end."""
    try:
        parsed = _Validity.load(value_der, strict=True)
        start = parsed["validFrom"].native
        end = parsed["validUntil"].native
    except (ValueError, TypeError) as exc:
        raise CmsFormatError(f"malformed licence validity attribute: {exc}") from exc
    if not isinstance(start, datetime) or start.tzinfo is None or (
            end is not None and (not isinstance(end, datetime) or end <= start)):
        raise CmsFormatError("licence validity attribute: the end must follow the start")
    return start, end


def _licence_id(value_der: bytes) -> str:
    """The licence id attribute: one short UTF8String (docs/seal-binding.md)."""
    parsed = core.UTF8String.load(value_der, strict=True)
    text = str(parsed.native)
    if not 0 < len(text) <= 64 or not text.isprintable():
        raise CmsFormatError("licence id attribute is not a short printable string")
    return text


def _timestamp_token(si: Any) -> bytes | None:
    """DER of the RFC 3161 signature time-stamp token in the unsigned attributes."""
    unsigned = si["unsigned_attrs"]
    if isinstance(unsigned, core.Void):
        return None
    for attr in unsigned:
        if attr["type"].native == "signature_time_stamp_token":
            return bytes(attr["values"][0].dump())
    return None


def _find_signer(sid: Any, certs: list[bytes]) -> bytes:
    """The embedded certificate the SignerInfo names (issuer and serial, or key id)."""
    if sid.name == "issuer_and_serial_number":
        want = sid.chosen
        serial, issuer = want["serial_number"].native, want["issuer"]
        issuer_der = issuer.dump()
        for der in certs:  # byte comparison first: name normalisation is costly
            info = cert_info(der)
            if info.serial_number == serial and (
                info.issuer_der == issuer_der or x509.Name.load(info.issuer_der) == issuer
            ):
                return der
    else:
        key_id = sid.chosen.native
        for der in certs:
            if cert_info(der).key_identifier == key_id:
                return der
    raise CmsFormatError("the signer's certificate is not embedded in the CMS")


@lru_cache(maxsize=1024)
def _ess_cert_id(kind: str, value_der: bytes) -> tuple[str, bytes]:
    """(hash algorithm, certificate hash) of the first ESSCertID(v2) (RFC 5035).

    Cached by the attribute's DER: it is the same in every file of one signer
    (and of one TSA), and decoding it is a tenth of a licence's parse time.
    """
    spec = tsp.SigningCertificate if kind == "signing_certificate" else tsp.SigningCertificateV2
    value = spec.load(value_der, strict=True)
    first = value["certs"][0]
    if kind == "signing_certificate":
        return "sha1", bytes(first["cert_hash"].native)
    return first["hash_algorithm"]["algorithm"].native, bytes(first["cert_hash"].native)
