"""Reading RFC 6960 OCSP responses embedded in signed files (PDF DSS, CMS archives).

SealTrust runs no OCSP responder; foreign PAdES signatures often carry the
responses their signer fetched. A response counts for a certificate only
when it is signed by the certificate's issuer, or by a responder certificate
the issuer issued with the id-kp-OCSPSigning usage (RFC 6960 4.2.2.2), names
the certificate by issuer name hash, issuer key hash and serial, and is
fresh at the validation time (thisUpdate/nextUpdate; no nextUpdate: never).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

from asn1crypto import core, ocsp, x509
from asn1crypto import keys as asn1_keys

from trust.errors import InputError, SealTrustError
from trust.keys import verify_signature
from trust.pki.certificate import Certificate, parse_cached
from trust.pki.errors import require_aware

__all__ = ["MAX_OCSP_SIZE", "OcspAnswer", "OcspFormatError", "OcspResponse"]

MAX_OCSP_SIZE: Final = 1024 * 1024
_MAX_SINGLE: Final = 256
_OCSP_SIGNING: Final = "1.3.6.1.5.5.7.3.9"
_HASHES: Final = {"sha1": "sha1", "sha256": "sha256"}
_PARSE_ERRORS: Final = (ValueError, TypeError, KeyError, AttributeError, IndexError,
                        OverflowError, RecursionError)


class OcspFormatError(InputError):
    """An OCSP response that cannot be read or is not a successful basic response."""

    code = "ocsp.invalid"


@dataclass(frozen=True, slots=True)
class OcspAnswer:
    """One SingleResponse: what the responder says about one certificate."""

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    status: str  # good | revoked | unknown
    revoked_at: datetime | None
    this_update: datetime
    next_update: datetime | None

    def names(self, cert: Certificate, issuer: Certificate) -> bool:
        algorithm = _HASHES.get(self.hash_algorithm)
        if algorithm is None or cert.serial != self.serial:
            return False
        name_hash = hashlib.new(algorithm, issuer.subject_der).digest()
        return (hmac.compare_digest(name_hash, self.issuer_name_hash)
                and hmac.compare_digest(_key_hash(algorithm, issuer.spki_der),
                                        self.issuer_key_hash))

    def fresh_at(self, at: datetime, skew: timedelta) -> bool:
        require_aware(at, "at")
        return (self.next_update is not None
                and self.this_update - skew <= at <= self.next_update + skew)


@dataclass(frozen=True, slots=True)
class OcspResponse:
    """A successful basic OCSP response, parsed once; judged per certificate."""

    der: bytes
    tbs_der: bytes
    signature_oid: str
    signature: bytes
    responder_name: str | None  # RFC 5280 normalised form (asn1crypto ``hashable``)
    responder_key_hash: bytes | None
    certificates: tuple[Certificate, ...]
    answers: tuple[OcspAnswer, ...]

    @classmethod
    def from_der(cls, der: bytes) -> OcspResponse:
        if not isinstance(der, bytes) or not der or len(der) > MAX_OCSP_SIZE:
            raise OcspFormatError(f"an OCSP response must be 1..{MAX_OCSP_SIZE} bytes of DER")
        try:
            return _parse(der)
        except OcspFormatError:
            raise
        except (*_PARSE_ERRORS, SealTrustError) as exc:
            raise OcspFormatError(f"malformed OCSP response: {exc}"[:300]) from None

    def answer_for(self, cert: Certificate, issuer: Certificate) -> OcspAnswer | None:
        """The answer about ``cert`` if this response is authentic for ``issuer``'s certificates.

        Threat: a response signed by anyone but the issuer or its designated
        responder, or about another certificate, vouching for a revoked one.
        """
        answers = [a for a in self.answers if a.names(cert, issuer)]
        if not answers or not self._signed_for(issuer):
            return None
        return answers[0]

    def _signed_for(self, issuer: Certificate) -> bool:
        candidates = [issuer, *(c for c in self.certificates if _designated(c, issuer))]
        for signer in candidates:
            if self.responder_name is not None and _name_key(signer.subject_der) != \
                    self.responder_name:
                continue
            if self.responder_key_hash is not None and not hmac.compare_digest(
                    _key_hash("sha1", signer.spki_der), self.responder_key_hash):
                continue
            if _verified(signer.spki_der, self.signature_oid, self.tbs_der, self.signature):
                return True
        return False


def _designated(responder: Certificate, issuer: Certificate) -> bool:
    """Issued by ``issuer`` (name and signature) for OCSP signing."""
    return (responder.issuer_der == issuer.subject_der
            and responder.ext_key_usage is not None and _OCSP_SIGNING in responder.ext_key_usage
            and _verified(issuer.spki_der, responder.signature_oid, responder.tbs_der,
                          responder.signature))


@lru_cache(maxsize=1024)
def _verified(spki: bytes, oid: str, tbs: bytes, signature: bytes) -> bool:
    try:
        return verify_signature(spki, oid, tbs, signature)
    except SealTrustError:
        return False


@lru_cache(maxsize=256)
def _name_key(name_der: bytes) -> str:
    key: str = x509.Name.load(name_der).hashable
    return key


@lru_cache(maxsize=256)
def _key_hash(algorithm: str, spki_der: bytes) -> bytes:
    bits = asn1_keys.PublicKeyInfo.load(spki_der)["public_key"].contents[1:]
    return hashlib.new(algorithm, bits).digest()


def _time(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise OcspFormatError(f"OCSP {what} is not a valid time")
    return value


def _parse(der: bytes) -> OcspResponse:
    response = ocsp.OCSPResponse.load(der, strict=True)
    if response["response_status"].native != "successful":
        raise OcspFormatError(f"OCSP response status {response['response_status'].native}")
    body = response["response_bytes"]
    if body["response_type"].native != "basic_ocsp_response":
        raise OcspFormatError("not a basic OCSP response")
    basic = body["response"].parsed
    tbs = basic["tbs_response_data"]
    responder = tbs["responder_id"]
    name = responder.chosen.hashable if responder.name == "by_name" else None
    key_hash = responder.chosen.native if responder.name == "by_key" else None
    singles = tbs["responses"]
    if len(singles) > _MAX_SINGLE:
        raise OcspFormatError(f"OCSP response with more than {_MAX_SINGLE} answers")
    answers = []
    for single in singles:
        cert_id = single["cert_id"]
        status = single["cert_status"]
        revoked_at = (_time(status.chosen["revocation_time"].native, "revocation time")
                      if status.name == "revoked" else None)
        next_update = single["next_update"].native
        answers.append(OcspAnswer(
            cert_id["hash_algorithm"]["algorithm"].native, cert_id["issuer_name_hash"].native,
            cert_id["issuer_key_hash"].native, int(cert_id["serial_number"].native), status.name,
            revoked_at, _time(single["this_update"].native, "thisUpdate"),
            None if next_update is None else _time(next_update, "nextUpdate")))
    bag = basic["certs"]
    listed = [] if isinstance(bag, core.Void) else [bag[i] for i in range(min(len(bag), 8))]
    certs = tuple(parse_cached(c.dump()) for c in listed)
    signature = basic["signature"].native
    if not isinstance(signature, bytes):
        raise OcspFormatError("OCSP signature is not a byte string")
    return OcspResponse(der, tbs.dump(), basic["signature_algorithm"]["algorithm"].dotted,
                        signature, name, key_hash, certs, tuple(answers))
