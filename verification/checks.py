"""Each check is a small function from facts (plus policy and time) to a Check.

Order matters only for the reported sub-indication: the first failing check
names it. Structure comes first because nothing else is meaningful without it.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from trust.indications import Check, Indication, SubIndication
from verification.binding import licence_binding, licence_validity
from verification.certinfo import cert_info
from verification.facts import SignatureFacts
from verification.pdf.kinds import LICENCE_ALLOWED, kinds_text
from verification.policy import MODIFICATION_LEVELS, Recognition, VerificationPolicy
from verification.revocation import embedded_revocation
from verification.seal import check_seal

__all__ = ["run_checks"]

_PASS = Indication.TOTAL_PASSED
_FAIL = Indication.TOTAL_FAILED
_UNSURE = Indication.INDETERMINATE


@lru_cache(maxsize=256)
def _passed(name: str, detail: str) -> Check:
    """A passed check, shared (it is immutable) while its text recurs: the same
    algorithms and the same modification level come with every licence of a batch."""
    return Check(name, _PASS, None, detail)


def structure(f: SignatureFacts) -> Check:
    if f.structure_error is not None:
        return Check("structure", _FAIL, SubIndication.FORMAT_FAILURE, f.structure_error)
    if not f.byte_range:  # an OFD signature: its References are judged by integrity.digest
        return _passed("structure", f"{f.subfilter} signature entry")
    return Check("structure", _PASS, None, f"byte range {list(f.byte_range)}")


def digest(f: SignatureFacts) -> Check:
    if f.digest_matches is False:
        return Check("integrity.digest", _FAIL, SubIndication.HASH_FAILURE, f.integrity_detail)
    if f.digest_matches is None:
        return Check(
            "integrity.digest",
            _UNSURE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f.integrity_detail,
        )
    return _passed("integrity.digest", f"{f.digest_algorithm} over the byte range")


def signature_value(f: SignatureFacts) -> Check:
    if f.signature_valid is False:
        return Check(
            "integrity.signature", _FAIL, SubIndication.SIG_CRYPTO_FAILURE, f.integrity_detail
        )
    if f.signature_valid is None:
        # No certificate at all (e.g. a bare SM2 value in an OFD "Sign"): the signer
        # cannot be identified, which is not an algorithm problem.
        sub = (SubIndication.NO_SIGNING_CERTIFICATE_FOUND if f.signer_cert is None
               else SubIndication.CRYPTO_CONSTRAINTS_FAILURE)
        return Check("integrity.signature", _UNSURE, sub, f.integrity_detail)
    return _passed("integrity.signature", str(f.signature_algorithm))


def signing_certificate(f: SignatureFacts) -> Check:
    """The embedded certificate is the one the signer committed to (EN 319 102-1 §5.2.3)."""
    if f.signer_cert_bound is False:
        return Check(
            "signing_certificate",
            _UNSURE,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            "the signing-certificate attribute names another certificate",
        )
    detail = (
        "bound by the signing-certificate attribute"
        if f.signer_cert_bound
        else ("no signing-certificate attribute")
    )
    return _passed("signing_certificate", detail)


def modifications(f: SignatureFacts, policy: VerificationPolicy) -> Check:
    """Default-deny: only updates up to ``policy.max_modification`` may follow the signature.

    A partial or unclear coverage is a format failure (signature wrapping);
    a disallowed change of the signed document is reported as HASH_FAILURE,
    because what is displayed is no longer what was signed. A licence (a
    signature with a signed licence id) also allows nothing but
    LICENCE_ALLOWED, whatever the policy tolerates: an /Info or XMP rewrite,
    a sneaky signature field or an annotation overlay would otherwise pass as
    "ltv" or "form_filling" (issue 12). The detail names every kind of change.
    """
    if f.coverage not in ("entire_file", "entire_revision"):
        return Check(
            "modifications",
            _FAIL,
            SubIndication.FORMAT_FAILURE,
            f"coverage {f.coverage}: {f.modification_detail}",
        )
    level = f.modification_level or "other"
    kinds = f.changes
    if not kinds and f.revisions_after and level != "none":
        kinds = ("undescribed",)  # facts stored before changes were described
    said = ", ".join(kinds) or "none"
    allowed = MODIFICATION_LEVELS.index(policy.max_modification)
    if level not in MODIFICATION_LEVELS or MODIFICATION_LEVELS.index(level) > allowed:
        return Check(
            "modifications",
            _FAIL,
            SubIndication.HASH_FAILURE,
            f"changes after the signed revision: {said} (level {level}): "
            f"{f.modification_detail}"[:1000],
        )
    extra = sorted(set(kinds) - LICENCE_ALLOWED)
    if f.licence_id is not None and extra:
        return Check(
            "modifications",
            _FAIL,
            SubIndication.HASH_FAILURE,
            f"licence.changes: a licence allows after its signature only "
            f"{', '.join(sorted(LICENCE_ALLOWED))}; found {kinds_text(extra)}: "
            f"{f.modification_detail}"[:1000],
        )
    return _passed(
        "modifications",
        f"{f.revisions_after} later revision(s), changes: {said}"
        + (f" (level {level}): {f.modification_detail}" if kinds else ""),
    )


def timestamp(f: SignatureFacts, policy: VerificationPolicy, at: datetime) -> Check:
    """The embedded signature time-stamp: imprint over the signature value, TSA chain.

    A token dated after the validation time is INDETERMINATE (no proof yet).
    """
    if f.timestamp_valid is False:
        sub = (SubIndication.HASH_FAILURE if "imprint" in f.timestamp_detail
               else SubIndication.SIG_CRYPTO_FAILURE)
        return Check("timestamp", _FAIL, sub, f.timestamp_detail)
    if f.timestamp_valid is None or f.tsa_cert is None or f.timestamp_time is None:
        return Check("timestamp", _UNSURE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                     f.timestamp_detail or "time-stamp not checkable")
    if f.timestamp_time > at:
        return Check("timestamp", _UNSURE, SubIndication.TIMESTAMP_ORDER_FAILURE,
                     f"time-stamp {f.timestamp_time.isoformat()} is after the validation time")
    assert policy.chain_validator is not None
    chain = policy.chain_validator.validate(
        f.tsa_cert, f.tsa_certificates, f.timestamp_time, "timestamp"
    )
    if not chain.check.passed:
        return Check("timestamp", chain.check.indication, chain.check.sub_indication,
                     f"TSA chain: {chain.check.detail}")
    return Check("timestamp", _PASS, None,
                 f"{f.timestamp_time.isoformat()} by {cert_info(f.tsa_cert).subject}")


def recognised_chain(chain: Check, f: SignatureFacts, rule: Recognition) -> Check:
    """A passed chain, narrowed by the anchor's scope: recognised for this licence type?

    The rule applied is named in the detail, so a report always says what was
    required of this signer (seal, licence status) and why.
    """
    if not rule.allows(f.licence_type):
        return Check("chain", _UNSURE, SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                     f"{rule.name}: anchor not recognised for licence type {f.licence_type}")
    needs = [w for w, on in (("seal", rule.require_seal),
                             ("licence status", rule.require_licence_status)) if on]
    return Check("chain", _PASS, None,
                 f"{chain.detail}; recognised as {rule.name}, requires "
                 + (" and ".join(needs) if needs else "nothing more"))


def revocation(f: SignatureFacts, policy: VerificationPolicy, rule: Recognition,
               path: tuple[bytes, ...], at: datetime) -> Check:
    """Certificate status of the path: ``policy.revocation``, or for a rule that takes
    them (foreign issuers) the CRLs/OCSP responses embedded in the file plus the
    verifier's own CRLs -- never a pass without covering evidence."""
    if rule.embedded_revocation:
        return embedded_revocation(policy.revocation, path, at, f.revocation_crls,
                                   f.revocation_ocsps)
    return policy.revocation.check(path, at)


