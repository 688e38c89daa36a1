"""Signed, compressed licence status list (4 bits per licence, 2 read) with freshness.

A verifier offline learns status changes from this list: one entry per
status index (allocated by the registry), packed most-significant-bit first
(with 4 bits, index i lives in byte i // 2 at shift 4 - 4 * (i % 2); with the
version-1 2 bits, byte i // 4 at shift 6 - 2 * (i % 4)), zlib-compressed (a
list of mostly-valid licences compresses to almost nothing), inside a
COSE_Sign1 with content type ``CONTENT_TYPE`` signed by a ``status-signer``
of the trust list for the same issuer.

Entry values: 0 valid, 1 revoked, 2 suspended (reversible), 3 reserved,
4 cancelled, 5 superseded, 6 expired (past its validity; may still become
revoked, cancelled or superseded, never valid again), 7..15 reserved. A
verifier that predates value 6 reads it as reserved, i.e. unknown, so an
expired licence is INDETERMINATE there and FAILED (EXPIRED) in current ones:
older verifiers fail closed, never pass it. Revoked, cancelled and superseded
are final and distinct, so a verifier can say which (a cancelled licence was
given up, a superseded one replaced, a revoked one withdrawn). A reserved
value, an index beyond the list and a list that is missing, stale or
future-dated all mean "unknown", which verifiers treat as INDETERMINATE,
never as valid. New lists carry 4 bits (key 5); 2-bit lists (values 0..3)
are still read.

Payload: ``{1: list id, 2: issuer, 3: issued_at, 4: next_update, 5: bits (4 or 2),
6: size, 7: zlib(bitstring)[, 8: seals, 9: certificates, 10: audit head]}``.

Keys 8 and 9 publish the status of the issuer's seals (``{esID: revoked_at
seconds | null}``) and signing certificates (``{SHA-256: revoked_at seconds |
null}``) so that an offline verifier can decide them: a seal or certificate
a fresh list does not carry is unknown (INDETERMINATE), never good. A list
without key 8 carries no seal status at all. The list's *sequence*, which
a verifier persists to refuse rollback, is its issue time in seconds.

    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> lst = StatusList.empty("L1", "ISSUER", 8, t, t.replace(day=2))
    >>> lst.updated({3: LicenceStatus.REVOKED}, t, t.replace(day=2)).status(3).name
    'REVOKED'
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final

import cbor2

from trust.keys import SigningKey
from trust.token.certs import CertFacts
from trust.token.cose import decode_cbor, decode_sign1, sign1, verify_sign1
from trust.token.errors import CoseFormatError, TokenTrustError
from trust.trustlist import Role, TrustList

__all__ = ["CONTENT_TYPE", "FINAL", "MAX_ENTRIES", "LicenceStatus", "StatusList", "StatusListError"]

CONTENT_TYPE: Final = "application/vnd.sealtrust.status-list+cbor"
BITS: Final = 4  # written; LEGACY_BITS lists are still read
LEGACY_BITS: Final = 2
_WIDTHS: Final = (LEGACY_BITS, BITS)
MAX_ENTRIES: Final = 1 << 24
MAX_OBJECTS: Final = 100_000  # seals or certificates per list
_MAX_SIGNED: Final = 1 << 20
_KEYS: Final = frozenset({1, 2, 3, 4, 5, 6, 7})
_OPTIONAL: Final = frozenset({8, 9, 10})
_MAX_HEAD: Final = 4096


class StatusListError(TokenTrustError):
    """A status list that is malformed, badly signed or from an unlisted signer."""

    code = "status.invalid"


class LicenceStatus(IntEnum):
    """A licence's state; UNKNOWN is never treated as good."""

    VALID = 0
    REVOKED = 1
    SUSPENDED = 2
    UNKNOWN = 3  # also the reserved list value 3
    CANCELLED = 4
    SUPERSEDED = 5
    EXPIRED = 6  # valid_until has passed (the registry's daily expiry job)


