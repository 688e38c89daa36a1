"""The chain step over :mod:`trust.pki`: the verifier's adapter, nothing more.

``trust.pki.chain`` builds and validates the path (names, key identifiers,
CA flags, key usage, validity at the given time) and caches edge signatures
by certificate fingerprint; this adapter turns DER in and a
:class:`~verification.policy.ChainResult` out, so the pipeline stays free of
certificate logic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from trust.errors import SealTrustError
from trust.indications import Check, Indication, SubIndication
from trust.pki.certificate import parse_cached
from trust.pki.chain import ChainValidator as PkiValidator
from trust.pki.oids import EKU_SEAL_MAKING, EKU_TIME_STAMPING
from verification.policy import ChainResult

__all__ = ["PkiChainValidator"]


@dataclass(frozen=True, slots=True)
class _Passed:
    path: tuple[bytes, ...]
    start: datetime
    end: datetime

_TIME_STAMPING: Final = EKU_TIME_STAMPING


_MAX_CACHED: Final = 4096


class PkiChainValidator:
    """Validates the signer against root certificates (DER) with ``trust.pki``.

    ``purpose`` ``"timestamp"`` requires the timeStamping extended key usage of
    the leaf, ``"seal"`` the SealTrust seal-making one (a seal maker).
    """

    def __init__(self, anchors: Iterable[bytes], known: Iterable[bytes] = ()) -> None:
        """``known``: CA certificates offered to every path besides the signature's own
        (the deployment's issuing CAs). A GB/T 38540 seal signature carries only the
        signer's certificate, so without them its chain could not be built. They are
        candidates only: each is still checked by signature, validity and constraints."""
        self._anchors = tuple(bytes(d) for d in anchors)
        self._known = tuple(bytes(d) for d in known)
        self._validator = PkiValidator([parse_cached(d) for d in self._anchors])
        # (leaf, pool, purpose) -> (validated path DER, window in which every one is valid)
        self._passed: dict[tuple[bytes, tuple[bytes, ...], str], _Passed] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"anchors": self._anchors, "known": self._known}  # caches are per process

    def __setstate__(self, state: dict[str, object]) -> None:
        anchors, known = state["anchors"], state.get("known", ())
        assert isinstance(anchors, tuple)
        assert isinstance(known, tuple)
        self.__init__(anchors, known)  # type: ignore[misc]

    def validate(
        self,
        signer_cert: bytes,
        intermediates: Sequence[bytes],
        at: datetime,
        purpose: str = "signature",
    ) -> ChainResult:
        """Validate at ``at``; a path that passed before is reused while ``at`` is in
        the validity window of all its certificates (names, signatures and key
        usages do not depend on time)."""
        key = (signer_cert, tuple(intermediates), purpose)
        hit = self._passed.get(key)
        if hit is not None and at.tzinfo is not None and hit.start <= at <= hit.end:
            message = f"chain of {len(hit.path)} valid at {at.isoformat()}"
            return ChainResult(Check("chain", Indication.TOTAL_PASSED, None, message), hit.path)
        result = self._validate(signer_cert, intermediates, at, purpose)
        if result.check.passed and result.path:
            if len(self._passed) >= _MAX_CACHED:
                self._passed.clear()
            certs = [parse_cached(d) for d in result.path]
            self._passed[key] = _Passed(result.path, max(c.not_before for c in certs),
                                        min(c.not_after for c in certs))
        return result

    def _validate(
        self, signer_cert: bytes, intermediates: Sequence[bytes], at: datetime, purpose: str
    ) -> ChainResult:
        try:
            leaf = parse_cached(signer_cert)
            pool = [parse_cached(d) for d in (*intermediates, *self._known) if d != signer_cert]
            if purpose == "timestamp":
                result = self._validator.validate(
                    leaf, pool, at=at, required_key_usage=frozenset(), required_eku=_TIME_STAMPING
                )
            elif purpose == "seal":
                result = self._validator.validate(leaf, pool, at=at, required_eku=EKU_SEAL_MAKING)
            else:
                result = self._validator.validate(leaf, pool, at=at)
        except SealTrustError as exc:  # a malformed certificate, an issuer key that cannot load
            return ChainResult(
                Check(
                    "chain",
                    Indication.INDETERMINATE,
                    SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                    exc.message,
                )
            )
        return ChainResult(result.to_check("chain"), tuple(c.der for c in result.path))
