"""Readiness of the key stores: every registered key signs and verifies a probe.

A node that cannot reach one of its signing devices (no PIN on this node, a
token pulled out, a library missing) must not take traffic that needs it, so
``/health/ready`` reports each key store (by scheme) as up or down. The probe
is a real sign + verify through the adapter, which costs a private-key
operation per key, and the endpoint is public: results are cached for
``TTL_S`` seconds per process, and only one request at a time refreshes
them. The answer names schemes and counts, never key URIs (those are for
authenticated callers, ``GET /v1/keys/health``). ``data_kek`` reports the
key-encryption key that seals personal data (wrong or unopenable: down),
``request_key`` the request-digest key (missing or not the registered one: down).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Final

from sqlalchemy import select

from api.deployment import Deployment
from trust.errors import SealTrustError
from trust.registry.models import KeyRecord
from trust.registry.request_macs import check_request_key
from trust.registry.sealed import check_kek

__all__ = ["TTL_S", "KeyStoreReadiness"]

TTL_S: Final = 30.0


class KeyStoreReadiness:
    """Cached per-scheme key-store checks for one deployment."""

    def __init__(self, deployment: Deployment, ttl_s: float = TTL_S) -> None:
        self._deployment = deployment
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._checks: dict[str, str] = {}

    def checks(self) -> dict[str, str]:
        """``{"keystore:<scheme>": "ok" | "down: ..."}``, at most ``ttl_s`` old."""
        if time.monotonic() - self._checked_at < self._ttl_s:
            return dict(self._checks)
        with self._lock:
            if time.monotonic() - self._checked_at >= self._ttl_s:
                self._checks = self._probe()
                self._checked_at = time.monotonic()
            return dict(self._checks)

    def _probe(self) -> dict[str, str]:
        with self._deployment.registry.session() as session:
            uris = session.execute(select(KeyRecord.uri).order_by(KeyRecord.uri)).scalars().all()
        total: defaultdict[str, int] = defaultdict(int)
        failures: defaultdict[str, list[str]] = defaultdict(list)
        offline = self._deployment.offline_key_uris() if self._deployment.online else set()
        for uri in uris:
            if uri in offline:  # the roots stay offline: the service never opens them
                continue
            scheme = uri.split(":", 1)[0]
            total[scheme] += 1
            try:
                health = self._deployment.key(uri).health()
                if not health.up:
                    failures[scheme].append(health.code)
            except SealTrustError as exc:  # key-store errors included
                failures[scheme].append(exc.code)
        out = {}
        keys = self._deployment.registry.data_keys
        if keys is not None:
            # The KEK that seals personal data: opened and proven to be the registered one
            # (a wrong key file or a missing PIN fails here, not on the first read).
            try:
                with self._deployment.registry.session() as session:
                    check_kek(session, keys)
                out["data_kek"] = "ok"
            except SealTrustError as exc:
                out["data_kek"] = f"down: {exc.code}"
        try:  # the request-digest key: present and the registered one
            check_request_key(self._deployment.registry, self._deployment.request_key())
            out["request_key"] = "ok"
        except SealTrustError as exc:
            out["request_key"] = f"down: {exc.code}"
        for scheme, count in sorted(total.items()):
            bad = failures.get(scheme, [])
            out[f"keystore:{scheme}"] = (
                "ok" if not bad
                else f"down: {len(bad)} of {count} keys ({', '.join(sorted(set(bad)))})"
            )
        return out