# Once set, never changed by a later list (no un-revoking, un-cancelling, un-superseding).
FINAL: Final = frozenset({LicenceStatus.REVOKED, LicenceStatus.CANCELLED,
                          LicenceStatus.SUPERSEDED})
# Expired may still become revoked, cancelled or superseded (a renewal), never live again.
_NOT_AFTER_EXPIRY: Final = frozenset({LicenceStatus.VALID, LicenceStatus.SUSPENDED})
_SETTABLE: Final = frozenset(LicenceStatus) - {LicenceStatus.UNKNOWN}
_VALUES: Final = frozenset(int(s) for s in _SETTABLE)
# Entry value -> state, reserved values UNKNOWN (a table: read for every token checked).
_STATE_OF: Final = tuple(LicenceStatus(v) if v in _VALUES else LicenceStatus.UNKNOWN
                         for v in range(1 << BITS))


def _aware(moment: datetime, what: str) -> datetime:
    """Aware, in UTC, whole seconds (what the CBOR form keeps)."""
    if type(moment) is datetime and moment.tzinfo is UTC:
        # Every token check's ``now`` and parsed list time: no conversion to pay for.
        return moment.replace(microsecond=0) if moment.microsecond else moment
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise StatusListError(
            f"{what} must be a timezone-aware datetime", code="input.naive_datetime"
        )
    return moment.astimezone(UTC).replace(microsecond=0)


def _inflate(data: bytes, expected: int) -> bytes:
    """Decompress at most ``expected`` bytes: a zlib bomb stops at the cap."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, expected)
        if inflater.unconsumed_tail or not inflater.eof:
            raise StatusListError("status bitstring is longer than its declared size or cut")
    except zlib.error as exc:
        raise StatusListError(f"status bitstring is not zlib data: {exc}") from None
    if len(out) != expected or inflater.unused_data:
        raise StatusListError("status bitstring length does not match its declared size")
    return out


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _objects(raw: object, what: str) -> dict[object, datetime | None] | None:
    """Key 8 or 9: a map to revocation seconds or null (bounded before it is walked)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or len(raw) > MAX_OBJECTS:
        raise StatusListError(f"status list {what} must be a map of at most {MAX_OBJECTS}")
    out: dict[object, datetime | None] = {}
    for key, value in raw.items():
        if value is not None and (type(value) is not int or not 0 <= value < 1 << 40):
            raise StatusListError(f"status list {what}: revocation times are epoch seconds")
        out[key] = None if value is None else datetime.fromtimestamp(value, UTC)
    return out


