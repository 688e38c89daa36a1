"""Key the request digests of licences issued before migration 0012 (resumable).

Each batch commits on its own and reads only rows whose ``request_sha256`` is
still set, walking the primary key: an interrupted run continues where it
stopped and a finished one is a no-op. A row gets ``request_mac`` (HMAC-SM3
of its stored digest, :class:`trust.request_mac.RequestKey`), loses the
plain digest, and a derived idempotency key of the old form
(``batch:<sha256>``, ``job:<id>:<sha256>``) is rewritten to the keyed form.
No record is decrypted: the MAC's input is the stored digest. Every update
repeats its condition, so two runs at once never key a row twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, cast

from sqlalchemy import Table, func, select, update

from trust.errors import CryptoError
from trust.registry.db import Registry, begin_write
from trust.registry.models import Licence, Meta
from trust.request_mac import LEGACY_KEY, RequestKey, keyed_idempotency_key

__all__ = ["CHECK_KEY", "UPGRADE_BATCH", "RequestKeyMismatchError", "check_request_key",
           "count_unkeyed", "register_request_key", "upgrade_request_macs"]

UPGRADE_BATCH: Final = 500
CHECK_KEY: Final = "request-key-check"
_PROBE: Final = "00" * 32
_LICENCES = cast(Table, Licence.__table__)


class RequestKeyMismatchError(CryptoError):
    """The request-digest key is not the one this registry's digests were made with."""

    code = "request.key_mismatch"


def register_request_key(registry: Registry, key: RequestKey) -> bool:
    """Store the key's check value (its MAC of a fixed probe) unless one is stored."""
    with registry.session() as session:
        if session.get(Meta, CHECK_KEY) is not None:
            return False
        session.add(Meta(key=CHECK_KEY, value=key.mac(_PROBE)))
        return True


def check_request_key(registry: Registry, key: RequestKey) -> None:
    """Raise :class:`RequestKeyMismatchError` unless ``key`` is the registered one.

    Threat: a node started with another deployment's (or a regenerated) key
    file would refuse every retry as a different request, and store digests
    no other node can match; readiness fails instead.
    """
    import hmac

    with registry.session() as session:
        row = session.get(Meta, CHECK_KEY)
    if row is None or not hmac.compare_digest(row.value, key.mac(_PROBE)):
        raise RequestKeyMismatchError(
            "the request-digest key (keys/request-digest.key) is not the one registered for "
            "this registry (or, after an upgrade, `sealtrust init` has not run) "
            "/ 请求摘要密钥不是本登记库所登记的密钥")


def count_unkeyed(registry: Registry) -> int:
    """Licences that still store a plain request digest."""
    with registry.session() as session:
        return int(session.execute(select(func.count()).select_from(_LICENCES).where(
            _LICENCES.c.request_sha256.is_not(None))).scalar_one())


def upgrade_request_macs(registry: Registry, key: RequestKey, *, batch: int = UPGRADE_BATCH,
                         on_batch: Callable[[int], object] | None = None) -> int:
    """Replace every stored plain request digest by its keyed form; returns rows changed."""
    done, after = 0, ""
    while True:
        with registry.session() as session:
            begin_write(session)
            rows = session.execute(
                select(_LICENCES.c.id, _LICENCES.c.request_sha256, _LICENCES.c.idempotency_key)
                .where(_LICENCES.c.request_sha256.is_not(None), _LICENCES.c.id > after)
                .order_by(_LICENCES.c.id).limit(max(1, batch))).all()
            if not rows:
                return done
            connection = session.connection()
            for row in rows:
                values: dict[str, str | None] = {
                    "request_mac": key.mac(row.request_sha256), "request_sha256": None}
                legacy = LEGACY_KEY.match(row.idempotency_key or "")
                if legacy is not None:
                    values["idempotency_key"] = keyed_idempotency_key(
                        key, legacy.group(1), legacy.group(2))
                changed = connection.execute(update(_LICENCES).where(
                    _LICENCES.c.id == row.id,
                    _LICENCES.c.request_sha256 == row.request_sha256).values(**values))
                done += getattr(changed, "rowcount", 0) == 1
            after = rows[-1].id
        if on_batch is not None:
            on_batch(done)
