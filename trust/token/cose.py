"""COSE_Sign1 (RFC 9052) envelope shared by tokens, status lists and trust lists.

One envelope for all three signed formats means one parser to harden and one
signature dispatcher. Rules, all enforced when decoding:

- tag 18 optional; array of exactly four items; the unprotected map empty;
- protected header holds ``alg`` (1) and an 8-byte ``kid`` (4), and a
  ``content type`` (3) for lists, none for tokens (so a signature made for
  one type can never be presented as another);
- signatures are raw fixed-size values: SM2 and ES256 are r||s (64 bytes),
  never DER (SMART Health Cards learnt this); RS256 is the modulus size.

Algorithms: ``ALG_SM2_SM3`` = -65537 (COSE private use, values below -65536):
SM2 over SM3(Z||M) with the GM/T 0009 default ID, raw r||s. ES256 (-7) and
RS256 (-257; RSASSA-PKCS1-v1_5 because that is what every SealTrust RSA key
signs, see trust.keys) exist for foreign verifiers.

    >>> from trust.keys import SoftwareKey
    >>> key = SoftwareKey.generate("sm2")
    >>> blob = sign1(b"hi", key, kid=bytes(8))
    >>> verify_sign1(decode_sign1(blob), key.public_key_der())
    True
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import cbor2
from cryptography.hazmat.primitives.asymmetric import utils as dss

from trust import keys, sm2, sm3
from trust.token.errors import CoseFormatError

__all__ = [
    "ALG_ES256",
    "ALG_RS256",
    "ALG_SM2_SM3",
    "KID_LENGTH",
    "Sign1",
    "cose_algorithm",
    "decode_cbor",
    "decode_sign1",
    "kid_of",
    "sign1",
    "verify_sign1",
]

ALG_SM2_SM3: Final = -65537
ALG_ES256: Final = -7
ALG_RS256: Final = -257
KID_LENGTH: Final = 8

_HDR_ALG: Final = 1
_HDR_CONTENT_TYPE: Final = 3
_HDR_KID: Final = 4
_COSE_SIGN1_TAG: Final = 18
# COSE alg -> the SealTrust key algorithms allowed to use it.
_KEY_ALGS: Final = {
    ALG_SM2_SM3: frozenset({"sm2"}),
    ALG_ES256: frozenset({"ecdsa-p256"}),
    ALG_RS256: frozenset({"rsa-2048", "rsa-3072", "rsa-4096"}),
}
_MAX_RSA_SIG: Final = 512


def kid_of(certificate_der: bytes) -> bytes:
    """Key id: the first 8 bytes of SM3 of the signer certificate (DER).

    Truncation means two certificates may share a kid; verifiers try each.
    """
    return sm3.sm3(certificate_der)[:KID_LENGTH]


def cose_algorithm(key_algorithm: str) -> int:
    """The COSE alg value a SealTrust key algorithm signs with."""
    if key_algorithm == "sm2":
        return ALG_SM2_SM3
    if key_algorithm == "ecdsa-p256":
        return ALG_ES256
    if key_algorithm.startswith("rsa-"):
        return ALG_RS256
    raise keys.UnsupportedKeyError(f"no COSE algorithm for {key_algorithm!r}")


def decode_cbor(data: bytes, *, max_size: int, what: str) -> Any:
    """Strict CBOR: size cap, depth 8, definite lengths, unique keys, no trailing bytes."""
    if len(data) > max_size:
        raise CoseFormatError(f"{what} of {len(data)} bytes exceeds {max_size}")
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(
            stream, max_depth=8, allow_indefinite=False, allow_duplicate_keys=False
        ).decode()
    except (
        cbor2.CBORDecodeError,
        ValueError,
        TypeError,
        OverflowError,
        MemoryError,
        RecursionError,
        EOFError,
    ) as exc:
        raise CoseFormatError(f"{what} is not valid CBOR: {exc}") from None
    if stream.tell() != len(data):
        raise CoseFormatError(f"{what} has {len(data) - stream.tell()} trailing bytes")
    return item


@dataclass(frozen=True, slots=True)
class Sign1:
    """A decoded COSE_Sign1: the checked header fields plus what was signed."""

    protected: bytes
    alg: int
    kid: bytes
    content_type: str | None
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        """The Sig_structure bytes the signature covers (external_aad empty)."""
        return _sig_structure(self.protected, self.payload)

    def encode(self) -> bytes:
        """Tagged COSE_Sign1 bytes."""
        return cbor2.dumps(
            cbor2.CBORTag(_COSE_SIGN1_TAG, [self.protected, {}, self.payload, self.signature])
        )


# CBOR of the array head and "Signature1", the first half of every Sig_structure.
_SIG1_HEAD: Final = bytes.fromhex("846a") + b"Signature1"
_EMPTY_BSTR: Final = b"\x40"


# Heads of byte strings shorter than 256 bytes (every protected header, most payloads).
_SHORT_BSTR_HEADS: Final = tuple(
    bytes((0x40 | n,)) if n < 24 else bytes((0x58, n)) for n in range(0x100))


def _bstr_head(size: int) -> bytes:
    """The CBOR head of a byte string of ``size`` bytes (shortest form, as cbor2 writes)."""
    if size < 0x100:
        return _SHORT_BSTR_HEADS[size]
    if size < 0x10000:
        return b"\x59" + size.to_bytes(2, "big")
    if size < 0x100000000:
        return b"\x5a" + size.to_bytes(4, "big")
    return b"\x5b" + size.to_bytes(8, "big")


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    """``["Signature1", protected, h'', payload]`` in CBOR, written out by hand: it is
    built for every verification, and cbor2's encoder costs more than the bytes."""
    return b"".join((_SIG1_HEAD, _bstr_head(len(protected)), protected, _EMPTY_BSTR,
                     _bstr_head(len(payload)), payload))


