"""Signed trust list: which issuer CAs and token/status signers a verifier accepts.

Mutual recognition between regions is data: another region's issuer is one
more entry, scoped to the licence types it may sign. The list is a COSE_Sign1
(content type ``CONTENT_TYPE``) signed by a trust-list operator whose
certificate the verifier pins; each list has a sequence number, and a
verifier that has seen sequence N refuses any list below N (the DCC lesson: a
verifier re-accepted pulled keys from an older, inconsistent list).

Every signer entry must be issued by an ``issuer-ca`` entry of the same
issuer, checked when the list is built or loaded, so an invalid list cannot
exist in memory.

Payload: ``{1: sequence, 2: issued_at, 3: next_update, 4: [entry...]}``,
entry ``{1: issuer, 2: region, 3: role, 4: [licence types | "*"], 5: cert DER}``.

    >>> Role("token-signer") is Role.TOKEN_SIGNER
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import cbor2

from trust.keys import SigningKey
from trust.token.certs import CertFacts
from trust.token.cose import decode_cbor, decode_sign1, sign1, verify_sign1
from trust.token.errors import CoseFormatError, TokenTrustError

__all__ = ["CONTENT_TYPE", "Role", "RollbackError", "TrustEntry", "TrustList"]

CONTENT_TYPE: Final = "application/vnd.sealtrust.trust-list+cbor"
MAX_BYTES: Final = 4 * 1024 * 1024
MAX_ENTRIES: Final = 10_000
ANY_TYPE: Final = "*"


class RollbackError(TokenTrustError):
    """A trust list older (lower sequence) than one already accepted."""

    code = "trustlist.rollback"


class Role(StrEnum):
    """What a listed certificate may do."""

    ISSUER_CA = "issuer-ca"
    TOKEN_SIGNER = "token-signer"  # noqa: S105 - a role name, not a secret
    STATUS_SIGNER = "status-signer"


def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise TokenTrustError(
            f"{what} must be a timezone-aware datetime", code="input.naive_datetime"
        )
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class TrustEntry:
    """One trusted certificate, its issuer (authority code), region, role and scope."""

    issuer: str
    region: str
    role: Role
    licence_types: tuple[str, ...]
    certificate: bytes
    facts: CertFacts = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for text, what in ((self.issuer, "issuer"), (self.region, "region")):
            if not isinstance(text, str) or not 0 < len(text) <= 64:
                raise TokenTrustError(f"trust entry {what} must be text of 1..64 characters")
        if not isinstance(self.role, Role):
            raise TokenTrustError("trust entry role must be a Role")
        if not self.licence_types or not all(
            isinstance(t, str) and 0 < len(t) <= 32 for t in self.licence_types
        ):
            raise TokenTrustError("trust entry needs licence types (or '*')")
        object.__setattr__(self, "facts", CertFacts.from_der(self.certificate))

    def allows(self, licence_type: str) -> bool:
        """May this signer vouch for ``licence_type``?"""
        return ANY_TYPE in self.licence_types or licence_type in self.licence_types

    def to_map(self) -> dict[int, Any]:
        return {
            1: self.issuer,
            2: self.region,
            3: self.role.value,
            4: list(self.licence_types),
            5: self.certificate,
        }

    @classmethod
    def from_map(cls, raw: object) -> TrustEntry:
        if not isinstance(raw, Mapping) or set(raw) != {1, 2, 3, 4, 5}:
            raise TokenTrustError("trust entry must be a map with keys 1..5")
        types, cert = raw[4], raw[5]
        if not isinstance(types, list | tuple) or not isinstance(cert, bytes):
            raise TokenTrustError("trust entry types must be an array and cert bytes")
        try:
            role = Role(raw[3])
        except ValueError:
            raise TokenTrustError(f"unknown trust entry role {raw[3]!r}") from None
        return cls(raw[1], raw[2], role, tuple(types), cert)


@dataclass(frozen=True, slots=True)
class TrustList:
    """A checked trust list; look signers up by kid with :meth:`candidates`."""

    sequence: int
    issued_at: datetime
    next_update: datetime
    entries: tuple[TrustEntry, ...]
    _by_kid: dict[tuple[bytes, Role], tuple[TrustEntry, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if type(self.sequence) is not int or not 0 <= self.sequence < 1 << 63:
            raise TokenTrustError("trust list sequence must be a non-negative integer")
        object.__setattr__(self, "issued_at", _aware(self.issued_at, "issued_at"))
        object.__setattr__(self, "next_update", _aware(self.next_update, "next_update"))
        if self.next_update <= self.issued_at:
            raise TokenTrustError("trust list next_update must follow issued_at")
        if len(self.entries) > MAX_ENTRIES:
            raise TokenTrustError(f"trust list has more than {MAX_ENTRIES} entries")
        index: dict[tuple[bytes, Role], list[TrustEntry]] = {}
        cas = [e for e in self.entries if e.role is Role.ISSUER_CA]
        for entry in self.entries:
            if entry.role is not Role.ISSUER_CA and not any(
                ca.issuer == entry.issuer and entry.facts.issued_by(ca.facts) for ca in cas
            ):
                raise TokenTrustError(
                    f"{entry.role} {entry.facts.subject!r} is not issued by a listed CA "
                    f"of {entry.issuer}"
                )
            index.setdefault((entry.facts.kid, entry.role), []).append(entry)
        object.__setattr__(self, "_by_kid", {k: tuple(v) for k, v in index.items()})

    def candidates(self, kid: bytes, role: Role) -> tuple[TrustEntry, ...]:
        """Every entry of ``role`` whose kid is ``kid`` (kids are truncated: try each)."""
        return self._by_kid.get((kid, role), ())

    def age(self, now: datetime) -> timedelta:
        """How old the list is at ``now`` (negative if dated in the future)."""
        return _aware(now, "now") - self.issued_at

    def to_cbor(self) -> bytes:
        return cbor2.dumps(
            {
                1: self.sequence,
                2: int(self.issued_at.timestamp()),
                3: int(self.next_update.timestamp()),
                4: [e.to_map() for e in self.entries],
            },
            canonical=True,
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> TrustList:
        raw = decode_cbor(data, max_size=MAX_BYTES, what="trust list")
        if not isinstance(raw, Mapping) or set(raw) != {1, 2, 3, 4}:
            raise TokenTrustError("trust list payload must be a map with keys 1..4")
        entries = raw[4]
        if not isinstance(entries, list | tuple) or len(entries) > MAX_ENTRIES:
            raise TokenTrustError("trust list entries must be an array")
        times = []
        for key in (2, 3):
            if type(raw[key]) is not int or not 0 <= raw[key] < 1 << 40:
                raise TokenTrustError("trust list times must be seconds since the epoch")
            times.append(datetime.fromtimestamp(raw[key], UTC))
        return cls(raw[1], times[0], times[1], tuple(TrustEntry.from_map(e) for e in entries))

    def sign(self, key: SigningKey, certificate_der: bytes) -> bytes:
        """COSE_Sign1 bytes, signed by the trust-list operator's key."""
        operator = CertFacts.from_der(certificate_der)
        if operator.spki != key.public_key_der():
            raise TokenTrustError("operator key does not match its certificate")
        return sign1(self.to_cbor(), key, kid=operator.kid, content_type=CONTENT_TYPE)

    @classmethod
    def verify(
        cls,
        data: bytes,
        anchors: Iterable[bytes],
        *,
        previous_sequence: int | None = None,
    ) -> TrustList:
        """Check the operator signature against pinned ``anchors`` and refuse rollback.

        The operator certificate must be valid when the list says it was issued.
        """
        envelope = decode_sign1(data, max_size=MAX_BYTES)
        if envelope.content_type != CONTENT_TYPE:
            raise CoseFormatError(f"content type {envelope.content_type!r} is not a trust list")
        anchor_facts: Sequence[CertFacts] = [CertFacts.from_der(a) for a in anchors]
        verified = [
            a for a in anchor_facts if a.kid == envelope.kid and verify_sign1(envelope, a.spki)
        ]
        if not verified:
            raise TokenTrustError(
                "trust list signature does not verify under any pinned anchor",
                code="trustlist.signature",
            )
        trust_list = cls.from_cbor(envelope.payload)
        if not any(a.valid_at(trust_list.issued_at) for a in verified):
            raise TokenTrustError(
                "trust list operator certificate not valid at its issue time",
                code="trustlist.signature",
            )
        if previous_sequence is not None and trust_list.sequence < previous_sequence:
            raise RollbackError(
                f"trust list sequence {trust_list.sequence} is below the accepted "
                f"{previous_sequence}"
            )
        return trust_list
