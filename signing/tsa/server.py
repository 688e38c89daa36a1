"""The built-in RFC 3161 time-stamping authority.

Every licence signature gets a signature time-stamp (PAdES B-T); calling an
external TSA per licence would cap issuance at the TSA's round-trip time, so
SealTrust runs its own TSA in-process over any :class:`trust.keys.SigningKey`
(SM2/SM3 or RSA/SHA-256). The same object answers DER requests from the HTTP
route, so one implementation serves both paths.

Tokens are CMS SignedData over a TSTInfo with the RFC 5035 ESSCertIDv2
signing-certificate attribute, the request nonce echoed, and serial numbers
unique per authority (a random 62-bit instance prefix over a counter).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

from asn1crypto import algos, core, tsp, x509

from signing.tsa.errors import TimestampConfigError, TimestampError
from signing.tsa.signed_data import TST_INFO_OID, SignedDataTemplate, digest, tlv
from trust.keys import SigningKey

__all__ = ["DIGEST_SIZES", "MAX_REQUEST_BYTES", "BuiltinTSA", "response_status"]

# Message-imprint algorithms accepted from requesters, with their digest sizes.
DIGEST_SIZES: Final = {"sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32}
MAX_REQUEST_BYTES: Final = 16 * 1024
_PARSE_ERRORS: Final = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


class _Rejected(Exception):
    """Internal: a request the TSA answers with a PKIStatus 'rejection'."""

    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


class BuiltinTSA:
    """An RFC 3161 TSA signing with ``key`` under ``cert_chain`` (leaf first).

    ``clock`` supplies the time put into tokens and must return timezone-aware
    datetimes (a naive one raises :class:`TimestampError` rather than guess).

        >>> tsa = BuiltinTSA(key, [tsa_cert, root_cert], "1.2.3.4", clock)  # doctest: +SKIP
        >>> response_der = tsa.respond(request_der)  # doctest: +SKIP
        >>> response_status(response_der)  # doctest: +SKIP
        ('granted', '', frozenset())
    """

    def __init__(
        self,
        key: SigningKey,
        cert_chain: Sequence[bytes],
        policy_oid: str,
        clock: Callable[[], datetime],
        *,
        accuracy_seconds: int = 1,
    ) -> None:
        if not cert_chain:
            raise TimestampConfigError("the TSA needs its certificate chain (leaf first)")
        try:
            certs = [x509.Certificate.load(bytes(der), strict=True) for der in cert_chain]
            leaf = certs[0]
            leaf_spki = leaf.public_key.dump()
            eku = leaf.extended_key_usage_value
            core.ObjectIdentifier(policy_oid).dump()
        except _PARSE_ERRORS as exc:
            raise TimestampConfigError(f"malformed TSA certificate or policy: {exc}") from exc
        if leaf_spki != key.public_key_der():
            raise TimestampConfigError("TSA key does not match the TSA certificate")
        if eku is None or eku.native != ["time_stamping"]:
            raise TimestampConfigError(
                "RFC 3161 2.3: the TSA certificate must carry exactly the timeStamping EKU"
            )
        if accuracy_seconds < 1:
            raise TimestampConfigError("accuracy must be at least one second")
        self._key = key
        self._policy = policy_oid
        self._clock = clock
        self._accuracy = accuracy_seconds
        self._template = SignedDataTemplate(key, cert_chain)
        self._leaf_der = bytes(cert_chain[0])
        self._policy_der = bytes(core.ObjectIdentifier(policy_oid).dump())
        self._accuracy_der = tlv(0x30, bytes(core.Integer(accuracy_seconds).dump()))
        tsa_name = x509.GeneralName({"directory_name": leaf.subject})
        self._tsa_name_der = tlv(0xA0, bytes(tsa_name.dump()))  # tsa [0] EXPLICIT GeneralName
        # Unique serials without shared state: random instance prefix, then a
        # counter (itertools.count.__next__ is atomic under the GIL).
        self._serial_prefix = (secrets.randbits(62) | (1 << 62)) << 64
        self._counter = itertools.count(1)

    @property
    def certificate(self) -> bytes:
        """DER of the TSA's own certificate."""
        return self._leaf_der

    @property
    def policy_oid(self) -> str:
        return self._policy

    def respond(self, request_der: bytes) -> bytes:
        """DER TimeStampResp for a DER TimeStampReq; bad requests get a rejection, not an error."""
        if len(request_der) > MAX_REQUEST_BYTES:
            return _rejection("bad_data_format", "request too large")
        try:
            request = tsp.TimeStampReq.load(bytes(request_der), strict=True)
            request.native  # noqa: B018  (force a full parse inside the guard)
        except _PARSE_ERRORS as exc:
            return _rejection("bad_data_format", f"malformed TimeStampReq: {exc}")
        return self.stamp(request)

    def stamp(self, request: tsp.TimeStampReq) -> bytes:
        """DER TimeStampResp for a parsed request (the in-process path used by pyHanko).

        Returned as DER because asn1crypto cannot load a response without a
        token: a rejection is only parseable field by field.
        """
        try:
            imprint, nonce, cert_req = self._check(request)
        except _Rejected as rej:
            return _rejection(rej.fail_info, rej.text)
        token = self._token(imprint, nonce, include_certs=cert_req)
        # PKIStatusInfo { status granted (0) } followed by the token.
        return tlv(0x30, b"\x30\x03\x02\x01\x00" + token)

    def token_for(self, md_algorithm: str, message_digest: bytes) -> bytes:
        """DER TimeStampToken for a digest, with no request or response around it.

        The in-process path: the caller is this process, so encoding a
        TimeStampReq only to parse it again, and wrapping the token in a
        response only to unwrap it, cost ~0.3 ms a licence and checked
        nothing new. Same token as :meth:`stamp` (certificates and a fresh
        nonce included); the same imprint rules refuse with
        :class:`TimestampError`.
        """
        try:
            _check_imprint(md_algorithm, message_digest)
        except _Rejected as rej:
            raise TimestampError(rej.text) from None
        imprint = _imprint_prefix(md_algorithm) + tlv(0x04, message_digest)
        return self._token(tlv(0x30, imprint), secrets.randbits(63), include_certs=True)

    def _check(self, request: tsp.TimeStampReq) -> tuple[bytes, int | None, bool]:
        try:
            if request["version"].native != "v1":
                raise _Rejected("bad_request", "only TimeStampReq version 1 is supported")
            imprint = request["message_imprint"]
            md = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            policy = request["req_policy"].native
            nonce = request["nonce"].native
            cert_req = bool(request["cert_req"].native)
            has_extensions = request["extensions"].native is not None
        except _PARSE_ERRORS as exc:
            raise _Rejected("bad_data_format", f"malformed TimeStampReq: {exc}") from exc
        _check_imprint(md, digest)
        if policy is not None and policy != self._policy:
            raise _Rejected("unaccepted_policy", f"policy {policy} is not offered")
        if has_extensions:
            raise _Rejected("unaccepted_extensions", "request extensions are not supported")
        return bytes(imprint.dump()), nonce, cert_req

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise TimestampError("the TSA clock returned a naive datetime")
        return now.astimezone(UTC).replace(microsecond=0)

    def _token(self, imprint: bytes, nonce: int | None, *, include_certs: bool) -> bytes:
        """TimeStampToken: TSTInfo (RFC 3161 2.4.2) signed through the SignedData template."""
        serial = self._serial_prefix | next(self._counter)
        gen_time = self._now().strftime("%Y%m%d%H%M%SZ").encode("ascii")
        tst_info = tlv(
            0x30,
            b"".join(
                (
                    b"\x02\x01\x01",  # version v1
                    self._policy_der,
                    imprint,  # echoed as received (RFC 3161 2.4.2)
                    bytes(core.Integer(serial).dump()),
                    tlv(0x18, gen_time),  # GeneralizedTime
                    self._accuracy_der,
                    bytes(core.Integer(nonce).dump()) if nonce is not None else b"",
                    self._tsa_name_der,
                )
            ),
        )
        template = self._template
        pending = template.sign(
            TST_INFO_OID,
            digest(template.md, tst_info),
            content=tst_info,
            include_certs=include_certs,
        )
        return pending.finish()


