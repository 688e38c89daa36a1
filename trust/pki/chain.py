"""Certificate path building and validation at an explicit time.

    >>> validator = ChainValidator([root])                            # doctest: +SKIP
    >>> result = validator.validate(leaf, [issuing_ca], at=signing_time)  # doctest: +SKIP
    >>> result.ok, result.sub_indication                              # doctest: +SKIP
    (False, <SubIndication.OUT_OF_BOUNDS_NO_POE: 'OUT_OF_BOUNDS_NO_POE'>)

Paths are built leaf-first by issuer name (RFC 5280 normalised comparison)
with matching key identifiers tried first; every edge's
signature is checked through :func:`trust.keys.verify_signature` and cached by
the two certificates' SHA-256, so bulk verification of thousands of documents
signed under the same few CAs pays for each signature once. Every candidate
path is tried, loops are cut, and both the path length and the number of
edges explored are bounded, so hostile certificate bags cost bounded time.

Failure codes and their ETSI EN 319 102-1 (§5.2.6, Table 5) mapping:

| ``failure``                   | indication     | sub-indication              |
|-------------------------------|----------------|-----------------------------|
| chain.not_found, chain.loop   | INDETERMINATE  | NO_CERTIFICATE_CHAIN_FOUND  |
| chain.signature_invalid       | TOTAL_FAILED   | SIG_CRYPTO_FAILURE (1)      |
| chain.unsupported_algorithm   | INDETERMINATE  | CRYPTO_CONSTRAINTS_FAILURE  |
| chain.expired                 | INDETERMINATE  | OUT_OF_BOUNDS_NO_POE (2)    |
| chain.not_yet_valid           | TOTAL_FAILED   | NOT_YET_VALID               |
| chain.not_ca, chain.no_key_cert_sign, chain.path_length, chain.too_long,
  chain.key_usage, chain.ext_key_usage, chain.critical_extension
|                               | INDETERMINATE  | CHAIN_CONSTRAINTS_FAILURE   |
| chain.revoked                 | INDETERMINATE  | REVOKED_NO_POE (3)          |
| chain.ca_revoked              | INDETERMINATE  | REVOKED_CA_NO_POE           |
| chain.revocation_unknown      | INDETERMINATE  | TRY_LATER                   |

(1) EN 319 102-1 would report a certificate whose signature fails under its
only issuer as INDETERMINATE/CERTIFICATE_CHAIN_GENERAL_FAILURE; SealTrust
says FAILED because a certificate forged under a trusted CA name is an
attack, not an open question. (2) This layer has no proof of existence: a
later layer with a time-stamp may turn it into EXPIRED or valid. (3) Likewise
REVOKED once the revocation time is proven before the signing time.

Revocation is not decided here: pass a :class:`RevocationChecker` (the status
layer) or read :attr:`ChainResult.revocation_checked` and fail closed above.
Trust anchors are checked like every other certificate in the path (validity,
CA flag, keyCertSign, pathLen), as OpenSSL does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, Protocol

from asn1crypto import x509

from trust.errors import InputError
from trust.indications import Check, Indication, SubIndication
from trust.keys import UnsupportedKeyError, verify_signature
from trust.pki.certificate import Certificate
from trust.pki.errors import require_aware

__all__ = [
    "DEFAULT_MAX_PATH_LENGTH",
    "FAILURES",
    "ChainResult",
    "ChainValidator",
    "RevocationChecker",
    "RevocationStatus",
    "validate_chain",
]

DEFAULT_MAX_PATH_LENGTH: Final = 8  # certificates, leaf and anchor included
_MAX_EDGES: Final = 128  # candidate issuer edges explored per validation
_MAX_POOL: Final = 256  # intermediates considered per validation
_SIG_CACHE_LIMIT: Final = 16384
_ANY_EKU: Final = "2.5.29.37.0"

FAILURES: Final[Mapping[str, tuple[Indication, SubIndication]]] = {
    "chain.not_found": (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    "chain.loop": (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    "chain.signature_invalid": (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE),
    "chain.unsupported_algorithm": (
        Indication.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
    ),
    "chain.expired": (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE),
    "chain.not_yet_valid": (Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID),
    "chain.not_ca": (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE),
    "chain.no_key_cert_sign": (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE),
    "chain.path_length": (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE),
    "chain.too_long": (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE),
    "chain.key_usage": (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE),
    "chain.ext_key_usage": (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE),
    "chain.critical_extension": (
        Indication.INDETERMINATE,
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    ),
    "chain.revoked": (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE),
    "chain.ca_revoked": (Indication.INDETERMINATE, SubIndication.REVOKED_CA_NO_POE),
    "chain.revocation_unknown": (Indication.INDETERMINATE, SubIndication.TRY_LATER),
}

# Which failure to report when no path passes: a fully built path's verdict
# says more than a broken signature, which says more than "nothing found".
_RANK: Final = {
    "chain.not_found": 0,
    "chain.loop": 1,
    "chain.too_long": 2,
    "chain.unsupported_algorithm": 3,
    "chain.signature_invalid": 4,
}
_COMPLETE_PATH_RANK: Final = 10


class RevocationStatus(StrEnum):
    """What the status layer knows about one certificate at the validation time."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class RevocationChecker(Protocol):
    """The hook for the revocation layer (CRL, status list, registry)."""

    def status(self, cert: Certificate, issuer: Certificate, at: datetime) -> RevocationStatus:
        """The status of ``cert`` (issued by ``issuer``) at ``at``."""
        ...


