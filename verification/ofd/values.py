"""Signed values of OFD signatures: what each vendor's value file holds, decided by content.

- Type Seal: a GB/T 38540 V4 or GM/T 0031 V1 ``SES_Signature`` (trust.seal).
- Type Sign: a GB/T 35275 SignedData (GM OID or the PKCS#7 one) whose content,
  or messageDigest attribute, is SM3(Signature.xml), the content sometimes
  base64 text (GM/T 0099 §7.2.2; ofdrw accepts the same).
- Anything else, e.g. a bare SM2 signature with no certificate, cannot name
  its signer: it is reported, never verified against a guessed key.

A Sign value is read (:func:`plan_sign_value`) before its signature is verified
(:func:`finish_sign_value`), so that the bulk engine can verify a chunk's
signatures together (``verification.sm2_batch``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from asn1crypto import algos, cms, core

from trust import oids
from trust.keys import UnsupportedKeyError
from verification import sm2_batch
from verification.certinfo import cert_info
from verification.der import Unusual, children, element
from verification.sm2_batch import SignatureInput

__all__ = ["SignCheck", "SignPlan", "declared_unused_bits_cleared", "finish_sign_value",
           "plan_sign_value", "sm2_der_signature"]

_SIGNED_DATA_OIDS = frozenset({oids.GMT0010_SIGNED_DATA, "1.2.840.113549.1.7.2"})
_SM3_OIDS = frozenset({oids.SM3, "sm3"})


@dataclass(frozen=True, slots=True)
class SignCheck:
    """Integrity facts of a Type="Sign" value (None: could not be decided)."""

    digest_matches: bool | None
    signature_valid: bool | None
    detail: str
    signer_cert: bytes | None = None
    certificates: tuple[bytes, ...] = ()


class _Outer(core.Sequence):
    _fields = [("content_type", core.ObjectIdentifier), ("content", core.Any, {"explicit": 0})]


def sm2_der_signature(value: bytes) -> bytes:
    """A DER ``SEQUENCE{r, s}`` from DER or from the raw 64-byte r||s some vendors write."""
    if len(value) == 64 and value[0] != 0x30:
        r = int.from_bytes(value[:32], "big")
        s = int.from_bytes(value[32:], "big")
        return bytes(algos.DSASignature({"r": r, "s": s}).dump())
    return value


def declared_unused_bits_cleared(value: bytes) -> bytes:
    """A V4 ``SES_Signature`` whose signature BIT STRING declares unused bits, rewritten
    with 0 declared (the value bytes unchanged), so that the strict DER reader takes it.

    Some writers declare unused bits on the SM2 signature. The field lies outside
    TBS_Sign, which alone is signed, and its bytes are kept exactly, so the
    signature still has to verify over them: nothing signed is altered. Any other
    shape is returned as it came (and judged strictly).
    """
    try:
        top = element(value, 0, len(value))
        members = children(value, top) if top.tag == 0x30 and top.end == len(value) else []
    except Unusual:
        return value
    if len(members) not in (4, 5) or members[3].tag != 0x03:
        return value
    bits = members[3]
    if bits.end == bits.body or not 0 < value[bits.body] <= 7:
        return value
    fixed = value[:bits.body] + b"\x00" + value[bits.body + 1:]
    return fixed


@dataclass(frozen=True, slots=True)
class SignPlan:
    """A Sign value read up to its signature verification: ``done`` when it was decided
    without one, else the one verification that decides it."""

    done: SignCheck | None
    spki: bytes = b""
    signature_oid: str = ""
    message: bytes = b""  # the very object finish_sign_value verifies (the batch's key)
    signature: bytes = b""
    signer: bytes | None = None
    certificates: tuple[bytes, ...] = ()

    def signature_input(self) -> SignatureInput | None:
        """The verification :func:`finish_sign_value` will make, if any."""
        if self.done is not None:
            return None
        return self.spki, self.signature_oid, self.message, self.signature


def plan_sign_value(value: bytes, digest: bytes) -> SignPlan:
    """Read a Sign value (``digest`` = SM3(Signature.xml)) up to its one signature
    verification, which :func:`finish_sign_value` makes."""
    try:
        outer = _Outer.load(value, strict=False)
        content_type = outer["content_type"].dotted
        if content_type not in _SIGNED_DATA_OIDS:
            raise ValueError(f"content type {content_type}")
        signed = outer["content"].parse(cms.SignedData)
        signer_infos = signed["signer_infos"]
        _ = len(signer_infos)
    except (ValueError, TypeError, KeyError) as exc:
        return SignPlan(SignCheck(
            None,
            None,
            "the signed value is not a GB/T 35275 SignedData (a bare signature names no "
            f"signer certificate, so the signer cannot be identified): {exc}"[:300],
        ))
    try:
        return _read(signed, digest)
    except (ValueError, TypeError, KeyError) as exc:
        return SignPlan(_malformed(exc))


def finish_sign_value(plan: SignPlan) -> SignCheck:
    """The verdict of a planned Sign value: its signature verified through
    ``sm2_batch.verify`` (answered from the chunk's batch when it was gathered)."""
    if plan.done is not None:
        return plan.done
    try:
        ok = sm2_batch.verify(plan.spki, plan.signature_oid, plan.message, plan.signature)
    except UnsupportedKeyError as exc:
        return SignCheck(True, None, exc.message, plan.signer, plan.certificates)
    except (ValueError, TypeError, KeyError) as exc:  # as the one-piece check caught them
        return _malformed(exc)
    return SignCheck(True, ok, "" if ok else "the SignedData signature does not verify",
                     plan.signer, plan.certificates)


def _malformed(exc: Exception) -> SignCheck:
    return SignCheck(None, None, f"malformed GB/T 35275 SignedData: {exc}"[:300])


def _read(signed: cms.SignedData, digest: bytes) -> SignPlan:
    """Everything decided about a Sign value before its one verification."""
    certs = tuple(
        bytes(c.chosen.dump())
        for c in (signed["certificates"] if not isinstance(signed["certificates"], core.Void)
                  else ())
        if c.name == "certificate"
    )
    if len(signed["signer_infos"]) != 1:
        count = len(signed["signer_infos"])
        return SignPlan(SignCheck(None, None, f"expected one SignerInfo, found {count}", None,
                                  certs))
    si = signed["signer_infos"][0]
    signer = _signer(si["sid"], certs)
    if signer is None:
        return SignPlan(SignCheck(None, None, "the SignerInfo names no embedded certificate",
                                  None, certs))
    digest_alg = si["digest_algorithm"]["algorithm"].dotted
    if digest_alg not in _SM3_OIDS and si["digest_algorithm"]["algorithm"].native != "sm3":
        return SignPlan(SignCheck(None, None, f"digest algorithm {digest_alg} is not SM3",
                                  signer, certs))
    encap = signed["encap_content_info"]["content"]
    content: bytes | None = None
    if not isinstance(encap, core.Void):
        content = bytes(encap.parsed.native if isinstance(encap, core.ParsableOctetString)
                        else encap.native)
        # The content is SM3(Signature.xml), raw or as base64 text (a common vendor form).
        if not (hmac.compare_digest(content, digest) or _b64_equals(content, digest)):
            return SignPlan(SignCheck(False, None, "the signed content is not SM3(Signature.xml)",
                                      signer, certs))
    attrs = si["signed_attrs"]
    if not isinstance(attrs, core.Void):
        md = next((a["values"][0].native for a in attrs if a["type"].native == "message_digest"),
                  None)
        if not isinstance(md, bytes) or not hmac.compare_digest(md, digest):
            return SignPlan(SignCheck(False, None, "messageDigest is not SM3(Signature.xml)",
                                      signer, certs))
        message = b"\x31" + bytes(attrs.dump())[1:]  # signed as SET OF, not [0] IMPLICIT
    elif content is not None:
        message = content
    else:
        return SignPlan(SignCheck(
            None, None, "detached SignedData without signed attributes binds nothing",
            signer, certs))
    sig_oid = si["signature_algorithm"]["algorithm"].dotted
    oid = oids.SM2_WITH_SM3 if sig_oid in (oids.SM2_1_SIGN, oids.SM2_WITH_SM3) else sig_oid
    return SignPlan(None, cert_info(signer).spki, oid, message,
                    sm2_der_signature(bytes(si["signature"].native)), signer, certs)


def _b64_equals(content: bytes, digest: bytes) -> bool:
    try:
        decoded = base64.b64decode(content.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(decoded, digest)


def _signer(sid: cms.SignerIdentifier, certs: tuple[bytes, ...]) -> bytes | None:
    if sid.name != "issuer_and_serial_number":
        return None
    wanted = sid.chosen
    for der in certs:
        info = cert_info(der)
        if info.serial_number == wanted["serial_number"].native and (
            info.issuer_der == bytes(wanted["issuer"].dump())
        ):
            return der
    return None