def _check_imprint(md_algorithm: str, digest: object) -> None:
    """The imprint rules both paths apply: an accepted algorithm, a digest of its size."""
    size = DIGEST_SIZES.get(md_algorithm)
    if size is None:
        raise _Rejected("bad_alg", f"message imprint algorithm {md_algorithm} is not accepted")
    if not isinstance(digest, bytes) or len(digest) != size:
        raise _Rejected("bad_data_format", f"{md_algorithm} imprint must be {size} bytes")


@lru_cache(maxsize=8)
def _imprint_prefix(md_algorithm: str) -> bytes:
    """DER AlgorithmIdentifier of a MessageImprint, as pyHanko's client encodes it."""
    return bytes(algos.DigestAlgorithm({"algorithm": md_algorithm}).dump())


def _rejection(fail_info: str, text: str) -> bytes:
    """A TimeStampResp carrying only a PKIStatusInfo 'rejection' (no token, RFC 3161 2.4.2)."""
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [text[:200]], "fail_info": {fail_info}}
    )
    return tlv(0x30, bytes(status.dump()))


def response_status(response_der: bytes) -> tuple[str, str, frozenset[str]]:
    """(status, status text, failure names) of a DER TimeStampResp, token or not."""
    try:
        outer = core.Sequence.load(bytes(response_der), strict=True)
        info = tsp.PKIStatusInfo.load(outer[0].dump())
        text = "; ".join(info["status_string"].native or ())
        return info["status"].native, text, frozenset(info["fail_info"].native or ())
    except _PARSE_ERRORS as exc:
        raise TimestampError(f"malformed TimeStampResp: {exc}") from exc
