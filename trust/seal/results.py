"""Frozen verification results for seals and seal signatures.

Each result names every check it ran (``trust.indications.Check``) and the
facts a report shows; the bottom line is derived, never stored, so it cannot
disagree with the checks: any TOTAL_FAILED check fails the whole, else any
INDETERMINATE one makes it INDETERMINATE, else it is TOTAL_PASSED.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trust.indications import Check, Indication, SubIndication

__all__ = [
    "ChainValidator",
    "Outcome",
    "SealFacts",
    "SealResult",
    "SealSignatureResult",
    "SignatureFacts",
    "TimestampValidator",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an injected validator (certificate chain, time-stamp) concluded."""

    indication: Indication
    sub_indication: SubIndication | None = None
    detail: str = ""


# (certificate DER, validation time) -> Outcome: chain building, revocation and
# key usage live in the PKI module; seals only consume the verdict.
ChainValidator = Callable[[bytes, datetime], Outcome]
# (time-stamp token, signature value it should cover) -> Outcome.
TimestampValidator = Callable[[bytes, bytes], Outcome]


@dataclass(frozen=True, slots=True)
class SealFacts:
    """What a seal says about itself (for reports; trust comes from the checks)."""

    format_version: int
    header_version: int
    vendor_id: str
    es_id: str
    name: str
    seal_type: int
    created: datetime
    valid_start: datetime
    valid_end: datetime
    maker_subject: str | None
    maker_signature_algorithm: str
    maker_signed_form: str | None  # "SES_SealInfo" or "SEQUENCE{sealInfo,cert,algID}"
    cert_list_type: int
    cert_list: tuple[str, ...]  # subjects (type 1) or "type:hex digest" (type 2)
    picture_type: str
    picture_bytes: int
    picture_width_mm: int
    picture_height_mm: int


@dataclass(frozen=True, slots=True)
class SignatureFacts:
    """What a seal signature says about itself."""

    format_version: int
    version: int
    signer_subject: str | None
    signing_time: datetime | None
    property_info: str
    data_hash: str  # hex
    signature_algorithm: str
    timestamp_present: bool


def _bottom_line(checks: Iterable[Check]) -> tuple[Indication, SubIndication | None]:
    checks = tuple(checks)
    for wanted in (Indication.TOTAL_FAILED, Indication.INDETERMINATE):
        for check in checks:
            if check.indication is wanted:
                return wanted, check.sub_indication
    return Indication.TOTAL_PASSED, None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


class _Verdict:
    """The bottom line shared by both result types."""

    __slots__ = ()

    checks: tuple[Check, ...]

    @property
    def indication(self) -> Indication:
        return _bottom_line(self.checks)[0]

    @property
    def sub_indication(self) -> SubIndication | None:
        return _bottom_line(self.checks)[1]

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def check(self, name: str) -> Check:
        """The check called ``name`` (KeyError if it did not run)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    @property
    def summary(self) -> str:
        indication, sub = _bottom_line(self.checks)
        if indication is Indication.TOTAL_PASSED:
            return f"{indication}: all {len(self.checks)} checks passed"
        bad = [c for c in self.checks if not c.passed]
        first = bad[0]
        return f"{indication} ({sub}): {first.name}: {first.detail}" + (
            f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        )

    def _common(self) -> dict[str, Any]:
        return {
            "indication": str(self.indication),
            "sub_indication": None if self.sub_indication is None else str(self.sub_indication),
            "summary": self.summary,
            "checks": [
                {
                    "name": c.name,
                    "indication": str(c.indication),
                    "sub_indication": None if c.sub_indication is None else str(c.sub_indication),
                    "detail": c.detail,
                }
                for c in self.checks
            ],
        }


@dataclass(frozen=True, slots=True)
class SealResult(_Verdict):
    """Verification of one electronic seal at one time."""

    at: datetime
    facts: SealFacts | None  # None when the seal could not be parsed
    checks: tuple[Check, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times ISO 8601, bytes hex)."""
        return {"at": self.at.isoformat(), "seal": _plain(self.facts), **self._common()}


@dataclass(frozen=True, slots=True)
class SealSignatureResult(_Verdict):
    """Verification of one seal signature (签章); ``checks`` include the seal's own."""

    at: datetime
    seal: SealFacts | None
    facts: SignatureFacts | None
    checks: tuple[Check, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times ISO 8601, bytes hex)."""
        return {
            "at": self.at.isoformat(),
            "seal": _plain(self.seal),
            "signature": _plain(self.facts),
            **self._common(),
        }