def _protected(alg: int, kid: bytes, content_type: str | None) -> bytes:
    header: dict[int, Any] = {_HDR_ALG: alg, _HDR_KID: kid}
    if content_type is not None:
        header[_HDR_CONTENT_TYPE] = content_type
    return cbor2.dumps(header, canonical=True)


def sign1(
    payload: bytes, key: keys.SigningKey, *, kid: bytes, content_type: str | None = None
) -> bytes:
    """Sign ``payload`` into tagged COSE_Sign1 bytes through the SigningKey contract."""
    if len(kid) != KID_LENGTH:
        raise CoseFormatError(f"kid must be {KID_LENGTH} bytes, got {len(kid)}")
    alg = cose_algorithm(key.algorithm)
    protected = _protected(alg, kid, content_type)
    der_or_raw = key.sign(_sig_structure(protected, payload))
    if alg == ALG_SM2_SM3:
        signature = sm2.der_to_raw(der_or_raw)
    elif alg == ALG_ES256:
        r, s = dss.decode_dss_signature(der_or_raw)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = der_or_raw
    return Sign1(protected, alg, kid, content_type, payload, signature).encode()


def _parse_protected(protected: object) -> tuple[int, bytes, str | None]:
    if not isinstance(protected, bytes) or not protected:
        raise CoseFormatError("protected header must be a non-empty byte string")
    return _parse_protected_bytes(protected)


@lru_cache(maxsize=256)
def _parse_protected_bytes(protected: bytes) -> tuple[int, bytes, str | None]:
    """Cached: each signer's protected header is the same bytes on every token."""
    header = decode_cbor(protected, max_size=256, what="protected header")
    if not isinstance(header, Mapping):
        raise CoseFormatError("protected header is not a map")
    unknown = set(header) - {_HDR_ALG, _HDR_KID, _HDR_CONTENT_TYPE}
    if unknown:
        raise CoseFormatError(f"unexpected protected header labels {sorted(map(repr, unknown))}")
    alg = header.get(_HDR_ALG)
    if type(alg) is not int or alg not in _KEY_ALGS:
        raise CoseFormatError(f"unsupported or missing alg {alg!r}")
    kid = header.get(_HDR_KID)
    if not isinstance(kid, bytes) or len(kid) != KID_LENGTH:
        raise CoseFormatError(f"kid must be a {KID_LENGTH}-byte string")
    content_type = header.get(_HDR_CONTENT_TYPE)
    if content_type is not None and not isinstance(content_type, str):
        raise CoseFormatError("content type must be a text string")
    return alg, kid, content_type


def _byte_string(data: bytes, at: int) -> tuple[bytes, int] | None:
    """The byte string whose shortest-form head starts at ``at`` and where it ends, or None
    (another head, a longer form, or a string running past the end)."""
    head = data[at]
    if 0x40 <= head < 0x58:
        start, size = at + 1, head - 0x40
    elif head == 0x58 and data[at + 1] >= 24:
        start, size = at + 2, data[at + 1]
    elif head == 0x59 and data[at + 1]:
        start, size = at + 3, (data[at + 1] << 8) | data[at + 2]
    else:
        return None
    end = start + size
    return (data[start:end], end) if end <= len(data) else None


