"""Where licence, seal and certificate status come from: the registry or signed lists.

Two sources with one interface (:class:`LicenceStatusSource` plus the
:class:`~verification.policy.RevocationChecker` of certificates):

- :class:`RegistryStatus` (online): the deployment registry. Licence status at
  the validation time from the licence's status events, seal revocation from
  ``SealRecord.revoked_at``, certificate revocation from
  ``CertificateRecord.revoked_at``. A certificate or licence the registry
  does not know is INDETERMINATE, never good.
- :class:`ListStatus` (offline): a signed status list per issuer, checked
  against a signed trust list, with the freshness rules of ``trust.status``
  (missing, stale or future-dated => INDETERMINATE / TRY_LATER); seal status
  from the lists' seal entries; certificate revocation from CRLs and the
  lists' certificate entries (``verification.revocation``), every
  certificate of a path covered.

Both are picklable, so a bulk run ships them to its worker processes once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Protocol, runtime_checkable

from trust.indications import Check, Indication, SubIndication
from trust.licence_id import LicenceId, LicenceIdError, parse_licence_id
from trust.pki.crl import CrlStore
from trust.status import StatusList
from trust.trustlist import Role, TrustList
from verification.certinfo import sha256_hex
from verification.revocation import RevocationData, path_revocation

__all__ = [
    "ChunkScope",
    "LicenceStatusSource",
    "ListStatus",
    "PendingStatus",
    "RegistryStatus",
    "parsed_licence_id",
]

_PASS: Final = Indication.TOTAL_PASSED
_FAIL: Final = Indication.TOTAL_FAILED
_UNSURE: Final = Indication.INDETERMINATE
_FINAL: Final = frozenset({"revoked", "cancelled", "superseded"})
SKEW: Final = timedelta(seconds=30)
_MAX_CHECKED: Final = 1024  # remembered offline revocation answers (ListStatus.check)


@lru_cache(maxsize=256)
def parsed_licence_id(text: str) -> LicenceId | LicenceIdError:
    """:func:`parse_licence_id`, or the error it raises; remembered because the
    facts (licence type) and the offline status check (issuer) each read the id."""
    try:
        return parse_licence_id(text)
    except LicenceIdError as exc:
        return exc


@runtime_checkable
class LicenceStatusSource(Protocol):
    """Licence and seal status at a time; every answer is a Check.

    ``consults_registry``: whether :meth:`registered_file` compares the file with
    the registered one (the verifier then computes the file's SM3 for it).
    """

    consults_registry: bool

    def licence_status(self, licence_id: str, at: datetime,
                       status_index: int | None = None) -> Check:
        """``status_index`` is the signed index from the licence itself, when present."""
        ...

    def seal_status(self, es_id: str, signing_time: datetime, at: datetime) -> Check: ...

    def registered_file(self, licence_id: str, file_sm3: str | None) -> Check:
        """Whether ``file_sm3`` (the file as its last signer left it) is the registered file."""
        ...


class ChunkScope(Protocol):
    """``source.chunk(licence_ids, es_ids, fingerprints, at)`` of a status source that can
    answer a chunk of files from one read (the bulk engine and verify_pdf use it when
    present): inside the context, answers for these ids at ``at`` come from memory."""

    def __call__(self, licence_ids: Iterable[str], es_ids: Iterable[str],
                 fingerprints: Iterable[str], at: datetime) -> AbstractContextManager[None]: ...


@lru_cache(maxsize=4)
def _not_consulted(why: str) -> Check:
    """Offline: say so. The signatures vouch for the signed bytes; nobody compared the
    file with the one registered at issuance (a re-signed copy is not detected)."""
    return Check("registered_file", _PASS, None,
                 f"registry not consulted ({why}): the file was not compared with the "
                 "registered one")


def _licence_check(state: str, licence_id: str, source: str) -> Check:
    if state == "valid":
        return Check("licence_status", _PASS, None, f"{licence_id}: valid ({source})")
    if state in _FINAL:
        return Check("licence_status", _FAIL, SubIndication.REVOKED,
                     f"{licence_id}: {state} ({source})")
    if state == "expired":
        # Threat: a licence past its validity kept in use; the registry (and the status
        # list, value 6) say so even where the signed validity was not checked (a token).
        return Check("licence_status", _FAIL, SubIndication.EXPIRED,
                     f"{licence_id}: expired ({source})")
    return Check("licence_status", _UNSURE, SubIndication.TRY_LATER,
                 f"{licence_id}: status {state} ({source})")


class PendingStatus:
    """No licence status source configured: fail closed."""

    consults_registry = False

    def licence_status(self, licence_id: str, at: datetime,
                       status_index: int | None = None) -> Check:
        return Check("licence_status", _UNSURE, SubIndication.TRY_LATER,
                     f"{licence_id}: no licence status source configured")

    def seal_status(self, es_id: str, signing_time: datetime, at: datetime) -> Check:
        return Check("seal", _UNSURE, SubIndication.TRY_LATER,
                     f"seal {es_id}: no seal status source configured")

    def registered_file(self, licence_id: str, file_sm3: str | None) -> Check:
        return _not_consulted("no status source configured")


class RegistryStatus:
    """Online status from the deployment registry at ``url`` (one engine per process)."""

    consults_registry = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._registry: Any = None
        # (licence id, registered file SM3) of the last licence_status call: the same
        # row answers registered_file without a second query
        self._last_file: tuple[str, str] | None = None
        # the rows of the chunk being judged, per thread: the service shares one policy
        # between request threads, and one request's rows must not answer another's
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url = state["url"]
        self._registry = None
        self._last_file = None
        self._local = threading.local()

    @contextmanager
    def chunk(self, licence_ids: Iterable[str], es_ids: Iterable[str],
              fingerprints: Iterable[str], at: datetime) -> Iterator[None]:
        """Read the rows a chunk of files needs in one statement (licences with their
        state at ``at``, seals, certificates) and answer from them until the block ends;
        an id the prefetch did not cover is still queried on its own.

        The answers are the registry's as of the start of the chunk (a chunk lasts
        milliseconds); they never outlive it, so a revocation is seen by the next chunk.
        """
        chunk = _Chunk(at)
        ids = sorted(set(licence_ids))
        seals = sorted(set(es_ids))
        fps = sorted(set(fingerprints))
        chunk.licences = dict.fromkeys(ids)
        chunk.seals = dict.fromkeys(seals)
        chunk.certificates = dict.fromkeys(fps)
        if ids or seals or fps:
            statement, params = _chunk_statement(ids, seals, fps)
            with self._connect() as conn:
                rows = conn.execute(statement, {**params, "at": at})
                for row in rows:
                    if row.kind == "l":
                        chunk.licences[row.key] = (str(row.text), row.state)
                    elif row.kind == "s":
                        chunk.seals[row.key] = (row.revoked_at,)
                    else:
                        chunk.certificates[row.key] = _CertRow(row.key, str(row.text),
                                                               row.revoked_at)
        self._local.chunk = chunk
        try:
            yield
        finally:
            self._local.chunk = None
            self._last_file = None

    def _connect(self) -> Any:
        """One short read-only connection; prebuilt Core statements (no ORM session, no
        identity map, no blobs loaded): the online checks read a few columns per file."""
        if self._registry is None:
            from trust.registry import Registry  # SQLAlchemy only where online status is used

            self._registry = Registry(self.url)
        return self._registry.engine.connect()

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()
            self._registry = None

    def licence_status(self, licence_id: str, at: datetime,
                       status_index: int | None = None) -> Check:
        chunk: _Chunk | None = getattr(self._local, "chunk", None)
        hit: tuple[str, str | None] | None
        if chunk is not None and chunk.at == at and licence_id in chunk.licences:
            hit = chunk.licences[licence_id]
        else:
            with self._connect() as conn:
                row = conn.execute(_queries().licence, {"id": licence_id, "at": at}).first()
            hit = None if row is None else (str(row.file_sm3), row.state)
        if hit is None:
            return Check("licence_status", _UNSURE, SubIndication.TRY_LATER,
                         f"{licence_id}: unknown to the registry")
        file_sm3, state = hit
        self._last_file = (licence_id, file_sm3)
        if state is None:
            return Check("licence_status", _UNSURE, SubIndication.TRY_LATER,
                         f"{licence_id}: not yet issued at {at.isoformat()}")
        return _licence_check(str(state), licence_id, "registry")

    def seal_status(self, es_id: str, signing_time: datetime, at: datetime) -> Check:
        chunk: _Chunk | None = getattr(self._local, "chunk", None)
        if chunk is not None and es_id in chunk.seals:
            hit = chunk.seals[es_id]
        else:
            with self._connect() as conn:
                row = conn.execute(_queries().seal, {"id": es_id}).first()
            hit = None if row is None else (row.revoked_at,)
        if hit is None:
            return Check("seal", _UNSURE, SubIndication.TRY_LATER,
                         f"seal {es_id}: unknown to the registry")
        revoked_at = hit[0]
        if revoked_at is not None and revoked_at <= signing_time:
            return Check("seal", _FAIL, SubIndication.REVOKED,
                         f"seal {es_id} revoked at {revoked_at.isoformat()}, before signing")
        return Check("seal", _PASS, None, f"seal {es_id} not revoked at signing (registry)")

    def registered_file(self, licence_id: str, file_sm3: str | None) -> Check:
        """Threat: a copy re-signed (by a key that may sign) or re-rendered with other
        content around a genuine licence id: every signature in it can be valid, yet it is
        not the document the department registered at issuance."""
        registered = self._registered_sm3(licence_id)
        if registered is None:
            return Check("registered_file", _UNSURE, SubIndication.TRY_LATER,
                         f"{licence_id}: unknown to the registry")
        if file_sm3 is None:
            return Check("registered_file", _UNSURE, SubIndication.TRY_LATER,
                         f"{licence_id}: the file's SM3 was not computed (stored facts?)")
        if file_sm3 != registered:
            return Check("registered_file", _FAIL, SubIndication.SIG_CONSTRAINTS_FAILURE,
                         f"not the registered file of {licence_id}: SM3 {file_sm3}, "
                         f"registered {registered} (a re-signed or re-rendered copy)")
        return Check("registered_file", _PASS, None,
                     f"the registered file of {licence_id} (SM3 {registered}, registry)")

    def _registered_sm3(self, licence_id: str) -> str | None:
        last = self._last_file
        if last is not None and last[0] == licence_id:
            return last[1]
        chunk: _Chunk | None = getattr(self._local, "chunk", None)
        if chunk is not None and licence_id in chunk.licences:
            hit = chunk.licences[licence_id]
            return None if hit is None else hit[0]
        with self._connect() as conn:
            found = conn.execute(_queries().file_sm3, {"id": licence_id}).scalar()
        return None if found is None else str(found)

    def check(self, path: Sequence[bytes], at: datetime) -> Check:
        """Certificate revocation: every non-anchor certificate must be known and not revoked."""
        wanted = [sha256_hex(der) for der in path[:-1] or path]
        chunk: _Chunk | None = getattr(self._local, "chunk", None)
        if chunk is not None and all(fp in chunk.certificates for fp in wanted):
            rows = chunk.certificates
        else:
            with self._connect() as conn:
                rows = {r.fingerprint: r for r in conn.execute(_queries().certificates,
                                                               {"fps": wanted})}
            if chunk is not None:  # the next file of the chunk has the same path
                chunk.certificates.update(dict.fromkeys(wanted))
                chunk.certificates.update(rows)
        for der, fp in zip(path[:-1] or path, wanted, strict=True):
            record = rows.get(fp)
            if record is None:
                return Check("revocation", _UNSURE, SubIndication.TRY_LATER,
                             "certificate unknown to the registry")
            if record.revoked_at is not None and record.revoked_at <= at:
                sub = SubIndication.REVOKED if der == path[0] else \
                    SubIndication.REVOKED_CA_NO_POE
                return Check("revocation", _FAIL, sub,
                             f"{record.subject} revoked at {record.revoked_at.isoformat()}")
        return Check("revocation", _PASS, None, "not revoked (registry)")


@dataclass(slots=True)
class _Chunk:
    """Rows read for one chunk of files; a key mapped to None is known to be absent."""

    at: datetime
    licences: dict[str, tuple[str, str | None] | None] = field(default_factory=dict)
    seals: dict[str, tuple[datetime | None] | None] = field(default_factory=dict)
    certificates: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _CertRow:
    """The columns of a certificate row the revocation check reads."""

    fingerprint: str
    subject: str
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Queries:
    licence: Any
    chunk: Any
    file_sm3: Any
    seal: Any
    certificates: Any


_SHAPED_MAX: Final = 8  # ids, seals or certificates per list in a statement of fixed shape


def _chunk_statement(ids: list[str], seals: list[str],
                     fps: list[str]) -> tuple[Any, dict[str, Any]]:
    """The chunk statement and its parameters. A single verification's few keys use a
    statement of that exact shape (one bound parameter per key), compiled once and
    cached by SQLAlchemy: the expanding IN lists of the general statement are rendered
    again on every execution, which cost more than the SQLite read itself."""
    if max(len(ids), len(seals), len(fps)) > _SHAPED_MAX:
        return _queries().chunk, {"ids": ids, "seals": seals, "fps": fps}
    params: dict[str, Any] = {}
    for prefix, keys in (("i", ids), ("s", seals), ("f", fps)):
        params.update((f"{prefix}{n}", key) for n, key in enumerate(keys))
    return _shaped_chunk(len(ids), len(seals), len(fps)), params


@lru_cache(maxsize=(_SHAPED_MAX + 1) ** 3)
def _shaped_chunk(n_ids: int, n_seals: int, n_fps: int) -> Any:
    """:func:`_chunk_query` with ``n_*`` bound parameters ``i0``, ``s0``, ``f0``, ..."""
    from sqlalchemy import bindparam

    def keys(prefix: str, n: int) -> Any:
        return [bindparam(f"{prefix}{k}") for k in range(n)]

    return _chunk_query(keys("i", n_ids), keys("s", n_seals), keys("f", n_fps))


def _chunk_query(ids: Any, seals: Any, fps: Any) -> Any:
    """A chunk's licences (with their state at ``at``), seals and certificates in one
    round trip: (kind, key, text, state, revoked_at) rows; the first SELECT gives the
    result columns their types. ``ids``, ``seals``, ``fps``: what each IN list holds."""
    from sqlalchemy import String, bindparam, cast, literal_column, null, select, union_all

    from trust.registry.models import CertificateRecord, Licence, LicenceEvent, SealRecord

    # the licence's status at the validation time, correlated to each licence of a chunk
    states = (select(LicenceEvent.to_status)
              .where(LicenceEvent.licence_id == Licence.id,
                     LicenceEvent.at <= bindparam("at", type_=LicenceEvent.at.type))
              .order_by(LicenceEvent.at.desc(), LicenceEvent.id.desc())
              .limit(1).correlate(Licence).scalar_subquery())

    def no_time() -> Any:
        return cast(null(), SealRecord.revoked_at.type)

    def no_text() -> Any:
        return cast(null(), String())

    return union_all(
        select(literal_column("'l'", String()).label("kind"), Licence.id.label("key"),
               Licence.file_sm3.label("text"), states.label("state"),
               no_time().label("revoked_at"))
        .where(Licence.id.in_(ids)),
        select(literal_column("'s'", String()), SealRecord.es_id, no_text(), no_text(),
               SealRecord.revoked_at)
        .where(SealRecord.es_id.in_(seals)),
        select(literal_column("'c'", String()), CertificateRecord.fingerprint,
               CertificateRecord.subject, no_text(), CertificateRecord.revoked_at)
        .where(CertificateRecord.fingerprint.in_(fps)),
    )


@lru_cache(maxsize=1)
def _queries() -> _Queries:
    """The online statements, built once (SQLAlchemy then caches their compiled form)."""
    from sqlalchemy import bindparam, select

    from trust.registry.models import CertificateRecord, Licence, LicenceEvent, SealRecord

    # the licence's status at the validation time: its latest event at or before it
    state = (select(LicenceEvent.to_status)
             .where(LicenceEvent.licence_id == bindparam("id"),
                    LicenceEvent.at <= bindparam("at", type_=LicenceEvent.at.type))
             .order_by(LicenceEvent.at.desc(), LicenceEvent.id.desc())
             .limit(1).scalar_subquery())
    chunk = _chunk_query(bindparam("ids", expanding=True), bindparam("seals", expanding=True),
                         bindparam("fps", expanding=True))
    return _Queries(
        licence=select(Licence.file_sm3, state.label("state"))
        .where(Licence.id == bindparam("id")),
        chunk=chunk,
        file_sm3=select(Licence.file_sm3).where(Licence.id == bindparam("id")),
        seal=select(SealRecord.revoked_at).where(SealRecord.es_id == bindparam("id")),
        certificates=select(CertificateRecord.fingerprint, CertificateRecord.subject,
                            CertificateRecord.revoked_at)
        .where(CertificateRecord.fingerprint.in_(bindparam("fps", expanding=True))),
    )


class ListStatus:
    """Offline status from signed lists (``sealtrust trust export``) and CRLs.

    ``trust_list`` and ``status_lists`` (by issuer USCC) must already be
    verified (``verification.qr.OfflineLists`` does that); ``index`` maps
    licence ids to status-list indices for licences without a signed index.
    ``crls`` are the CAs' CRLs from the bundle or a configured directory,
    matched to CAs by name and key id and checked when used. ``max_age``
    caps a list's age on top of its own next-update time.
    """

    def __init__(
        self,
        trust_list: TrustList,
        status_lists: Mapping[str, StatusList],
        index: Mapping[str, int],
        *,
        max_age: timedelta = timedelta(days=2),
        crls: CrlStore | None = None,
    ) -> None:
        self.trust_list = trust_list
        self.lists = dict(status_lists)
        self.index = dict(index)
        self.max_age = max_age
        self.crls = crls if crls is not None else CrlStore()
        self._issuers: dict[bytes, frozenset[str]] = {}  # anchor DER -> issuers (lists are fixed)
        # (path, validation time) -> the revocation Check: the lists and CRLs are fixed
        # at construction, so a bulk run's licences of one signer share one answer
        self._checked: dict[tuple[tuple[bytes, ...], datetime], Check] = {}

    consults_registry = False

    def registered_file(self, licence_id: str, file_sm3: str | None) -> Check:
        return _not_consulted("offline lists")

    def _fresh(self, name: str, what: str, issued: datetime, next_update: datetime,
               at: datetime) -> Check | None:
        age = at - issued
        if age < -SKEW:
            return Check(name, _UNSURE, SubIndication.TRY_LATER,
                         f"{what} is dated {-age} after the validation time")
        if age > self.max_age or at > next_update + SKEW:
            return Check(name, _UNSURE, SubIndication.TRY_LATER,
                         f"{what} is stale ({age} old, next update {next_update.isoformat()})")
        return None

    def _fresh_lists(self, at: datetime) -> list[StatusList]:
        return [sl for sl in self.lists.values()
                if self._fresh("", "", sl.issued_at, sl.next_update, at) is None]

    def licence_status(self, licence_id: str, at: datetime,
                       status_index: int | None = None) -> Check:
        parsed = parsed_licence_id(licence_id)
        if isinstance(parsed, LicenceIdError):
            return Check("licence_status", _UNSURE, SubIndication.TRY_LATER,
                         f"{licence_id}: {parsed.message}")
        issuer = parsed.authority
        status_list = self.lists.get(issuer)
        index = status_index if status_index is not None else self.index.get(licence_id)
        if status_list is None:
            return Check("licence_status", _UNSURE, SubIndication.TRY_LATER,
                         f"{licence_id}: no status list of issuer {issuer}")
        if index is None:
            return Check("licence_status", _UNSURE, SubIndication.TRY_LATER,
                         f"{licence_id}: status index unknown (no licence index)")
        stale = self._fresh("licence_status", "the status list", status_list.issued_at,
                            status_list.next_update, at) or self._fresh(
            "licence_status", "the trust list", self.trust_list.issued_at,
            self.trust_list.next_update, at)
        if stale is not None:
            return stale
        state = status_list.status(index)
        # Each list value by its own name: revoked, cancelled, superseded, suspended, expired,
        # unknown.
        return _licence_check(state.name.lower(), licence_id,
                              f"status list of {status_list.issued_at.isoformat()}")

    def seal_status(self, es_id: str, signing_time: datetime, at: datetime) -> Check:
        """The seal's entry in a fresh status list (key 8): revoked at or before the signing
        time fails, listed and not revoked then passes, not listed is INDETERMINATE.

        Threat: offline, a revoked seal (stolen, withdrawn) passing because the
        lists said nothing about seals.
        """
        stale = self._fresh("seal", "the trust list", self.trust_list.issued_at,
                            self.trust_list.next_update, at)
        if stale is not None:
            return stale
        fresh = self._fresh_lists(at)
        for status_list in fresh:
            if status_list.seals is None or es_id not in status_list.seals:
                continue
            revoked_at = status_list.seals[es_id]
            if revoked_at is not None and revoked_at <= signing_time:
                return Check("seal", _FAIL, SubIndication.REVOKED,
                             f"seal {es_id} revoked at {revoked_at.isoformat()}, before signing "
                             f"(status list of {status_list.issuer})")
            return Check("seal", _PASS, None,
                         f"seal {es_id} not revoked at signing (status list of "
                         f"{status_list.issuer}, {status_list.issued_at.isoformat()})")
        held = [sl for sl in self.lists.values() if sl.seals and es_id in sl.seals]
        why = ("only in a stale or future-dated status list" if held
               else "not in any fresh status list")
        return Check("seal", _UNSURE, SubIndication.TRY_LATER,
                     f"seal {es_id}: status unknown offline ({why})")

    def revocation_data(self, path: Sequence[bytes], at: datetime) -> RevocationData | Check:
        """The CRLs, and the certificate entries of the fresh status lists of the issuers
        the trust list names for the path's anchor (an issuer vouches only for its own);
        a Check instead when the trust list itself is stale or future-dated (the anchor's
        recognition rests on it)."""
        stale = self._fresh("revocation", "the trust list", self.trust_list.issued_at,
                            self.trust_list.next_update, at)
        if stale is not None:
            return stale
        issuers = self._issuers_of(path[-1]) if path else frozenset()
        entries: dict[bytes, datetime | None] = {}
        for status_list in self._fresh_lists(at):
            if status_list.issuer in issuers and status_list.certificates:
                entries.update(status_list.certificates)
        return RevocationData(self.crls, (), entries, "offline bundle")

    def _issuers_of(self, anchor: bytes) -> frozenset[str]:
        hit = self._issuers.get(anchor)
        if hit is None:
            hit = self._issuers[anchor] = frozenset(
                e.issuer for e in self.trust_list.entries
                if e.role is Role.ISSUER_CA and e.certificate == anchor)
        return hit

    def check(self, path: Sequence[bytes], at: datetime) -> Check:
        """Offline certificate status: every certificate of the path below the anchor is
        covered by a fresh CRL of its issuer or a status entry, and none is revoked.

        Threat: the old rule passed a path as soon as *one* certificate (the CA)
        was listed, so a revoked department certificate verified offline.

        Remembered per (path, time): the answer depends on nothing else, since the
        lists and CRLs never change after construction (a reload makes a new object).
        """
        key = (tuple(path), at)
        hit = self._checked.get(key)
        if hit is None:
            if len(self._checked) >= _MAX_CHECKED:
                self._checked.clear()  # bounded: a run's paths and times are few
            hit = self._checked[key] = self._check(path, at)
        return hit

    def _check(self, path: Sequence[bytes], at: datetime) -> Check:
        if not path or not self._issuers_of(path[-1]):
            return Check("revocation", _UNSURE, SubIndication.TRY_LATER,
                         "the path does not end at an issuer CA of the trust list")
        data = self.revocation_data(path, at)
        return data if isinstance(data, Check) else path_revocation(path, at, data)
