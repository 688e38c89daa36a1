"""Notifiers: how a holder hears that something happened to a licence.

Notifications arrive through the outbox (topic ``notify``, written by
trust.registry.notifications in the transaction of the change); the worker
(api.worker) hands each one to the deployment's :class:`Notifier`. A
notifier that raises leaves the item in the outbox, retried with backoff and
dead-lettered after the last attempt: a webhook that is down delays a
notice, never loses it. Payloads are references only (holder ref, licence
id, case code): the receiving system (the holder app) maps the reference to
a person; neither the log nor the webhook ever sees a name or an ID number.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

import httpx
from cryptography.hazmat.primitives import hashes, hmac

from trust.errors import InputError, SealTrustError

__all__ = ["LogNotifier", "Notification", "Notifier", "NotifyError", "WebhookNotifier",
           "notification_from_payload", "sign_webhook"]

_log = logging.getLogger("sealtrust.notify")
SIGNATURE_HEADER: Final = "X-SealTrust-Signature"
TIMESTAMP_HEADER: Final = "X-SealTrust-Timestamp"
ID_HEADER: Final = "X-SealTrust-Notification"


class NotifyError(SealTrustError):
    """A notification could not be delivered (the outbox retries it)."""

    code = "notify.delivery"


@dataclass(frozen=True, slots=True)
class Notification:
    """One notice to one holder, by reference; ``id`` is stable across retries."""

    id: str
    kind: str
    holder_ref: str
    licence_id: str
    case_code: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "holder_ref": self.holder_ref,
                "licence_id": self.licence_id, "case_code": self.case_code,
                "at": self.at.isoformat()}


def notification_from_payload(dedupe_key: str, payload: Mapping[str, Any]) -> Notification:
    """The notification an outbox item of topic ``notify`` describes."""
    try:
        at = datetime.fromisoformat(str(payload["at"]))
        return Notification(id=dedupe_key, kind=str(payload["kind"]),
                            holder_ref=str(payload["holder_ref"]),
                            licence_id=str(payload["licence_id"]),
                            case_code=None if payload.get("case_code") is None
                            else str(payload["case_code"]), at=at)
    except (KeyError, ValueError, TypeError):
        raise InputError("malformed notification payload", code="notify.payload") from None


class Notifier(Protocol):
    """Delivers one notification or raises (then the outbox retries it)."""

    def send(self, n: Notification) -> None: ...


class LogNotifier:
    """The default: one log line per notification (references only)."""

    def __init__(self, logger: logging.Logger = _log) -> None:
        self._logger = logger

    def send(self, n: Notification) -> None:
        self._logger.info("notify %s", json.dumps(n.to_json(), sort_keys=True))


def sign_webhook(secret: bytes, timestamp: str, body: bytes) -> str:
    """``hmac-sm3=<hex>`` over ``timestamp || "." || body`` (the receiver recomputes it)."""
    mac = hmac.HMAC(secret, hashes.SM3())
    mac.update(timestamp.encode("ascii") + b"." + body)
    return "hmac-sm3=" + mac.finalize().hex()


class WebhookNotifier:
    """POSTs each notification as JSON to ``url``, signed with HMAC-SM3 under ``secret``.

    Threat: a forged or replayed notice pushed to the holder app. The body
    is signed together with a timestamp (header ``X-SealTrust-Timestamp``),
    and ``X-SealTrust-Notification`` carries the stable id the receiver
    deduplicates on (a retry after a lost answer repeats it).
    """

    def __init__(self, url: str, secret: bytes, *, timeout: float = 5.0,
                 client: httpx.Client | None = None) -> None:
        if not url.startswith(("https://", "http://")):
            raise InputError("the webhook URL must be http(s)", code="notify.webhook_url")
        if len(secret) < 16:
            raise InputError("the webhook secret has at least 16 bytes",
                             code="notify.webhook_secret")
        self._url = url
        self._secret = secret
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, n: Notification) -> None:
        body = json.dumps(n.to_json(), sort_keys=True, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: sign_webhook(self._secret, timestamp, body),
                   ID_HEADER: n.id}
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NotifyError(f"webhook unreachable ({type(exc).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise NotifyError(f"webhook answered HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"WebhookNotifier({self._url!r}, <secret>)"
