"""Certificate revocation from revocation data, for every certificate of a path.

Used whenever the registry is not consulted: offline (CRLs from the bundle
or a configured directory, certificate status entries of the signed status
lists) and for foreign PAdES signatures (CRLs and OCSP responses embedded in
the file, DSS). The rule (fail closed): every certificate of the validated
path except the trust anchor must be *covered* -- its issuer's CRL or an
OCSP answer or a status entry about it, authentic and fresh at the
validation time. One revoked certificate fails the path; one uncovered
certificate makes it INDETERMINATE, however many others are covered.

| outcome | indication / sub-indication |
|---|---|
| the signer revoked at or before the validation time | TOTAL_FAILED / REVOKED |
| a CA of the path revoked | TOTAL_FAILED / REVOKED_CA_NO_POE |
| on hold (certificateHold) | INDETERMINATE / TRY_LATER |
| data for a certificate exists, none fresh | INDETERMINATE / REVOCATION_OUT_OF_BOUNDS_NO_POE |
| no revocation data for a certificate | INDETERMINATE / TRY_LATER |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Final, Protocol, runtime_checkable

from trust.indications import Check, Indication, SubIndication
from trust.pki.certificate import Certificate, parse_cached
from trust.pki.crl import Crl, CrlFormatError, CrlStore
from trust.pki.ocsp import OcspFormatError, OcspResponse

__all__ = [
    "EMBEDDED",
    "HoldsRevocationData",
    "RevocationData",
    "archived_material",
    "embedded_data",
    "embedded_revocation",
    "path_revocation",
]

SKEW: Final = timedelta(seconds=30)
EMBEDDED: Final = "embedded in the file"
_NAME: Final = "revocation"


@dataclass(frozen=True)
class RevocationData:
    """Revocation evidence a verifier holds: CRLs, OCSP responses, status entries.

    ``entries`` maps a certificate's SHA-256 to its revocation time (None:
    not revoked), from signed status lists already checked fresh by the caller.
    """

    crls: CrlStore = field(default_factory=CrlStore)
    ocsps: tuple[OcspResponse, ...] = ()
    entries: Mapping[bytes, datetime | None] = field(default_factory=dict)
    source: str = "offline bundle"


@dataclass(frozen=True, slots=True)
class _Verdict:
    state: str  # good | revoked | hold | stale | none
    detail: str


def _one(cert: Certificate, issuer: Certificate, at: datetime, data: RevocationData) -> _Verdict:
    """What the evidence says about ``cert`` at ``at``; revoked evidence wins over good."""
    seen_stale = False
    good: str | None = None
    if cert.sha256 in data.entries:
        revoked_at = data.entries[cert.sha256]
        if revoked_at is not None and revoked_at <= at:
            return _Verdict("revoked", f"revoked at {revoked_at.isoformat()} (status list)")
        good = "status list entry"
    for crl in data.crls.of_ca(issuer):
        if not crl.fresh_at(at, SKEW):
            seen_stale = True
            continue
        entry = crl.entry(cert.serial)
        if entry is not None and entry.revoked_at <= at:
            if entry.reason == "certificate_hold":
                return _Verdict("hold", f"on hold since {entry.revoked_at.isoformat()} (CRL)")
            return _Verdict("revoked", f"revoked at {entry.revoked_at.isoformat()} "
                                       f"({entry.reason}, CRL {crl.number})")
        good = good or f"CRL {crl.number} of {crl.this_update.isoformat()}"
        break  # the best fresh CRL of this CA is the authority; older ones add nothing
    for response in data.ocsps:
        answer = response.answer_for(cert, issuer)
        if answer is None:
            continue
        if not answer.fresh_at(at, SKEW):
            seen_stale = True
            continue
        if answer.status == "revoked" and answer.revoked_at is not None \
                and answer.revoked_at <= at:
            return _Verdict("revoked", f"revoked at {answer.revoked_at.isoformat()} (OCSP)")
        if answer.status == "good":
            good = good or f"OCSP of {answer.this_update.isoformat()}"
    if good is not None:
        return _Verdict("good", good)
    if seen_stale:
        return _Verdict("stale", "its revocation data is not fresh at the validation time")
    return _Verdict("none", "no revocation data covers it")


def path_revocation(path: Sequence[bytes], at: datetime, data: RevocationData) -> Check:
    """Every non-anchor certificate of ``path`` (leaf first) covered and not revoked at ``at``.

    Threat: offline, a revoked department certificate or a revoked
    intermediate CA passing because *some other* certificate of the path is
    listed somewhere; and stale evidence standing in for current evidence.
    """
    certs = [parse_cached(d) for d in path]
    if len(certs) < 2:  # a directly trusted certificate: nothing issued it, nothing revokes it
        return Check(_NAME, Indication.TOTAL_PASSED, None,
                     "directly trusted certificate (no issuer to revoke it)")
    missing: list[tuple[Certificate, _Verdict]] = []
    covered: list[str] = []
    for index, (cert, issuer) in enumerate(pairwise(certs)):
        verdict = _one(cert, issuer, at, data)
        if verdict.state == "revoked":
            sub = SubIndication.REVOKED if index == 0 else SubIndication.REVOKED_CA_NO_POE
            return Check(_NAME, Indication.TOTAL_FAILED, sub,
                         f"{cert.subject_text}: {verdict.detail}")
        if verdict.state == "good":
            covered.append(verdict.detail)
        else:
            missing.append((cert, verdict))
    if missing:
        held = [m for m in missing if m[1].state == "hold"]
        stale = [m for m in missing if m[1].state == "stale"]
        cert, verdict = (held or stale or missing)[0]
        sub = SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE if not held and stale \
            else SubIndication.TRY_LATER
        return Check(_NAME, Indication.INDETERMINATE, sub,
                     f"{cert.subject_text}: {verdict.detail} ({data.source}); "
                     f"{len(missing)} of {len(certs) - 1} certificate(s) not covered")
    return Check(_NAME, Indication.TOTAL_PASSED, None,
                 f"not revoked ({data.source}: {'; '.join(covered)})")


def embedded_data(crls: Iterable[bytes], ocsps: Iterable[bytes],
                  base: RevocationData | None = None) -> tuple[RevocationData, list[str]]:
    """Evidence embedded in a file, added to ``base`` (the verifier's own CRLs).

    Unreadable items are skipped and reported (a signer's broken CRL must not
    make its file unreadable; it simply covers nothing).
    """
    problems: list[str] = []
    parsed_crls: list[Crl] = []
    for der in crls:
        try:
            parsed_crls.append(_crl(der))
        except CrlFormatError as exc:
            problems.append(exc.message)
    parsed_ocsps: list[OcspResponse] = []
    for der in ocsps:
        try:
            parsed_ocsps.append(_ocsp(der))
        except OcspFormatError as exc:
            problems.append(exc.message)
    store = base.crls.merged(parsed_crls) if base is not None else CrlStore(parsed_crls)
    source = EMBEDDED if base is None or not len(base.crls) else f"{EMBEDDED} and {base.source}"
    return RevocationData(store, (*(base.ocsps if base else ()), *parsed_ocsps),
                          base.entries if base else {}, source), problems


_PARSED_CRLS: dict[bytes, Crl] = {}
_PARSED_OCSPS: dict[bytes, OcspResponse] = {}
_MAX_PARSED: Final = 256


def _crl(der: bytes) -> Crl:
    """Parsed once per process: a batch of one foreign signer's files embeds the same CRL."""
    hit = _PARSED_CRLS.get(der)
    if hit is None:
        if len(_PARSED_CRLS) >= _MAX_PARSED:
            _PARSED_CRLS.clear()
        hit = _PARSED_CRLS[der] = Crl.from_der(der)
    return hit


def _ocsp(der: bytes) -> OcspResponse:
    hit = _PARSED_OCSPS.get(der)
    if hit is None:
        if len(_PARSED_OCSPS) >= _MAX_PARSED:
            _PARSED_OCSPS.clear()
        hit = _PARSED_OCSPS[der] = OcspResponse.from_der(der)
    return hit


@runtime_checkable
class HoldsRevocationData(Protocol):
    """A status source that also holds CRLs (``ListStatus``) to add to embedded evidence."""

    def revocation_data(self, path: Sequence[bytes], at: datetime) -> RevocationData | Check:
        """The source's own evidence, or a Check when the source itself cannot be used."""
        ...


def embedded_revocation(source: object, path: Sequence[bytes], at: datetime,
                        crls: Sequence[bytes], ocsps: Sequence[bytes]) -> Check:
    """Revocation of a foreign signer: evidence embedded in the file plus ``source``'s CRLs.

    Threat: a foreign signature passing with a revoked certificate because
    neither our registry nor our lists know that issuer (the old rule took the
    CA's presence in the trust list as the status).
    """
    base = source.revocation_data(path, at) if isinstance(source, HoldsRevocationData) else None
    if isinstance(base, Check):  # e.g. a stale trust list: the recognition itself is stale
        return base
    data, problems = embedded_data(crls, ocsps, base)
    check = path_revocation(path, at, data)
    if problems and not check.passed:
        return Check(check.name, check.indication, check.sub_indication,
                     f"{check.detail}; unusable embedded items: {'; '.join(problems)[:300]}")
    return check


# adbe-revocationInfoArchival (1.2.840.113583.1.1.8) as DER OID bytes: a signed attribute
# in which Acrobat-style (adbe.pkcs7.detached) signers archive the CRLs and OCSP responses
_ADOBE_REVINFO_OID: Final = bytes.fromhex("06092a864886f72f010108")
_MAX_ARCHIVED: Final = 32


def archived_material(signed_attrs: bytes | None) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """CRLs and OCSP responses of the adbe-revocationInfoArchival signed attribute.

    A byte scan first, so a signature without the attribute (every licence we
    issue) costs nothing; unreadable archives yield nothing (no evidence).
    """
    if not signed_attrs or _ADOBE_REVINFO_OID not in signed_attrs:
        return (), ()
    from asn1crypto import cms

    try:
        attrs = cms.CMSAttributes.load(signed_attrs)
        for attr in attrs:
            if attr["type"].dotted != "1.2.840.113583.1.1.8":
                continue
            archive = attr["values"][0]
            crls = archive["crl"] if archive["crl"].native is not None else ()
            ocsps = archive["ocsp"] if archive["ocsp"].native is not None else ()
            return (tuple(c.dump() for c in list(crls)[:_MAX_ARCHIVED]),
                    tuple(o.dump() for o in list(ocsps)[:_MAX_ARCHIVED]))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError,
            RecursionError):
        return (), ()
    return (), ()
