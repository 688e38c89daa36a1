"""X.509 v2 certificate revocation lists (RFC 5280 section 5), signed by the issuing CA.

Relying parties outside SealTrust (Adobe, pyHanko, EU DSS, other provinces'
verifiers) check certificate revocation with CRLs, not with our registry or
signed status lists, so each CA of the deployment publishes one. SM2 CAs sign
with SM2/SM3 (the same ``sm2sm3`` algorithm as their certificates), RSA CAs
with SHA-256; the signature is checked right after signing, as certificates
are, so a faulty key store never publishes a CRL that does not verify.

The reading side (:class:`Crl`, :class:`CrlStore`) is what an offline
verifier uses whenever the registry is not consulted: complete CRLs only
(no delta, partial or indirect ones), matched to a CA by issuer name and
key identifier, signature checked against that CA, freshness against the
validation time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

from asn1crypto import crl, x509

from trust.errors import InputError, SealTrustError
from trust.keys import SigningKey, signature_algorithm_oid
from trust.keys import verify_signature as _verify
from trust.pki.build import key_identifier, x509_time
from trust.pki.certificate import Certificate
from trust.pki.errors import CertificateBuildError, require_aware

__all__ = ["REASONS", "Crl", "CrlFormatError", "CrlStore", "RevokedCertificate", "build_crl"]

# RFC 5280 CRLReason names as asn1crypto spells them (removeFromCRL has no place here).
REASONS: Final = frozenset({
    "unspecified", "key_compromise", "ca_compromise", "affiliation_changed", "superseded",
    "cessation_of_operation", "certificate_hold", "privilege_withdrawn", "aa_compromise",
})


@dataclass(frozen=True, slots=True)
class RevokedCertificate:
    """One CRL entry: the certificate's serial, when it was revoked, and why."""

    serial: int
    revoked_at: datetime
    reason: str = "unspecified"


def build_crl(
    issuer: Certificate,
    issuer_key: SigningKey,
    revoked: Sequence[RevokedCertificate],
    *,
    this_update: datetime,
    next_update: datetime,
    number: int,
    signer: Certificate | None = None,
) -> bytes:
    """The DER CRL of ``issuer`` listing ``revoked``, numbered ``number`` (monotonic).

    With ``signer`` (a delegated CRL signer, RFC 5280 6.3.3 (f)) ``issuer_key``
    is the signer's: a certificate ``issuer`` gave its own name and cRLSign, so
    the CA's key (a root kept offline) need not be online to publish CRLs.
    """
    require_aware(this_update, "this_update")
    require_aware(next_update, "next_update")
    if not this_update < next_update:
        raise CertificateBuildError("this_update must precede next_update")
    if not issuer.is_ca:
        raise CertificateBuildError(f"{issuer.subject_text} is not a CA: it cannot sign CRLs")
    key_holder = issuer if signer is None else signer
    if signer is not None and (
        signer.subject_der != issuer.subject_der or signer.issuer_der != issuer.subject_der
        or signer.key_usage is None or "crl_sign" not in signer.key_usage
    ):
        raise CertificateBuildError(f"{signer.subject_text} is not a CRL signer of the CA")
    if issuer_key.public_key_der() != key_holder.spki_der:
        raise CertificateBuildError("the CRL signing key does not match the issuer certificate")
    if number < 0:
        raise CertificateBuildError("the CRL number must not be negative")
    entries = []
    for entry in sorted(revoked, key=lambda e: e.serial):
        require_aware(entry.revoked_at, "revoked_at")
        if entry.reason not in REASONS:
            raise CertificateBuildError(f"unknown revocation reason {entry.reason!r}; "
                                        f"one of {', '.join(sorted(REASONS))}")
        entries.append({
            "user_certificate": entry.serial,
            "revocation_date": x509_time(entry.revoked_at),
            "crl_entry_extensions": [
                {"extn_id": "crl_reason", "critical": False, "extn_value": entry.reason}],
        })
    algorithm = {"algorithm": signature_algorithm_oid(issuer_key.algorithm)}
    tbs = crl.TbsCertList({
        "version": "v2",
        "signature": algorithm,
        "issuer": x509.Name.load(issuer.subject_der),
        "this_update": x509_time(this_update),
        "next_update": x509_time(next_update),
        "revoked_certificates": entries or None,
        "crl_extensions": [
            {"extn_id": "authority_key_identifier", "critical": False,
             "extn_value": {"key_identifier": key_holder.ski
                            or key_identifier(key_holder.spki_der)}},
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
        ],
    })
    tbs_der = tbs.dump()
    signature = issuer_key.sign(tbs_der)
    if not _verify(key_holder.spki_der, algorithm["algorithm"], tbs_der, signature):
        raise CertificateBuildError("the CA key produced a CRL signature that does not verify")
    return bytes(crl.CertificateList({
        "tbs_cert_list": tbs, "signature_algorithm": algorithm, "signature": signature,
    }).dump())


