"""The one path between licence rows and personal data: seal on store, open on read.

Every caller that needs a licence's holder record or its file goes through
:func:`licence_record` / :func:`licence_file` (and issuance through
:func:`seal_for_storage`); routes, CLI, batch and verification never see a
data key or a ciphertext. What is not personal (id, type, department, dates,
status, ``file_sm3``) stays in clear columns and is queried as before.

A row is either plaintext (``data_key`` NULL: written before encryption was
enabled, still readable during ``sealtrust registry encrypt``) or sealed
(``record`` and ``licence_files.pdf`` in the :mod:`trust.envelope` format,
``data_key`` wrapped by the KEK named in ``data_kek``). The KEKs come from
the :class:`DataKeys` attached to the :class:`~trust.registry.db.Registry`,
which hands them to each session through ``Session.info``.

Lookups by holder without plaintext (supersede checks, grants, the holder
app) use the keyed holder reference (``licences.holder_ref``, HMAC-SM3,
:mod:`trust.holder_ref`), set at issuance and by
:func:`trust.registry.holders.backfill_holder_refs`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from trust import envelope
from trust.envelope import DataKeyWrapper, SealedDataError
from trust.errors import CryptoError, NotFoundError, SealTrustError
from trust.registry.models import Licence, LicenceFile, Meta

__all__ = [
    "FILE_COLUMN",
    "RECORD_COLUMN",
    "DataKeyUnavailableError",
    "DataKeys",
    "HolderRecord",
    "SealedRow",
    "check_kek",
    "data_keys_of",
    "files_read_together",
    "kek_check_key",
    "kek_registered",
    "licence_file",
    "licence_record",
    "register_kek",
    "seal_for_storage",
    "seal_row_values",
]

RECORD_COLUMN: Final = "licences.record"
FILE_COLUMN: Final = "licence_files.pdf"
SESSION_KEY: Final = "sealtrust.data_keys"
_KEK_CHECK_ID: Final = "kek-check"
DATA_KEY_CACHE: Final = 4096  # unwrapped data keys kept per process (16 bytes each)

_LICENCES = cast(Table, Licence.__table__)
_FILES = cast(Table, LicenceFile.__table__)
_FILE_WITH_KEY = select(_FILES.c.pdf, _LICENCES.c.data_key, _LICENCES.c.data_kek).join(
    _LICENCES, _LICENCES.c.id == _FILES.c.licence_id).where(
    _FILES.c.licence_id == bindparam("id"))
_FILES_WITH_KEYS = select(_FILES.c.licence_id, _FILES.c.pdf, _LICENCES.c.data_key,
                          _LICENCES.c.data_kek).join(
    _LICENCES, _LICENCES.c.id == _FILES.c.licence_id).where(
    _FILES.c.licence_id.in_(bindparam("ids", expanding=True)))
_READ_TOGETHER: Final = "sealtrust.file_rows"  # Session.info: rows of files_read_together


class DataKeyUnavailableError(CryptoError):
    """Sealed data cannot be read or written: no KEK configured, or it cannot be opened (503)."""

    code = "data.key_unavailable"


class DataKeys:
    """The deployment's key-encryption keys as the registry uses them (thread-safe).

    ``current`` wraps the data keys of new and migrated licences; any other
    KEK a row names (during a rotation) is opened by URI with ``opener``.
    Unwrapped data keys are kept in a bounded LRU cache keyed by exactly what
    was unwrapped (licence id, KEK URI, wrapped bytes): reading a licence's
    record, then its file, then presenting it unwraps once. The same inputs
    always unwrap to the same key, so a hit can never be another row's key,
    and a key the process could unwrap again at any time (the KEK is open in
    it) is no new exposure.
    """

    def __init__(self, current: str, opener: Callable[[str], DataKeyWrapper],
                 cache_size: int = DATA_KEY_CACHE) -> None:
        self.current = current
        self._opener = opener
        self._open: dict[str, DataKeyWrapper] = {}
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str, bytes], bytes] = OrderedDict()
        self._cache_size = max(0, cache_size)

    def kek(self, uri: str) -> DataKeyWrapper:
        """The KEK at ``uri``, opened once; store errors become :class:`DataKeyUnavailableError`."""
        kek = self._open.get(uri)
        if kek is None:
            with self._lock:
                kek = self._open.get(uri)
                if kek is None:
                    try:
                        kek = self._opener(uri)
                    except SealTrustError as exc:
                        raise DataKeyUnavailableError(
                            f"the key-encryption key {uri} cannot be opened: [{exc.code}] "
                            f"{exc.message} / 数据密钥加密密钥无法打开") from exc
                    self._open[uri] = kek
        return kek

    def new_data_key(self, licence_id: str) -> tuple[bytes, bytes, str]:
        """A fresh data key for ``licence_id``: (key, wrapped under the current KEK, KEK URI)."""
        kek = self.kek(self.current)
        key = envelope.new_data_key()
        return key, envelope.wrap_data_key(kek, key, licence_id), kek.uri

    def data_key(self, licence_id: str, wrapped: bytes, kek_uri: str | None) -> bytes:
        """Unwrap a row's data key with the KEK the row names."""
        if not kek_uri:
            raise SealedDataError(f"licence {licence_id} has a data key but names no KEK")
        wrapped = bytes(wrapped)
        cache_key = (licence_id, kek_uri, wrapped)
        with self._lock:
            key = self._cache.get(cache_key)
            if key is not None:
                self._cache.move_to_end(cache_key)
                return key
        key = envelope.unwrap_data_key(self.kek(kek_uri), wrapped, licence_id)
        if self._cache_size:
            with self._lock:
                self._cache[cache_key] = key
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return key

    def close(self) -> None:
        with self._lock:
            opened, self._open = list(self._open.values()), {}
            self._cache.clear()
        for kek in opened:
            close = getattr(kek, "close", None)
            if callable(close):
                close()


