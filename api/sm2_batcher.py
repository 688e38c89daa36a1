"""SM2 verifications of concurrent requests gathered into one ``verify_many`` call.

Why in the service: crypto_mb (``sealtrust[fast-batch]``, AVX-512 IFMA) verifies
8 signatures per call for about the price of one, but a QR check has one
signature. Requests that an event loop runs in the same turn (a burst of
connections, pipelined keep-alive requests) each add their item and await a
future; one flush, scheduled with ``call_soon``, verifies them all after the
turn. So an idle service adds no wait at all (the flush runs right after the
lone request's handler yields), and a busy one batches exactly what arrived
together; ``max_wait_s`` may hold a partial batch a little longer (bounded,
default 0: no added latency).

Verdicts are :func:`trust.sm2.verify_many`'s, which are those of
:meth:`trust.sm2.PublicKey.verify` item by item. Off unless the batch backend
is crypto_mb (looping over singles gains nothing and costs a future per check)
or ``SEALTRUST_QR_BATCH=on`` forces it (tests; ``off`` disables it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Final

from trust import sm2

__all__ = ["MAX_BATCH", "SignatureBatcher", "batching_wanted"]

MAX_BATCH: Final = 64
MAX_WAIT_S: Final = 0.002

Item = sm2.VerifyItem


def batching_wanted() -> bool:
    """True when gathering pays: the batch backend is crypto_mb, or the environment says so."""
    forced = os.environ.get("SEALTRUST_QR_BATCH", "").strip().lower()
    if forced in {"on", "1", "true"}:
        return True
    if forced in {"off", "0", "false"}:
        return False
    return sm2.batch_backend_name() is not None


class SignatureBatcher:
    """Gathers the items of one event loop's concurrent requests; one per loop."""

    def __init__(self, *, max_batch: int = MAX_BATCH, max_wait_s: float = 0.0,
                 verify_many: Callable[[Sequence[Item]], list[bool]] = sm2.verify_many,
                 ) -> None:
        if not 1 <= max_batch <= 1024 or not 0 <= max_wait_s <= MAX_WAIT_S:
            raise ValueError(f"max_batch 1..1024 and max_wait_s 0..{MAX_WAIT_S}")
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._verify_many = verify_many
        self._items: list[Item] = []
        self._futures: list[asyncio.Future[bool]] = []
        self._scheduled: asyncio.Handle | asyncio.TimerHandle | None = None
        self.batches = 0  # flushes so far (metrics, tests)
        self.largest = 0

    async def verify(self, items: Sequence[Item]) -> list[bool]:
        """Verdicts for ``items`` (one request's), verified with whatever else is pending."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        futures = []
        for item in items:
            future: asyncio.Future[bool] = loop.create_future()
            self._items.append(item)
            self._futures.append(future)
            futures.append(future)
        if len(self._items) >= self._max_batch:
            self._flush()
        elif self._scheduled is None:
            self._scheduled = (loop.call_later(self._max_wait_s, self._flush) if self._max_wait_s
                               else loop.call_soon(self._flush))
        return list(await asyncio.gather(*futures))

    def _flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        items, futures = self._items, self._futures
        self._items, self._futures = [], []
        if not items:
            return
        self.batches += 1
        self.largest = max(self.largest, len(items))
        try:
            verdicts = self._verify_many(items)
        except Exception as exc:  # noqa: BLE001 - each waiting request gets the error
            # Fail closed: an error is never a verdict; every request of the batch sees it.
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        if len(verdicts) != len(items):  # a backend bug must not shift verdicts between requests
            error = RuntimeError(f"verify_many answered {len(verdicts)} for {len(items)} items")
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        for future, verdict in zip(futures, verdicts, strict=True):
            if not future.done():  # a request cancelled meanwhile (client gone)
                future.set_result(bool(verdict))