# ---------------------------------------------------------------- reading side
MAX_CRL_SIZE: Final = 8 * 1024 * 1024
MAX_CRL_ENTRIES: Final = 500_000
_CERTIFICATE_HOLD: Final = "certificate_hold"
# CRL extensions whose meaning is applied here; any other critical one refuses the CRL.
# issuingDistributionPoint (2.5.29.28) and deltaCRLIndicator (2.5.29.27) are left out on
# purpose: a partial or delta CRL read as complete would hide revocations.
_HANDLED_CRL_EXTENSIONS: Final = frozenset({"2.5.29.20", "2.5.29.35"})
_HANDLED_ENTRY_EXTENSIONS: Final = frozenset({"2.5.29.21", "2.5.29.24"})
_PARSE_ERRORS: Final = (ValueError, TypeError, KeyError, AttributeError, IndexError,
                        OverflowError, RecursionError)


class CrlFormatError(InputError):
    """A CRL that cannot be read, or one SealTrust does not accept as a complete CRL."""

    code = "crl.invalid"


@dataclass(frozen=True, slots=True)
class Crl:
    """A parsed, complete X.509 v2 CRL; parsed once, looked up by serial.

    Signature and freshness are *not* judged at parse time: :meth:`signed_by`
    checks the signature against a CA, :meth:`fresh_at` the update window,
    each against the caller's CA and validation time.
    """

    der: bytes
    tbs_der: bytes
    signature_oid: str
    signature: bytes
    issuer_der: bytes
    issuer_key: str  # RFC 5280 normalised name: how a CRL is matched to its CA
    aki: bytes | None
    this_update: datetime
    next_update: datetime | None
    number: int | None
    revoked: dict[int, RevokedCertificate]

    @classmethod
    def from_der(cls, der: bytes) -> Crl:
        """Parse; bad, delta, partial or indirect CRLs raise :class:`CrlFormatError`."""
        if not isinstance(der, bytes) or not der or len(der) > MAX_CRL_SIZE:
            raise CrlFormatError(f"a CRL must be 1..{MAX_CRL_SIZE} bytes of DER")
        try:
            return _parse_crl(der)
        except CrlFormatError:
            raise
        except _PARSE_ERRORS as exc:
            raise CrlFormatError(f"malformed CRL: {exc}"[:300]) from None

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.der).digest()

    def fresh_at(self, at: datetime, skew: timedelta = timedelta(seconds=30)) -> bool:
        """Issued by ``at`` (with skew) and ``at`` not past nextUpdate; no nextUpdate: never.

        Threat: a CRL replayed after its nextUpdate hides every revocation made
        since; one dated after the validation time says nothing about that time.
        """
        require_aware(at, "at")
        if self.next_update is None:
            return False
        return self.this_update - skew <= at <= self.next_update + skew

    def entry(self, serial: int) -> RevokedCertificate | None:
        return self.revoked.get(serial)

    def signed_by(self, ca: Certificate, signers: Sequence[Certificate] = ()) -> bool:
        """True iff this is ``ca``'s CRL: the issuer name is the CA's and the signature
        verifies under the CA key, or under a CRL-signing certificate from ``signers``
        that the CA issued under its own name with the cRLSign key usage (RFC 5280
        6.3.3 (f); how a deployment signs CRLs with a dedicated list-signing key).

        Threat: a CRL from another CA (or forged) declaring a revoked certificate good.
        """
        if _crl_name_key(ca.subject_der) != self.issuer_key:
            return False
        for key_holder in (ca, *signers):
            if key_holder is not ca and not _delegated_crl_signer(key_holder, ca):
                continue
            if not _can_sign_crls(key_holder):
                continue
            if self.aki is not None and key_holder.ski is not None and self.aki != key_holder.ski:
                continue
            if _signature_ok(key_holder.spki_der, self.signature_oid, self.tbs_der,
                             self.signature):
                return True
        return False


def _can_sign_crls(cert: Certificate) -> bool:
    return cert.key_usage is None or "crl_sign" in cert.key_usage


def _delegated_crl_signer(cert: Certificate, ca: Certificate) -> bool:
    """A certificate named like ``ca``, issued by ``ca`` (signature checked), allowed cRLSign."""
    return (cert.der != ca.der and cert.subject_der == ca.subject_der
            and _crl_name_key(cert.issuer_der) == _crl_name_key(ca.subject_der)
            and cert.key_usage is not None and "crl_sign" in cert.key_usage
            and _signature_ok(ca.spki_der, cert.signature_oid, cert.tbs_der, cert.signature))


@lru_cache(maxsize=4096)
def _signature_ok(spki: bytes, oid: str, tbs: bytes, signature: bytes) -> bool:
    try:
        return _verify(spki, oid, tbs, signature)
    except SealTrustError:
        return False


@lru_cache(maxsize=1024)
def _crl_name_key(name_der: bytes) -> str:
    try:
        key: str = x509.Name.load(name_der).hashable
    except _PARSE_ERRORS:
        return "der:" + name_der.hex()
    return key