def seal(f: SignatureFacts, policy: VerificationPolicy, rule: Recognition | None,
         signing_time: datetime, at: datetime, proven: bool = True) -> Check | None:
    """The bound GB/T 38540 seal, then its revocation status at signing time.

    Without a proven signing time (no verified time-stamp) the validation time
    stands in for it, so a seal that has since expired may still have been
    valid when it was applied: INDETERMINATE / OUT_OF_BOUNDS_NO_POE, not
    EXPIRED (EN 319 102-1 §5.2.7). Threat stopped either way: a seal used
    outside its window is never TOTAL_PASSED.
    """
    if f.seal_der is None:
        if rule is not None and rule.require_seal:
            return Check("seal", _FAIL, SubIndication.SIG_CONSTRAINTS_FAILURE,
                         f"{rule.name} requires a bound seal and there is none")
        return None
    assert policy.chain_validator is not None
    assert f.signer_cert is not None
    result = check_seal(f.seal_der, f.signer_cert, signing_time, policy.chain_validator)
    if not proven and result.sub_indication is SubIndication.EXPIRED:
        return Check(result.name, _UNSURE, SubIndication.OUT_OF_BOUNDS_NO_POE,
                     f"{result.detail} (no proof of the signing time)")
    if not result.passed or f.seal is None:
        return result
    status = policy.licence_status.seal_status(f.seal, signing_time, at)
    return result if status.passed else status


