"""The chain step over :mod:`trust.pki`: the verifier's adapter, nothing more.

``trust.pki.chain`` builds and validates the path (names, key identifiers,
CA flags, key usage, validity at the given time) and caches edge signatures
by certificate fingerprint; this adapter turns DER in and a
:class:`~verification.policy.ChainResult` out, so the pipeline stays free of
certificate logic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from trust.indications import Check, Indication, SubIndication
from trust.pki.certificate import parse_cached
from trust.pki.chain import ChainValidator as PkiValidator
from trust.pki.errors import CertificateFormatError
from verification.policy import ChainResult

__all__ = ["PkiChainValidator"]

_TIME_STAMPING: Final = "1.3.6.1.5.5.7.3.8"


class PkiChainValidator:
    """Validates the signer against root certificates (DER) with ``trust.pki``."""

    def __init__(self, anchors: Iterable[bytes]) -> None:
        self._validator = PkiValidator([parse_cached(bytes(d)) for d in anchors])

    def validate(
        self,
        signer_cert: bytes,
        intermediates: Sequence[bytes],
        at: datetime,
        purpose: str = "signature",
    ) -> ChainResult:
        try:
            leaf = parse_cached(signer_cert)
            pool = [parse_cached(d) for d in intermediates if d != signer_cert]
        except CertificateFormatError as exc:
            return ChainResult(
                Check(
                    "chain",
                    Indication.INDETERMINATE,
                    SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                    exc.message,
                )
            )
        if purpose == "timestamp":
            result = self._validator.validate(
                leaf, pool, at=at, required_key_usage=frozenset(), required_eku=_TIME_STAMPING
            )
        else:
            result = self._validator.validate(leaf, pool, at=at)
        return ChainResult(result.to_check("chain"), tuple(c.der for c in result.path))
