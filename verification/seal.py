"""The GB/T 38540 seal bound to a signature: maker, maker chain, validity, certList.

Per process, everything about a seal that does not depend on time (format,
maker signature, certList membership of a signer) is computed once and kept
by SHA-256 fingerprint; the maker chain (whose edge signatures ``trust.pki``
caches) and the validity window are judged on every call at the signing
time, so a cached seal is never used outside its validity window.

A batch is sealed with one seal or a few, and each licence reads its seal
twice (facts, then check): the last seal's DER is compared byte for byte
before any fingerprint is computed (a comparison is far cheaper than SHA-256).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from trust.indications import Check, Indication, SubIndication
from trust.seal import Outcome, Seal, SealFormatError, parse_seal, verify_seal
from verification.policy import ChainValidator
from verification.timestamp import fingerprint

__all__ = ["check_seal", "seal_id"]

_MAX_ENTRIES: Final = 1024
_TIME_DEPENDENT: Final = frozenset({"seal.maker_chain", "seal.validity"})


@dataclass(frozen=True, slots=True)
class _Static:
    """The time-independent verdict on one seal (None: the seal does not parse)."""

    key: str  # the seal's fingerprint
    seal: Seal | None
    checks: tuple[Check, ...]


_static: dict[str, _Static] = {}
_listed: dict[tuple[str, bytes], bool] = {}  # (seal fingerprint, signer certificate DER)
_last: tuple[bytes, _Static] | None = None  # the last seal asked for, and its DER


def _accept(cert: bytes, at: datetime) -> Outcome:
    return Outcome(Indication.TOTAL_PASSED, detail="judged separately")


def _static_of(seal_der: bytes) -> _Static:
    global _last
    last = _last
    if last is not None and (last[0] is seal_der or last[0] == seal_der):
        return last[1]
    key = fingerprint(seal_der)
    found = _static.get(key)
    if found is None:
        if len(_static) >= _MAX_ENTRIES:
            _static.clear()
            _listed.clear()
        try:
            seal: Seal | None = parse_seal(seal_der)
        except SealFormatError:
            seal = None
        # any time will do: the time-dependent checks are dropped and redone per call
        at = seal.valid_start if seal is not None else datetime(1970, 1, 1, tzinfo=UTC)
        result = verify_seal(seal_der, at, chain_validator=_accept)
        static = tuple(c for c in result.checks if c.name not in _TIME_DEPENDENT)
        found = _static[key] = _Static(key, seal, static)
    _last = (seal_der, found)
    return found


def seal_id(seal_der: bytes | None) -> str | None:
    """The seal's esID, or None when there is no seal or it does not parse."""
    if seal_der is None:
        return None
    seal = _static_of(seal_der).seal
    return None if seal is None else seal.es_id


def _window(seal: Seal, t: datetime) -> Check | None:
    if t < seal.valid_start:
        return Check("seal", Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID,
                     f"seal.validity: seal {seal.es_id} not valid before {seal.valid_start}")
    if t > seal.valid_end:
        return Check("seal", Indication.TOTAL_FAILED, SubIndication.EXPIRED,
                     f"seal.validity: seal {seal.es_id} expired at {seal.valid_end}")
    return None


def check_seal(
    seal_der: bytes, signer_cert: bytes, signing_time: datetime, chains: ChainValidator
) -> Check:
    """One ``seal`` check: the first failing seal step names the outcome.

    ``signing_time`` is the verified time-stamp time when there is one, else
    the validation time (docs/seal-binding.md, step 3).
    """
    static = _static_of(seal_der)
    for check in static.checks:
        if not check.passed:
            return Check("seal", check.indication, check.sub_indication,
                         f"{check.name}: {check.detail}")
    seal = static.seal
    assert seal is not None  # a seal that does not parse fails seal.format above
    listed_key = (static.key, signer_cert)
    listed = _listed.get(listed_key)
    if listed is None:
        listed = _listed[listed_key] = seal.lists(signer_cert)
    if not listed:
        return Check("seal", Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE,
                     f"seal.cert_list: the signer is not in the certList of seal {seal.es_id}")
    window = _window(seal, signing_time)
    if window is not None:
        return window
    chain = chains.validate(seal.maker_cert, (), signing_time, "seal")
    if not chain.check.passed:
        return Check("seal", chain.check.indication, chain.check.sub_indication,
                     f"seal.maker_chain: {chain.check.detail}")
    return Check("seal", Indication.TOTAL_PASSED, None,
                 f"seal {seal.es_id} ({seal.name}) made by a trusted maker, valid at "
                 f"{signing_time.isoformat()}, signer listed")