@dataclass(frozen=True, slots=True)
class StatusList:
    """One issuer's status list at one moment; immutable, updated by copy."""

    list_id: str
    issuer: str
    issued_at: datetime
    next_update: datetime
    size: int
    bits: bytes
    entry_bits: int = BITS
    seals: Mapping[str, datetime | None] | None = None  # esID -> revoked at (None: good)
    certificates: Mapping[bytes, datetime | None] | None = None  # SHA-256 -> revoked at
    # key 10: the service's latest signed audit tree head (checkpoint JSON), as in the trust
    # list: every verifier holding a list holds a checkpoint against a rolled-back log
    audit_head: bytes | None = None

    def __post_init__(self) -> None:
        for text, what in ((self.list_id, "list id"), (self.issuer, "issuer")):
            if not isinstance(text, str) or not 0 < len(text) <= 64:
                raise StatusListError(f"status {what} must be text of 1..64 characters")
        object.__setattr__(self, "issued_at", _aware(self.issued_at, "issued_at"))
        object.__setattr__(self, "next_update", _aware(self.next_update, "next_update"))
        if self.next_update <= self.issued_at:
            raise StatusListError("status list next_update must follow issued_at")
        if type(self.size) is not int or not 0 < self.size <= MAX_ENTRIES:
            raise StatusListError(f"status list size must be in 1..{MAX_ENTRIES}")
        if self.entry_bits not in _WIDTHS:
            raise StatusListError(f"status lists carry {' or '.join(map(str, _WIDTHS))} bits "
                                  "per entry")
        if len(self.bits) != (self.size * self.entry_bits + 7) // 8:
            raise StatusListError("status bitstring length does not match size")
        if self.audit_head is not None and (
                not isinstance(self.audit_head, bytes) or len(self.audit_head) > _MAX_HEAD):
            raise StatusListError(f"status list audit head must be at most {_MAX_HEAD} bytes")
        if self.seals is not None:
            if len(self.seals) > MAX_OBJECTS or not all(
                    isinstance(k, str) and 0 < len(k) <= 64 for k in self.seals):
                raise StatusListError("status list seals must be at most "
                                      f"{MAX_OBJECTS} esIDs of 1..64 characters")
            object.__setattr__(self, "seals", {k: None if v is None else _aware(v, "revoked_at")
                                               for k, v in self.seals.items()})
        if self.certificates is not None:
            if len(self.certificates) > MAX_OBJECTS or not all(
                    isinstance(k, bytes) and len(k) == 32 for k in self.certificates):
                raise StatusListError("status list certificates must be at most "
                                      f"{MAX_OBJECTS} SHA-256 digests")
            object.__setattr__(self, "certificates", {
                k: None if v is None else _aware(v, "revoked_at")
                for k, v in self.certificates.items()})

    @property
    def sequence(self) -> int:
        """Monotonic per issuer: the issue time in seconds (rollback protection)."""
        return int(self.issued_at.timestamp())

    def with_objects(self, seals: Mapping[str, datetime | None] | None,
                     certificates: Mapping[bytes, datetime | None] | None,
                     audit_head: bytes | None = None) -> StatusList:
        """A copy that also publishes seal and certificate status (and an audit head)."""
        return StatusList(self.list_id, self.issuer, self.issued_at, self.next_update,
                          self.size, self.bits, self.entry_bits, seals, certificates,
                          audit_head if audit_head is not None else self.audit_head)

    @classmethod
    def empty(
        cls, list_id: str, issuer: str, size: int, issued_at: datetime, next_update: datetime,
        entry_bits: int = BITS,
    ) -> StatusList:
        """A list of ``size`` licences, all valid."""
        if type(size) is not int or not 0 < size <= MAX_ENTRIES:
            raise StatusListError(f"status list size must be in 1..{MAX_ENTRIES}")
        return cls(list_id, issuer, issued_at, next_update, size,
                   bytes((size * entry_bits + 7) // 8), entry_bits)

    def _slot(self, index: int) -> tuple[int, int]:
        """(byte, shift) of an entry: most significant bits first."""
        per_byte = 8 // self.entry_bits
        return index // per_byte, 8 - self.entry_bits * (index % per_byte + 1)

    def status(self, index: int) -> LicenceStatus:
        """The state at ``index``; out of range or a reserved value is UNKNOWN (fail closed)."""
        if not 0 <= index < self.size:
            return LicenceStatus.UNKNOWN
        byte, shift = self._slot(index)
        return _STATE_OF[(self.bits[byte] >> shift) & ((1 << self.entry_bits) - 1)]

    def updated(
        self, changes: Mapping[int, LicenceStatus], issued_at: datetime, next_update: datetime
    ) -> StatusList:
        """A new list with ``changes`` applied; a final entry (revoked, cancelled,
        superseded) never changes to anything else, an expired one never to valid or
        suspended."""
        bits = bytearray(self.bits)
        mask = (1 << self.entry_bits) - 1
        for index, state in changes.items():
            if not 0 <= index < self.size:
                raise StatusListError(f"status index {index} outside the list")
            if state not in _SETTABLE:
                raise StatusListError(f"{state!r} is not a state one can set")
            if int(state) > mask:
                raise StatusListError(f"{state.name} needs a {BITS}-bit list")
            current = self.status(index)
            if current in FINAL and state is not current:
                raise StatusListError(f"index {index} is {current.name.lower()}; that is final")
            if current is LicenceStatus.EXPIRED and state in _NOT_AFTER_EXPIRY:
                raise StatusListError(f"index {index} is expired; it cannot be {state.name}")
            byte, shift = self._slot(index)
            bits[byte] = (bits[byte] & ~(mask << shift)) | (int(state) << shift)
        return StatusList(self.list_id, self.issuer, issued_at, next_update, self.size,
                          bytes(bits), self.entry_bits, self.seals, self.certificates,
                          self.audit_head)

    def age(self, now: datetime) -> timedelta:
        """How old the list is at ``now`` (negative if dated in the future)."""
        return _aware(now, "now") - self.issued_at

    def to_cbor(self) -> bytes:
        payload: dict[int, object] = {
            1: self.list_id,
            2: self.issuer,
            3: int(self.issued_at.timestamp()),
            4: int(self.next_update.timestamp()),
            5: self.entry_bits,
            6: self.size,
            7: zlib.compress(self.bits, 9),
        }
        if self.seals is not None:
            payload[8] = {k: _seconds(v) for k, v in self.seals.items()}
        if self.certificates is not None:
            payload[9] = {k: _seconds(v) for k, v in self.certificates.items()}
        if self.audit_head is not None:
            payload[10] = self.audit_head
        return cbor2.dumps(payload, canonical=True)

    @classmethod
    def from_cbor(cls, data: bytes) -> StatusList:
        raw = decode_cbor(data, max_size=_MAX_SIGNED, what="status list")
        if not isinstance(raw, Mapping) or not _KEYS <= set(raw) <= _KEYS | _OPTIONAL:
            raise StatusListError("status list payload must be a map with keys 1..7 (8-10)")
        if type(raw[5]) is not int or raw[5] not in _WIDTHS:
            raise StatusListError(f"status list with {raw[5]!r} bits per entry is not supported")
        size, packed = raw[6], raw[7]
        if type(size) is not int or not 0 < size <= MAX_ENTRIES or not isinstance(packed, bytes):
            raise StatusListError("status list size or bitstring is malformed")
        times = []
        for key in (3, 4):
            if type(raw[key]) is not int or not 0 <= raw[key] < 1 << 40:
                raise StatusListError("status list times must be seconds since the epoch")
            times.append(datetime.fromtimestamp(raw[key], UTC))
        bits = _inflate(packed, (size * raw[5] + 7) // 8)
        # key types (text esIDs, 32-byte digests) are checked by __post_init__
        return cls(raw[1], raw[2], times[0], times[1], size, bits, raw[5],
                   _objects(raw.get(8), "seals"),  # type: ignore[arg-type]
                   _objects(raw.get(9), "certificates"),  # type: ignore[arg-type]
                   raw.get(10))

    def sign(self, key: SigningKey, certificate_der: bytes) -> bytes:
        """COSE_Sign1 bytes signed by a status signer of this issuer."""
        signer = CertFacts.from_der(certificate_der)
        if signer.spki != key.public_key_der():
            raise StatusListError("status signer key does not match its certificate")
        return sign1(self.to_cbor(), key, kid=signer.kid, content_type=CONTENT_TYPE)

    @classmethod
    def verify(cls, data: bytes, trust_list: TrustList) -> StatusList:
        """Check the signature against the trust list's status signers for its issuer.

        The signer certificate must be valid at the list's issue time and belong to
        the issuer named inside the list. Freshness is the verifier's call (it
        knows ``now`` and its policy): see :meth:`age`.
        """
        envelope = decode_sign1(data, max_size=_MAX_SIGNED)
        if envelope.content_type != CONTENT_TYPE:
            raise CoseFormatError(f"content type {envelope.content_type!r} is not a status list")
        candidates = trust_list.candidates(envelope.kid, Role.STATUS_SIGNER)
        verified = [c for c in candidates if verify_sign1(envelope, c.facts.spki)]
        if not verified:
            raise StatusListError(
                "status list is not signed by a listed status signer", code="status.signature"
            )
        status_list = cls.from_cbor(envelope.payload)
        if not any(
            c.issuer == status_list.issuer and c.facts.valid_at(status_list.issued_at)
            for c in verified
        ):
            raise StatusListError(
                "status signer is not valid for this issuer at issue time", code="status.signature"
            )
        return status_list