def _aware_time(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise CrlFormatError(f"CRL {what} is not a valid time")
    return value


def _parse_crl(der: bytes) -> Crl:
    parsed = crl.CertificateList.load(der, strict=True)
    tbs = parsed["tbs_cert_list"]
    if tbs["signature"].dump() != parsed["signature_algorithm"].dump():
        raise CrlFormatError("CRL signature algorithm differs inside and outside the TBS")
    aki: bytes | None = None
    number: int | None = None
    for ext in tbs["crl_extensions"] or ():
        oid = ext["extn_id"].dotted
        if oid not in _HANDLED_CRL_EXTENSIONS:
            if ext["critical"].native:
                raise CrlFormatError(f"CRL has an unsupported critical extension {oid} "
                                     "(delta, partial or indirect CRLs are not accepted)")
            continue
        if oid == "2.5.29.35":
            aki = ext["extn_value"].parsed["key_identifier"].native
        else:
            number = int(ext["extn_value"].parsed.native)
    entries = tbs["revoked_certificates"]
    if len(entries) > MAX_CRL_ENTRIES:
        raise CrlFormatError(f"CRL has more than {MAX_CRL_ENTRIES} entries")
    revoked: dict[int, RevokedCertificate] = {}
    for entry in entries:
        reason = "unspecified"
        for ext in entry["crl_entry_extensions"] or ():
            oid = ext["extn_id"].dotted
            if oid not in _HANDLED_ENTRY_EXTENSIONS:
                if ext["critical"].native:
                    raise CrlFormatError(f"CRL entry has an unsupported critical extension {oid} "
                                         "(indirect CRLs are not accepted)")
                continue
            if oid == "2.5.29.21":
                reason = str(ext["extn_value"].parsed.native)
        serial = int(entry["user_certificate"].native)
        revoked[serial] = RevokedCertificate(
            serial, _aware_time(entry["revocation_date"].native, "revocation date"), reason)
    next_update = tbs["next_update"].native
    signature = parsed["signature"].native
    if not isinstance(signature, bytes):
        raise CrlFormatError("CRL signature is not a byte string")
    return Crl(
        der=der, tbs_der=tbs.dump(),
        signature_oid=parsed["signature_algorithm"]["algorithm"].dotted,
        signature=signature, issuer_der=tbs["issuer"].dump(),
        issuer_key=_crl_name_key(tbs["issuer"].dump()), aki=aki,
        this_update=_aware_time(tbs["this_update"].native, "thisUpdate"),
        next_update=None if next_update is None else _aware_time(next_update, "nextUpdate"),
        number=number, revoked=revoked)


class CrlStore:
    """CRLs by issuer name, matched to a CA certificate on demand (cached per CA).

    Works by CA, not by a configured key: any CRL whose issuer is the CA's
    name and whose signature verifies under the CA (or a CRL-signing
    certificate it issued, from ``signers``) is the CA's CRL. Of several, the
    highest CRL number (then the latest thisUpdate) fresh at the time wins.
    """

    def __init__(self, crls: Iterable[Crl] = (), signers: Iterable[Certificate] = ()) -> None:
        self._by_name: dict[str, list[Crl]] = {}
        for item in crls:
            self._by_name.setdefault(item.issuer_key, []).append(item)
        self.signers = tuple(signers)
        self._of_ca: dict[bytes, tuple[Crl, ...]] = {}

    @classmethod
    def from_der(cls, blobs: Iterable[bytes], signers: Iterable[Certificate] = ()) -> CrlStore:
        """Parse every CRL; a malformed one raises :class:`CrlFormatError` (bundles are signed
        trust material: a broken file is an error to report, not something to skip)."""
        return cls([Crl.from_der(b) for b in blobs], signers)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_name.values())

    def __iter__(self) -> Iterator[Crl]:
        for items in self._by_name.values():
            yield from items

    def merged(self, other: Iterable[Crl]) -> CrlStore:
        return CrlStore([*self, *other], self.signers)

    def of_ca(self, ca: Certificate) -> tuple[Crl, ...]:
        """The CA's verified CRLs, best first (highest number, then latest thisUpdate)."""
        hit = self._of_ca.get(ca.sha256)
        if hit is None:
            mine = [c for c in self._by_name.get(_crl_name_key(ca.subject_der), ())
                    if c.signed_by(ca, self.signers)]
            mine.sort(key=lambda c: (c.number if c.number is not None else -1, c.this_update),
                      reverse=True)
            hit = self._of_ca[ca.sha256] = tuple(mine)
        return hit

    def __getstate__(self) -> dict[str, object]:
        return {"ders": [c.der for c in self], "signers": [c.der for c in self.signers]}

    def __setstate__(self, state: dict[str, object]) -> None:
        ders, signers = state["ders"], state["signers"]
        assert isinstance(ders, list)
        assert isinstance(signers, list)
        self.__init__([Crl.from_der(d) for d in ders],  # type: ignore[misc]
                      [Certificate.from_der(d) for d in signers])