def data_keys_of(session: Session) -> DataKeys | None:
    """The KEKs the session's registry carries (None: this deployment stores plaintext)."""
    holder = session.info.get(SESSION_KEY)
    keys = getattr(holder, "data_keys", None)
    return keys if isinstance(keys, DataKeys) else None


def _require_keys(session: Session, licence_id: str) -> DataKeys:
    keys = data_keys_of(session)
    if keys is None:
        raise DataKeyUnavailableError(
            f"licence {licence_id} is encrypted but this process has no key-encryption key "
            "configured (deployment.json data_kek) / 证照数据已加密，但未配置数据密钥加密密钥")
    return keys


@dataclass(frozen=True)
class HolderRecord:
    """A licence's personal data: the holder's name and the record it was issued from."""

    holder_name: str
    holder: dict[str, Any]


def _record_bytes(holder_name: str, holder: Mapping[str, Any]) -> bytes:
    return json.dumps({"holder_name": holder_name, "holder": dict(holder)}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def licence_record(session: Session, licence: Licence) -> HolderRecord:
    """The holder record of ``licence``, decrypted when sealed (the only read path)."""
    if licence.data_key is None:
        if licence.holder_name is None or licence.holder is None:
            raise SealedDataError(f"licence {licence.id} has neither a record nor a data key",
                                  code="data.missing")
        return HolderRecord(licence.holder_name, dict(licence.holder))
    licence_id, sealed = licence.id, licence.record
    if sealed is None:
        raise SealedDataError(f"licence {licence_id} has a data key but no sealed record",
                              code="data.missing")
    keys = _require_keys(session, licence_id)
    data_key = keys.data_key(licence_id, licence.data_key, licence.data_kek)
    plain = envelope.open_value(data_key, sealed, column=RECORD_COLUMN, licence_id=licence_id)
    try:
        value = json.loads(plain.decode("utf-8"))  # str: no encoding detection per read
        return HolderRecord(str(value["holder_name"]), dict(value["holder"]))
    except (ValueError, KeyError, TypeError):
        raise SealedDataError(f"the record of licence {licence_id} is not a holder record",
                              code="data.missing") from None


def licence_file(session: Session, licence_id: str) -> bytes:
    """The sealed PDF of ``licence_id`` as issued (decrypted when stored encrypted)."""
    read: dict[str, Any] | None = session.info.get(_READ_TOGETHER)
    row = None if read is None else read.pop(licence_id, None)
    if row is None:
        row = session.connection().execute(_FILE_WITH_KEY, {"id": licence_id}).first()
    if row is None:
        raise NotFoundError(f"licence {licence_id} has no stored file")
    stored = bytes(row.pdf)
    if not envelope.is_sealed(stored):
        if row.data_key is not None:
            # Threat: a plaintext file put back under an encrypted licence (a restore mix-up,
            # a rollback of the migration for one table) would be served as if it were ours.
            raise SealedDataError(f"the file of licence {licence_id} is not encrypted although "
                                  "its record is", code="data.missing")
        return stored
    if row.data_key is None:
        raise SealedDataError(f"the file of licence {licence_id} is sealed but the licence "
                              "has no data key", code="data.missing")
    keys = _require_keys(session, licence_id)
    data_key = keys.data_key(licence_id, bytes(row.data_key), row.data_kek)
    return envelope.open_value(data_key, stored, column=FILE_COLUMN, licence_id=licence_id)


@contextmanager
def files_read_together(session: Session, licence_ids: Iterable[str]) -> Iterator[int]:
    """Read the stored files (and wrapped data keys) of these licences in one statement;
    inside the block :func:`licence_file` takes each from that read, once, and still
    checks and decrypts it as usual. Yields how many rows were read.

    The counter's fill reads the few files of one grant this way instead of one
    statement each. A row is used at most once and never outlives the block, so
    nothing read here is served later from memory.
    """
    ids = sorted(set(licence_ids))
    rows = {} if not ids else {
        str(r.licence_id): r for r in session.connection().execute(_FILES_WITH_KEYS,
                                                                    {"ids": ids})}
    outer = session.info.get(_READ_TOGETHER)
    session.info[_READ_TOGETHER] = rows
    try:
        yield len(rows)
    finally:
        if outer is None:
            session.info.pop(_READ_TOGETHER, None)
        else:
            session.info[_READ_TOGETHER] = outer


@dataclass(frozen=True)
class SealedRow:
    """Column values to store for one licence: the licence row's personal part and the file."""

    licence: dict[str, Any]
    pdf: bytes


def seal_row_values(keys: DataKeys | None, licence_id: str, holder_name: str,
                    holder: Mapping[str, Any], pdf: bytes) -> SealedRow:
    """What to write for a licence's personal data: sealed with ``keys``, or plaintext without."""
    if keys is None:
        return SealedRow({"holder_name": holder_name, "holder": dict(holder), "record": None,
                          "data_key": None, "data_kek": None}, pdf)
    data_key, wrapped, kek_uri = keys.new_data_key(licence_id)
    record = envelope.seal_value(data_key, _record_bytes(holder_name, holder),
                                 column=RECORD_COLUMN, licence_id=licence_id)
    sealed_pdf = envelope.seal_value(data_key, pdf, column=FILE_COLUMN, licence_id=licence_id)
    return SealedRow({"holder_name": None, "holder": None, "record": record,
                      "data_key": wrapped, "data_kek": kek_uri}, sealed_pdf)


def seal_for_storage(session: Session, licence_id: str, holder_name: str,
                     holder: Mapping[str, Any], pdf: bytes) -> SealedRow:
    """:func:`seal_row_values` with the session's KEKs (issuance calls this)."""
    return seal_row_values(data_keys_of(session), licence_id, holder_name, holder, pdf)


# --- KEK registration: proves at start-up that the configured KEK is the right one ---------

def kek_check_key(uri: str) -> str:
    return "kek-check:" + hashlib.sha256(uri.encode("utf-8")).hexdigest()[:40]


def kek_registered(session: Session, uri: str) -> bool:
    """Whether the registry holds a check value for the KEK at ``uri``."""
    return session.get(Meta, kek_check_key(uri)) is not None


def register_kek(session: Session, kek: DataKeyWrapper) -> None:
    """Store a check value wrapped by ``kek`` so a later start-up can tell a wrong KEK."""
    probe = envelope.new_data_key()
    wrapped = envelope.wrap_data_key(kek, probe, _KEK_CHECK_ID)
    row = session.get(Meta, kek_check_key(kek.uri))
    value = base64.b64encode(wrapped).decode("ascii")
    if row is None:
        session.add(Meta(key=kek_check_key(kek.uri), value=value))
    else:
        row.value = value


def check_kek(session: Session, keys: DataKeys) -> None:
    """Raise :class:`DataKeyUnavailableError` unless the current KEK opens and is registered.

    Threat: a node started with another deployment's key file, a restored old
    key, or a missing PIN would otherwise fail only on the first read, or
    (without authentication) hand out garbage; readiness fails instead.
    """
    kek = keys.kek(keys.current)
    row = session.get(Meta, kek_check_key(keys.current))
    if row is None:
        raise DataKeyUnavailableError(
            f"the key-encryption key {keys.current} is not registered in this registry "
            "(created elsewhere?) / 数据密钥加密密钥未在本登记库登记")
    try:
        envelope.unwrap_data_key(kek, base64.b64decode(row.value), _KEK_CHECK_ID)
    except SealTrustError as exc:
        raise DataKeyUnavailableError(
            f"the key-encryption key at {keys.current} is not the one registered for this "
            f"registry ([{exc.code}]) / 数据密钥加密密钥不是本登记库所登记的密钥") from exc
