"""Signed trust list: which issuer CAs and token/status signers a verifier accepts.

Mutual recognition between regions is data: another region's issuer is one
more entry, scoped to the licence types it may sign. The list is a COSE_Sign1
(content type ``CONTENT_TYPE``) signed by a trust-list operator whose
certificate the verifier pins; each list has a sequence number, and a
verifier that has seen sequence N refuses any list below N (the DCC lesson: a
verifier re-accepted pulled keys from an older, inconsistent list).

Every signer entry must be issued by an ``issuer-ca`` entry of the same
issuer, checked when the list is built or loaded, so an invalid list cannot
exist in memory; a ``status-signer`` entry must carry the list-signing
purpose (:data:`trust.pki.oids.EKU_LIST_SIGNING`).

Who signs (key roles): a list signer, i.e. a certificate with the
list-signing purpose that is either pinned itself or carried in the payload
(key 6) and issued by a pinned anchor (the deployment pins its SM2 root and
the root key stays offline). A list signed by a root, a department key or
anything else without that purpose is refused.

Payload: ``{1: sequence, 2: issued_at, 3: next_update, 4: [entry...]}`` plus,
optionally, ``5: audit head`` (the service's latest signed audit tree head,
the JSON of ``GET /v1/audit/head``, so every holder of a list holds a
checkpoint of the audit log, see ``sealtrust audit verify --checkpoint``) and
``6: signer certificate DER``;
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
from trust.pki.oids import EKU_LIST_SIGNING
from trust.token.certs import CertFacts, ext_key_usage
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
    """Aware, in UTC, whole seconds (what the CBOR form keeps)."""
    if type(moment) is datetime and moment.tzinfo is UTC:
        # Every token check's ``now`` and parsed list time: no conversion to pay for.
        return moment.replace(microsecond=0) if moment.microsecond else moment
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
    audit_head: bytes | None = None  # the latest signed audit head (JSON), a checkpoint
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
        if self.audit_head is not None and (
                not isinstance(self.audit_head, bytes) or len(self.audit_head) > 4096):
            raise TokenTrustError("trust list audit head must be at most 4 KiB of bytes")
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
            # Threat: a token signer or department key passed off as the signer of a
            # status list (it could then un-revoke licences offline).
            if entry.role is Role.STATUS_SIGNER and not _is_list_signer(entry.certificate):
                raise TokenTrustError(
                    f"status signer {entry.facts.subject!r} lacks the list-signing purpose")
            index.setdefault((entry.facts.kid, entry.role), []).append(entry)
        object.__setattr__(self, "_by_kid", {k: tuple(v) for k, v in index.items()})

    def candidates(self, kid: bytes, role: Role) -> tuple[TrustEntry, ...]:
        """Every entry of ``role`` whose kid is ``kid`` (kids are truncated: try each)."""
        return self._by_kid.get((kid, role), ())

    def age(self, now: datetime) -> timedelta:
        """How old the list is at ``now`` (negative if dated in the future)."""
        return _aware(now, "now") - self.issued_at

    def to_cbor(self, signer: bytes | None = None) -> bytes:
        payload: dict[int, Any] = {
            1: self.sequence,
            2: int(self.issued_at.timestamp()),
            3: int(self.next_update.timestamp()),
            4: [e.to_map() for e in self.entries],
        }
        if self.audit_head is not None:
            payload[5] = self.audit_head
        if signer is not None:
            payload[6] = signer
        return cbor2.dumps(payload, canonical=True)

    @classmethod
    def from_cbor(cls, data: bytes) -> TrustList:
        raw = decode_cbor(data, max_size=MAX_BYTES, what="trust list")
        if not isinstance(raw, Mapping) or not {1, 2, 3, 4} <= set(raw) <= {1, 2, 3, 4, 5, 6}:
            raise TokenTrustError("trust list payload must be a map with keys 1..4 (5, 6)")
        head = raw.get(5)
        if head is not None and not isinstance(head, bytes):
            raise TokenTrustError("trust list audit head must be bytes")
        entries = raw[4]
        if not isinstance(entries, list | tuple) or len(entries) > MAX_ENTRIES:
            raise TokenTrustError("trust list entries must be an array")
        times = []
        for key in (2, 3):
            if type(raw[key]) is not int or not 0 <= raw[key] < 1 << 40:
                raise TokenTrustError("trust list times must be seconds since the epoch")
            times.append(datetime.fromtimestamp(raw[key], UTC))
        return cls(raw[1], times[0], times[1], tuple(TrustEntry.from_map(e) for e in entries),
                   head)

    def sign(self, key: SigningKey, certificate_der: bytes, *, embed: bool = False) -> bytes:
        """COSE_Sign1 bytes, signed by a list signer's key.

        ``embed``: carry the signer's certificate (key 6), for verifiers that pin
        the root that issued it rather than the signer itself.
        """
        operator = CertFacts.from_der(certificate_der)
        if operator.spki != key.public_key_der():
            raise TokenTrustError("operator key does not match its certificate")
        if not _is_list_signer(certificate_der):
            raise TokenTrustError("the trust-list signer lacks the list-signing purpose")
        return sign1(self.to_cbor(certificate_der if embed else None), key, kid=operator.kid,
                     content_type=CONTENT_TYPE)

    @classmethod
    def verify(
        cls,
        data: bytes,
        anchors: Iterable[bytes],
        *,
        previous_sequence: int | None = None,
    ) -> TrustList:
        """Check the list signer against pinned ``anchors`` and refuse rollback.

        The signer is a pinned certificate, or the one the payload carries if a
        pinned anchor issued it; either way it must carry the list-signing
        purpose and be valid (with its anchor) when the list says it was issued.
        """
        envelope = decode_sign1(data, max_size=MAX_BYTES)
        if envelope.content_type != CONTENT_TYPE:
            raise CoseFormatError(f"content type {envelope.content_type!r} is not a trust list")
        anchor_facts: Sequence[CertFacts] = [CertFacts.from_der(a) for a in anchors]
        raw = decode_cbor(envelope.payload, max_size=MAX_BYTES, what="trust list")
        carried = raw.get(6) if isinstance(raw, Mapping) else None
        signers: list[tuple[CertFacts, CertFacts]] = []  # (signer, the anchor vouching)
        if isinstance(carried, bytes):
            signer = CertFacts.from_der(carried)
            signers = [(signer, a) for a in anchor_facts if signer.issued_by(a)]
        elif carried is not None:
            raise TokenTrustError("trust list signer certificate must be bytes")
        signers += [(a, a) for a in anchor_facts]
        verified = [
            (s, a) for s, a in signers if s.kid == envelope.kid and verify_sign1(envelope, s.spki)
        ]
        if not verified:
            raise TokenTrustError(
                "trust list signature does not verify under any pinned anchor",
                code="trustlist.signature",
            )
        # Threat: a root or a department key signing lists. Only a key certified for
        # the list-signing purpose may (roots stay offline, departments sign licences).
        verified = [(s, a) for s, a in verified if _is_list_signer(s.der)]
        if not verified:
            raise TokenTrustError(
                "trust list signer lacks the list-signing purpose (a list signed by a root "
                "or a department key is refused)",
                code="trustlist.signer",
            )
        trust_list = cls.from_cbor(envelope.payload)
        if not any(s.valid_at(trust_list.issued_at) and a.valid_at(trust_list.issued_at)
                   for s, a in verified):
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


def _is_list_signer(certificate_der: bytes) -> bool:
    """The certificate names the list-signing purpose (and so is no CA and no signer)."""
    return EKU_LIST_SIGNING in ext_key_usage(certificate_der)
