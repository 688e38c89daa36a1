"""Each check is a small function from facts (plus policy and time) to a Check.

Order matters only for the reported sub-indication: the first failing check
names it. Structure comes first because nothing else is meaningful without it.
"""

from __future__ import annotations

from datetime import datetime

from trust.indications import Check, Indication, SubIndication
from verification.facts import SignatureFacts
from verification.policy import MODIFICATION_LEVELS, VerificationPolicy

__all__ = ["run_checks"]

_PASS = Indication.TOTAL_PASSED
_FAIL = Indication.TOTAL_FAILED
_UNSURE = Indication.INDETERMINATE


def structure(f: SignatureFacts) -> Check:
    if f.structure_error is not None:
        return Check("structure", _FAIL, SubIndication.FORMAT_FAILURE, f.structure_error)
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
    return Check("integrity.digest", _PASS, None, f"{f.digest_algorithm} over the byte range")


def signature_value(f: SignatureFacts) -> Check:
    if f.signature_valid is False:
        return Check(
            "integrity.signature", _FAIL, SubIndication.SIG_CRYPTO_FAILURE, f.integrity_detail
        )
    if f.signature_valid is None:
        return Check(
            "integrity.signature",
            _UNSURE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f.integrity_detail,
        )
    return Check("integrity.signature", _PASS, None, str(f.signature_algorithm))


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
    return Check("signing_certificate", _PASS, None, detail)


def modifications(f: SignatureFacts, policy: VerificationPolicy) -> Check:
    """Default-deny: only updates up to ``policy.max_modification`` may follow the signature.

    A partial or unclear coverage is a format failure (signature wrapping);
    a disallowed change of the signed document is reported as HASH_FAILURE,
    because what is displayed is no longer what was signed.
    """
    if f.coverage not in ("entire_file", "entire_revision"):
        return Check(
            "modifications",
            _FAIL,
            SubIndication.FORMAT_FAILURE,
            f"coverage {f.coverage}: {f.modification_detail}",
        )
    level = f.modification_level or "other"
    allowed = MODIFICATION_LEVELS.index(policy.max_modification)
    if level not in MODIFICATION_LEVELS or MODIFICATION_LEVELS.index(level) > allowed:
        return Check(
            "modifications",
            _FAIL,
            SubIndication.HASH_FAILURE,
            f"{level} changes after the signed revision: {f.modification_detail}"[:1000],
        )
    return Check(
        "modifications", _PASS, None, f"{f.revisions_after} later revision(s), changes: {level}"
    )


def run_checks(
    f: SignatureFacts, policy: VerificationPolicy, at: datetime
) -> tuple[tuple[Check, ...], tuple[bytes, ...]]:
    """All applicable checks of one signature, and the validated path if any."""
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
    path: tuple[bytes, ...] = ()
    if f.signer_cert is not None and policy.chain_validator is not None:
        purpose = "timestamp" if f.kind == "doc_timestamp" else "signature"
        chain = policy.chain_validator.validate(f.signer_cert, f.certificates, at, purpose)
        checks.append(chain.check)
        path = chain.path
        if chain.check.passed:
            checks.append(policy.revocation.check(path, at))
    return tuple(checks), path


def verdict(checks: tuple[Check, ...]) -> tuple[Indication, SubIndication | None]:
    """TOTAL_FAILED beats INDETERMINATE beats TOTAL_PASSED; the first such check names why."""
    for wanted in (_FAIL, _UNSURE):
        for check in checks:
            if check.indication is wanted:
                return wanted, check.sub_indication
    return _PASS, None