@dataclass(frozen=True, slots=True)
class ChainResult:
    """The bottom line of one chain validation, with the path it is about.

    ``path`` runs leaf first, trust anchor last; on failure it is the path (or
    partial path) the failure refers to. ``failure`` is a stable code from
    :data:`FAILURES`, ``None`` when ``ok``.
    """

    ok: bool
    path: tuple[Certificate, ...]
    at: datetime
    indication: Indication
    sub_indication: SubIndication | None = None
    failure: str | None = None
    message: str = ""
    revocation_checked: bool = False

    def to_check(self, name: str = "certificate.chain") -> Check:
        """The result as one report step."""
        return Check(name, self.indication, self.sub_indication, self.message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for validation reports."""
        return {
            "ok": self.ok,
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "failure": self.failure,
            "message": self.message,
            "at": self.at.isoformat(),
            "revocation_checked": self.revocation_checked,
            "path": [
                {
                    "subject": c.subject_text,
                    "issuer": c.issuer_text,
                    "serial": f"{c.serial:x}",
                    "sha256": c.sha256.hex(),
                    "not_before": c.not_before.isoformat(),
                    "not_after": c.not_after.isoformat(),
                }
                for c in self.path
            ],
        }


@dataclass(frozen=True, slots=True)
class _Failure:
    code: str
    message: str
    path: tuple[Certificate, ...]
    rank: int


@lru_cache(maxsize=8192)
def _name_key(name_der: bytes) -> str:
    """RFC 5280 §7.1 normalised form of a Name (case, spaces), for issuer matching."""
    try:
        key: str = x509.Name.load(name_der).hashable
    except (ValueError, TypeError, KeyError):
        return "der:" + name_der.hex()
    return key


class _SignatureCache:
    """Outcome of "does ``issuer``'s key verify ``cert``" keyed by both fingerprints."""

    def __init__(self, limit: int = _SIG_CACHE_LIMIT) -> None:
        self._limit = limit
        self._results: dict[tuple[bytes, bytes], bool] = {}

    def verified(self, cert: Certificate, issuer: Certificate) -> bool:
        key = (cert.sha256, issuer.sha256)
        hit = self._results.get(key)
        if hit is not None:
            return hit
        result = verify_signature(issuer.spki_der, cert.signature_oid, cert.tbs_der, cert.signature)
        if len(self._results) >= self._limit:
            self._results.clear()
        self._results[key] = result
        return result


_shared_cache = _SignatureCache()


class ChainValidator:
    """Validates chains against a fixed set of trust anchors; reuse one per anchor set."""

    def __init__(
        self,
        trust_anchors: Iterable[Certificate],
        *,
        max_path_length: int = DEFAULT_MAX_PATH_LENGTH,
        revocation: RevocationChecker | None = None,
    ) -> None:
        if max_path_length < 1:
            raise InputError("max_path_length must be at least 1", code="pki.max_path_length")
        self._anchors: dict[bytes, Certificate] = {a.sha256: a for a in trust_anchors}
        self._anchors_by_name = _index(self._anchors.values())
        self._max_path_length = max_path_length
        self._revocation = revocation
        self._cache = _shared_cache

    @property
    def trust_anchors(self) -> tuple[Certificate, ...]:
        return tuple(self._anchors.values())

    def validate(
        self,
        leaf: Certificate,
        intermediates: Iterable[Certificate] = (),
        *,
        at: datetime,
        required_key_usage: frozenset[str] = frozenset({"digital_signature"}),
        required_eku: str | None = None,
    ) -> ChainResult:
        """Find a path from ``leaf`` to a trust anchor that is valid at ``at``.

        ``required_key_usage`` are asn1crypto KeyUsage names the leaf must
        carry (an absent keyUsage extension allows every usage, RFC 5280);
        ``required_eku`` is a dotted OID that must appear in the leaf's
        extKeyUsage, or anyExtendedKeyUsage (here an absent extension does *not*
        qualify: a purpose that is asked for must be stated). Naive ``at`` raises.
        """
        require_aware(at, "validation time")
        search = _Search(
            validator=self,
            at=at,
            required_key_usage=required_key_usage,
            required_eku=required_eku,
            pool=_index(_dedupe(intermediates, self._anchors)),
        )
        return search.run(leaf)


def validate_chain(
    leaf: Certificate,
    intermediates: Iterable[Certificate],
    trust_anchors: Iterable[Certificate],
    at: datetime,
    *,
    required_key_usage: frozenset[str] = frozenset({"digital_signature"}),
    required_eku: str | None = None,
    max_path_length: int = DEFAULT_MAX_PATH_LENGTH,
    revocation: RevocationChecker | None = None,
) -> ChainResult:
    """One-shot :meth:`ChainValidator.validate` (signature results are still cached)."""
    validator = ChainValidator(
        trust_anchors, max_path_length=max_path_length, revocation=revocation
    )
    return validator.validate(
        leaf,
        intermediates,
        at=at,
        required_key_usage=required_key_usage,
        required_eku=required_eku,
    )


def _index(certs: Iterable[Certificate]) -> dict[str, list[Certificate]]:
    index: dict[str, list[Certificate]] = {}
    for cert in certs:
        index.setdefault(_name_key(cert.subject_der), []).append(cert)
    return index


def _dedupe(
    certs: Iterable[Certificate], anchors: Mapping[bytes, Certificate]
) -> list[Certificate]:
    seen: set[bytes] = set(anchors)
    out: list[Certificate] = []
    for cert in certs:
        if cert.sha256 not in seen:
            seen.add(cert.sha256)
            out.append(cert)
            if len(out) >= _MAX_POOL:
                break
    return out


class _Search:
    """One depth-first path search; holds the per-call state."""

    def __init__(
        self,
        *,
        validator: ChainValidator,
        at: datetime,
        required_key_usage: frozenset[str],
        required_eku: str | None,
        pool: dict[str, list[Certificate]],
    ) -> None:
        self.v = validator
        self.at = at
        self.required_key_usage = required_key_usage
        self.required_eku = required_eku
        self.pool = pool
        self.edges = 0
        self.best: _Failure | None = None

    def run(self, leaf: Certificate) -> ChainResult:
        # A leaf that is itself a trust anchor is a path of one.
        is_anchor = leaf.sha256 in self.v._anchors
        found = self._complete((leaf,)) if is_anchor else self._extend((leaf,))
        if found is not None:
            return found
        failure = self.best or _Failure(
            "chain.not_found", f"no issuer found for {leaf.issuer_text}", (leaf,), 0
        )
        return _failed(failure, self.at)

    def _note(self, code: str, message: str, path: tuple[Certificate, ...], rank: int) -> None:
        if self.best is None or rank > self.best.rank:
            self.best = _Failure(code, message, path, rank)

    def _candidates(self, cert: Certificate) -> list[tuple[Certificate, bool]]:
        key = _name_key(cert.issuer_der)
        found = [(a, True) for a in self.v._anchors_by_name.get(key, ())]
        found += [(c, False) for c in self.pool.get(key, ())]
        if cert.aki is not None:
            # Key identifiers are hints (RFC 5280 §4.2.1.1): try matching issuers first,
            # but still try the others so a forgery under a trusted name shows as a bad
            # signature rather than a missing issuer.
            found.sort(key=lambda pair: pair[0].ski is not None and pair[0].ski != cert.aki)
        return found

    def _extend(self, path: tuple[Certificate, ...]) -> ChainResult | None:
        cert = path[-1]
        for issuer, is_anchor in self._candidates(cert):
            self.edges += 1
            if self.edges > _MAX_EDGES:
                self._note(
                    "chain.too_long", "path search budget exhausted", path, _RANK["chain.too_long"]
                )
                return None
            if any(issuer.sha256 == c.sha256 for c in path):
                self._note(
                    "chain.loop", f"loop at {issuer.subject_text}", path, _RANK["chain.loop"]
                )
                continue
            if not self._signed_by(cert, issuer, path):
                continue
            extended = (*path, issuer)
            if is_anchor:
                result = self._complete(extended)
                if result is not None:
                    return result
            elif len(extended) >= self.v._max_path_length:
                self._note(
                    "chain.too_long",
                    f"path longer than {self.v._max_path_length} certificates",
                    extended,
                    _RANK["chain.too_long"],
                )
            else:
                result = self._extend(extended)
                if result is not None:
                    return result
        return None

    def _signed_by(
        self, cert: Certificate, issuer: Certificate, path: tuple[Certificate, ...]
    ) -> bool:
        if issuer.key_algorithm is None:
            self._note(
                "chain.unsupported_algorithm",
                f"unsupported key algorithm in {issuer.subject_text}",
                (*path, issuer),
                _RANK["chain.unsupported_algorithm"],
            )
            return False
        try:
            ok = self.v._cache.verified(cert, issuer)
        except UnsupportedKeyError as exc:
            self._note(
                "chain.unsupported_algorithm",
                exc.message,
                (*path, issuer),
                _RANK["chain.unsupported_algorithm"],
            )
            return False
        if not ok:
            self._note(
                "chain.signature_invalid",
                f"signature of {cert.subject_text} does not verify under {issuer.subject_text}",
                (*path, issuer),
                _RANK["chain.signature_invalid"],
            )
        return ok

    def _complete(self, path: tuple[Certificate, ...]) -> ChainResult | None:
        problem = self._check_path(path)
        if problem is None:
            problem, checked = self._check_revocation(path)
            if problem is None:
                return ChainResult(
                    ok=True,
                    path=path,
                    at=self.at,
                    indication=Indication.TOTAL_PASSED,
                    message=f"chain of {len(path)} valid at {self.at.isoformat()}",
                    revocation_checked=checked,
                )
        self._note(problem[0], problem[1], path, _COMPLETE_PATH_RANK)
        return None

    def _check_path(self, path: tuple[Certificate, ...]) -> tuple[str, str] | None:
        at = self.at
        for depth, cert in enumerate(path):
            who = cert.subject_text
            if at < cert.not_before:
                return "chain.not_yet_valid", f"{who} is not valid before {cert.not_before}"
            if at > cert.not_after:
                return "chain.expired", f"{who} expired at {cert.not_after}"
            if cert.unhandled_critical:
                oids = ", ".join(sorted(cert.unhandled_critical))
                return "chain.critical_extension", f"{who} has unhandled critical {oids}"
            if depth == 0:
                continue
            if not cert.is_ca:
                return (
                    "chain.not_ca",
                    f"{who} is not a CA (basicConstraints) but issued a certificate",
                )
            if cert.key_usage is not None and "key_cert_sign" not in cert.key_usage:
                return "chain.no_key_cert_sign", f"{who} lacks keyCertSign"
            # RFC 5280 §4.2.1.9: CA certificates below this one, self-issued ones excluded.
            below = sum(1 for c in path[1:depth] if not c.self_issued)
            if cert.path_len is not None and below > cert.path_len:
                return (
                    "chain.path_length",
                    f"{who} allows {cert.path_len} CAs below, path has {below}",
                )
        leaf = path[0]
        if leaf.key_usage is not None and not self.required_key_usage <= leaf.key_usage:
            missing = ", ".join(sorted(self.required_key_usage - leaf.key_usage))
            return "chain.key_usage", f"{leaf.subject_text} lacks key usage {missing}"
        if self.required_eku is not None:
            ekus = leaf.ext_key_usage or frozenset()
            if self.required_eku not in ekus and _ANY_EKU not in ekus:
                return (
                    "chain.ext_key_usage",
                    f"{leaf.subject_text} lacks purpose {self.required_eku}",
                )
        return None

    def _check_revocation(
        self, path: tuple[Certificate, ...]
    ) -> tuple[tuple[str, str] | None, bool]:
        checker = self.v._revocation
        if checker is None:
            return None, False
        for depth, cert in enumerate(path[:-1]):
            status = checker.status(cert, path[depth + 1], self.at)
            if status is RevocationStatus.REVOKED:
                code = "chain.revoked" if depth == 0 else "chain.ca_revoked"
                return (code, f"{cert.subject_text} is revoked"), True
            if status is not RevocationStatus.GOOD:
                return ("chain.revocation_unknown", f"status of {cert.subject_text} unknown"), True
        return None, True


def _failed(failure: _Failure, at: datetime) -> ChainResult:
    indication, sub = FAILURES[failure.code]
    return ChainResult(
        ok=False,
        path=failure.path,
        at=at,
        indication=indication,
        sub_indication=sub,
        failure=failure.code,
        message=failure.message,
    )
