"""What a verifier trusts and tolerates: a frozen, explicit policy.

The chain and revocation steps are injected one-method Protocols, so
``trust.pki`` (chain building) and the status service plug in without
touching the pipeline. Anything not configured fails closed: the pending
steps yield INDETERMINATE, never TOTAL_PASSED; the opt-out has a name that
starts with ``Unsafe``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from trust.indications import Check, Indication, SubIndication
from verification.certinfo import sha256_hex

if TYPE_CHECKING:
    from verification.status import LicenceStatusSource

__all__ = [
    "FOREIGN_PADES",
    "MODIFICATION_LEVELS",
    "PLAIN_PADES",
    "SEALTRUST_LICENCE",
    "ChainResult",
    "ChainValidator",
    "PendingRevocationChecker",
    "Recognition",
    "RevocationChecker",
    "UnsafeNoRevocationCheck",
    "VerificationPolicy",
]

# pyHanko's ModificationLevel names, least to most permissive.
MODIFICATION_LEVELS: Final = ("none", "ltv", "form_filling", "annotations")


@dataclass(frozen=True, slots=True)
class ChainResult:
    """Outcome of chain validation: the check and the validated path (leaf first, DER)."""

    check: Check
    path: tuple[bytes, ...] = ()


@runtime_checkable
class ChainValidator(Protocol):
    """Builds and validates the signer's path to a trust anchor at time ``at``.

    ``purpose`` is ``"signature"``, ``"timestamp"`` (a TSA certificate must
    carry the timeStamping extended key usage) or ``"seal"`` (a seal maker).
    """

    def validate(
        self,
        signer_cert: bytes,
        intermediates: Sequence[bytes],
        at: datetime,
        purpose: str = "signature",
    ) -> ChainResult: ...


@runtime_checkable
class RevocationChecker(Protocol):
    """Decides the status of every certificate of a validated path at ``at``."""

    def check(self, path: Sequence[bytes], at: datetime) -> Check: ...


class PendingRevocationChecker:
    """No status source configured: fail closed (RFC 6960 'unknown' is never 'good')."""

    def check(self, path: Sequence[bytes], at: datetime) -> Check:
        return Check(
            "revocation",
            Indication.INDETERMINATE,
            SubIndication.TRY_LATER,
            "revocation.pending: no status source configured",
        )


class UnsafeNoRevocationCheck:
    """Accepts every certificate as not revoked. Tests and pyHanko-parity runs only."""

    def check(self, path: Sequence[bytes], at: datetime) -> Check:
        return Check("revocation", Indication.TOTAL_PASSED, None, "not checked (unsafe policy)")


@dataclass(frozen=True, slots=True)
class Recognition:
    """What a signature chaining to one trust anchor must carry besides a valid chain.

    Mutual recognition is explicit: our own licences need the bound seal and a
    licence status; a recognised foreign issuer's plain PAdES signature may be
    accepted without them, but only because its trust-list entry says so.
    A seal or licence id that *is* present is always checked, whatever the rule.
    ``licence_types`` scopes the anchor ("*": any type; a signature without a
    licence type needs "*").
    """

    name: str
    licence_types: frozenset[str] = frozenset({"*"})
    require_seal: bool = True
    require_licence_status: bool = True
    check_revocation: bool = True
    # True: revocation from CRLs/OCSP responses embedded in the file (DSS) plus the
    # verifier's own CRLs, not from ``policy.revocation`` (foreign issuers the
    # registry and our status lists know nothing about)
    embedded_revocation: bool = False

    def allows(self, licence_type: str | None) -> bool:
        return "*" in self.licence_types or (
            licence_type is not None and licence_type in self.licence_types
        )


SEALTRUST_LICENCE: Final = Recognition("sealtrust-licence")
FOREIGN_PADES: Final = Recognition(
    "foreign-pades", require_seal=False, require_licence_status=False, embedded_revocation=True
)
# For anchors given without a rule (``trust_anchors``, ``--trust``): a plain
# PAdES signature; seal and status are checked when present, not required.
PLAIN_PADES: Final = Recognition("plain-pades", require_seal=False, require_licence_status=False)


def _pending_status() -> LicenceStatusSource:
    from verification.status import PendingStatus

    return PendingStatus()


@dataclass(frozen=True, slots=True)
class VerificationPolicy:
    """Trust anchors, injected validators and tolerances for one verification run.

    ``max_modification`` is the most permissive kind of incremental update
    tolerated after a signature: ``"ltv"`` (default) allows only DSS and
    document time-stamp updates, as the issue requires.

    ``recognitions`` maps an anchor's SHA-256 (hex) to its :class:`Recognition`
    (build it with :meth:`with_issuers`); anchors without one get
    ``default_recognition``. ``licence_status`` answers licence and seal
    status (default: none configured, INDETERMINATE).
    """

    trust_anchors: frozenset[bytes] = frozenset()
    chain_validator: ChainValidator | None = None  # None: trust.pki over trust_anchors
    revocation: RevocationChecker = field(default_factory=PendingRevocationChecker)
    max_modification: str = "ltv"
    max_file_size: int = 64 * 1024 * 1024
    licence_status: LicenceStatusSource = field(default_factory=_pending_status)
    recognitions: Mapping[str, Recognition] = field(default_factory=dict)
    default_recognition: Recognition = PLAIN_PADES
    # CA certificates offered to every path (not anchors): see PkiChainValidator
    known_intermediates: frozenset[bytes] = frozenset()

    def recognition(self, path: Sequence[bytes]) -> Recognition:
        """The rule of the anchor a validated path ends at (or of a listed CA inside it)."""
        for der in reversed(path):
            rule = self.recognitions.get(sha256_hex(der))
            if rule is not None:
                return rule
        return self.default_recognition

    @staticmethod
    def issuers(entries: Iterable[tuple[bytes, Recognition]]) -> dict[str, Recognition]:
        """``recognitions`` from (anchor DER, rule) pairs."""
        return {hashlib.sha256(der).hexdigest(): rule for der, rule in entries}

    def __post_init__(self) -> None:
        if self.chain_validator is None:
            from verification.chain import PkiChainValidator  # chain imports this module

            object.__setattr__(self, "chain_validator",
                               PkiChainValidator(self.trust_anchors, self.known_intermediates))
        if self.max_modification not in MODIFICATION_LEVELS:
            raise ValueError(f"max_modification must be one of {MODIFICATION_LEVELS}")
        if self.max_file_size <= 0:
            raise ValueError("max_file_size must be positive")
