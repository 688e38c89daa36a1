"""One asyncio event loop per thread, kept: pyHanko's time-stampers are coroutines and
``asyncio.run`` per call costs ~1 ms of set-up. Shared by the PDF and OFD sealers."""

from __future__ import annotations

import asyncio
import threading

__all__ = ["thread_loop"]

_loops = threading.local()


def thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's loop, created on first use."""
    loop: asyncio.AbstractEventLoop | None = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loops.loop = loop
    return loop