def _split_sign1(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(protected, payload, signature) of a tagged COSE_Sign1 in the shortest CBOR form
    (what :func:`sign1` writes), read without the general decoder; None for anything
    else, which the general decoder then judges. Runs for every token verified."""
    try:
        if data[0] != 0xD2 or data[1] != 0x84:  # tag 18, array of four
            return None
        protected = _byte_string(data, 2)
        if protected is None or data[protected[1]] != 0xA0:  # the empty unprotected map
            return None
        payload = _byte_string(data, protected[1] + 1)
        if payload is None:
            return None
        signature = _byte_string(data, payload[1])
    except IndexError:  # cut short: let the general decoder say so
        return None
    if signature is None or signature[1] != len(data):  # trailing bytes: likewise
        return None
    return protected[0], payload[0], signature[0]


def decode_sign1(data: bytes, *, max_size: int = 4096) -> Sign1:
    """Parse COSE_Sign1 bytes strictly (see module rules); CoseFormatError otherwise."""
    if len(data) > max_size:
        raise CoseFormatError(f"COSE_Sign1 of {len(data)} bytes exceeds {max_size}")
    split = _split_sign1(data) if type(data) is bytes else None
    if split is not None:
        protected, payload, signature = split
        unprotected: object = {}
    else:
        item = decode_cbor(data, max_size=max_size, what="COSE_Sign1")
        if isinstance(item, cbor2.CBORTag):
            if item.tag != _COSE_SIGN1_TAG:
                raise CoseFormatError(f"CBOR tag {item.tag} is not COSE_Sign1 (18)")
            item = item.value
        if not isinstance(item, list | tuple) or len(item) != 4:
            raise CoseFormatError("COSE_Sign1 must be an array of four items")
        protected, unprotected, payload, signature = item
    alg, kid, content_type = _parse_protected(protected)
    if not isinstance(unprotected, Mapping) or len(unprotected) != 0:
        raise CoseFormatError("unprotected header must be empty (kid belongs in protected)")
    if not isinstance(payload, bytes):
        raise CoseFormatError("payload must be an embedded byte string")
    if not isinstance(signature, bytes):
        raise CoseFormatError("signature must be a byte string")
    if alg in (ALG_SM2_SM3, ALG_ES256) and len(signature) != 64:
        raise CoseFormatError(f"raw r||s signature must be 64 bytes, got {len(signature)}")
    if alg == ALG_RS256 and not 256 <= len(signature) <= _MAX_RSA_SIG:
        raise CoseFormatError(f"RSA signature of {len(signature)} bytes")
    return Sign1(protected, alg, kid, content_type, payload, signature)


# Parsed keys are cached: a verifier sees the same few signer keys over and over,
# and parsing SPKI with asn1crypto would cost a third of an SM2 verification.
@lru_cache(maxsize=512)
def _sm2_key(spki_der: bytes) -> sm2.PublicKey:
    return sm2.PublicKey.from_der(spki_der)


@lru_cache(maxsize=512)
def _key_algorithm(spki_der: bytes) -> str:
    return keys.algorithm_of_spki(spki_der)


def verify_sign1(message: Sign1, spki_der: bytes) -> bool:
    """True iff the signature verifies under ``spki_der`` and the key fits the alg.

    A key of another algorithm than the header's (algorithm confusion) is False.
    """
    try:
        key_alg = _key_algorithm(spki_der)
    except keys.UnsupportedKeyError:
        return False
    if key_alg not in _KEY_ALGS[message.alg]:
        return False
    tbs = message.to_be_signed()
    if message.alg == ALG_SM2_SM3:
        try:
            return _sm2_key(spki_der).verify_raw(tbs, message.signature)
        except (sm2.KeyFormatError, sm2.SignatureFormatError):
            return False
    if message.alg == ALG_ES256:
        sig = message.signature
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        der = dss.encode_dss_signature(r, s)
        return keys.verify_signature(spki_der, keys.signature_algorithm_oid(key_alg), tbs, der)
    return keys.verify_signature(
        spki_der, keys.signature_algorithm_oid(key_alg), tbs, message.signature
    )