def licence_status(f: SignatureFacts, policy: VerificationPolicy, rule: Recognition | None,
                   at: datetime) -> Check | None:
    if f.licence_id is None:
        if rule is not None and rule.require_licence_status:
            return Check("licence_status", _FAIL, SubIndication.SIG_CONSTRAINTS_FAILURE,
                         f"{rule.name} requires a licence id and there is none")
        return None
    return policy.licence_status.licence_status(f.licence_id, at, f.status_index)


def run_checks(
    f: SignatureFacts, policy: VerificationPolicy, at: datetime, *,
    licence_id: str | None = None, file_sm3: str | None = None, last: bool = True,
) -> tuple[tuple[Check, ...], tuple[bytes, ...]]:
    """All applicable checks of one signature, and the validated path if any.

    The signer chain is judged at the signing time: the time-stamp's time
    when a valid token proves it, else the validation time. ``licence_id`` is
    the licence the file carries (any of its signatures), so every signature of
    a licence is bound to its department; ``file_sm3`` the file's SM3 as its
    last signer left it, for the registered-file check, which runs on the file's
    ``last`` signature (the one that left it so).
    """
    first = structure(f)
    if not first.passed:
        return (first,), ()
    checks = [
        first,
        digest(f),
        signature_value(f),
        signing_certificate(f),
        modifications(f, policy),
    ]
    signing_time = at
    if f.kind == "signature" and (f.tsa_cert is not None or f.timestamp_valid is not None):
        stamp = timestamp(f, policy, at)
        checks.append(stamp)
        if stamp.passed and f.timestamp_time is not None:
            signing_time = f.timestamp_time
    path: tuple[bytes, ...] = ()
    rule: Recognition | None = None
    if f.signer_cert is not None and policy.chain_validator is not None:
        purpose = "timestamp" if f.kind == "doc_timestamp" else "signature"
        chain = policy.chain_validator.validate(
            f.signer_cert, f.certificates, signing_time, purpose
        )
        path = chain.path
        if chain.check.passed:
            rule = policy.recognition(path)
            checks.append(recognised_chain(chain.check, f, rule))
            if not checks[-1].passed:
                rule = None
            elif rule.check_revocation:
                checks.append(revocation(f, policy, rule, path, at))
        else:
            checks.append(chain.check)
    if f.kind == "signature":
        for extra in (seal(f, policy, rule, signing_time, at, signing_time is not at),
                      licence_status(f, policy, rule, at),
                      licence_validity(f, rule, at)):
            if extra is not None:
                checks.append(extra)
        if licence_id is not None:
            checks.append(licence_binding(f, licence_id))
            if last:
                checks.append(policy.licence_status.registered_file(licence_id, file_sm3))
    return tuple(checks), path


def verdict(checks: tuple[Check, ...]) -> tuple[Indication, SubIndication | None]:
    """TOTAL_FAILED beats INDETERMINATE beats TOTAL_PASSED; the first such check names why."""
    for wanted in (_FAIL, _UNSURE):
        for check in checks:
            if check.indication is wanted:
                return wanted, check.sub_indication
    return _PASS, None
