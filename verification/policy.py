"""What a verifier trusts and tolerates: a frozen, explicit policy.

The chain and revocation steps are injected one-method Protocols, so
``trust.pki`` (chain building) and the status service plug in without
touching the pipeline. Anything not configured fails closed: the pending
steps yield INDETERMINATE, never TOTAL_PASSED; the opt-out has a name that
starts with ``Unsafe``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol, runtime_checkable

from trust.indications import Check, Indication, SubIndication

__all__ = [
    "MODIFICATION_LEVELS",
    "ChainResult",
    "ChainValidator",
    "PendingRevocationChecker",
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

    ``purpose`` is ``"signature"`` or ``"timestamp"`` (a TSA certificate must
    carry the timeStamping extended key usage).
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
class VerificationPolicy:
    """Trust anchors, injected validators and tolerances for one verification run.

    ``max_modification`` is the most permissive kind of incremental update
    tolerated after a signature: ``"ltv"`` (default) allows only DSS and
    document time-stamp updates, as the issue requires.
    """

    trust_anchors: frozenset[bytes] = frozenset()
    chain_validator: ChainValidator | None = None  # None: trust.pki over trust_anchors
    revocation: RevocationChecker = field(default_factory=PendingRevocationChecker)
    max_modification: str = "ltv"
    max_file_size: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.chain_validator is None:
            from verification.chain import PkiChainValidator  # chain imports this module

            object.__setattr__(self, "chain_validator", PkiChainValidator(self.trust_anchors))
        if self.max_modification not in MODIFICATION_LEVELS:
            raise ValueError(f"max_modification must be one of {MODIFICATION_LEVELS}")
        if self.max_file_size <= 0:
            raise ValueError("max_file_size must be positive")
