"""Worker processes with a listening socket each, in one SO_REUSEPORT group (Linux).

Why not uvicorn's ``--workers``: it shares one listening socket, and the worker
whose event loop wakes first accepts every pending connection. A client or a
proxy that opens a few keep-alive connections at once then lands them all on
one process while the other cores idle (measured: 4 of 4 wrk connections on one
of 2 workers, which halves the QR verification rate). With a socket per worker
and SO_REUSEPORT the kernel spreads connections over the workers by hash.

The supervisor is deliberately small: it starts the workers, forwards SIGINT and
SIGTERM, and restarts a worker that dies on its own (an OOM kill, a crash in a
native library) while the others keep serving. A worker that keeps dying (more
than ``max_restarts`` restarts within ``window_s``) is a crash loop, not bad
luck: then it stops the others and exits non-zero so that the process manager
(systemd, Kubernetes) sees the failure instead of a service half alive.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import wait
from types import FrameType
from typing import Any, Final

__all__ = ["MAX_RESTARTS", "RESTART_WINDOW_S", "REUSE_PORT", "listening_socket", "port_is_free",
           "serve_workers"]

_STOP_TIMEOUT_S: Final = 30.0
MAX_RESTARTS: Final = 5
RESTART_WINDOW_S: Final = 60.0
# Elsewhere (no SO_REUSEPORT) ``serve`` falls back to uvicorn's shared socket.
REUSE_PORT: Final = hasattr(socket, "SO_REUSEPORT") and sys.platform == "linux"


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound socket in the port's SO_REUSEPORT group (the server listens on it)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def port_is_free(host: str, port: int) -> bool:
    """True when nothing is bound to ``host:port``.

    Threat: a second service started on a port already served by SealTrust. Sockets
    with SO_REUSEPORT of the same user may share a port, so without this check it
    would silently take half of the other service's connections instead of failing.
    """
    probe = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is free
        probe.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _worker(config: dict[str, Any], host: str, port: int) -> None:  # pragma: no cover - child
    import uvicorn

    sock = listening_socket(host, port)
    uvicorn.Server(uvicorn.Config(**config)).run(sockets=[sock])


def serve_workers(config: dict[str, Any], host: str, port: int, workers: int, *,
                  max_restarts: int = MAX_RESTARTS, window_s: float = RESTART_WINDOW_S,
                  target: Callable[[dict[str, Any], str, int], None] | None = None) -> int:
    """Run ``workers`` uvicorn processes (``config``: uvicorn.Config keywords); the exit code
    (0 after SIGINT/SIGTERM with every worker stopped cleanly, 1 otherwise)."""
    if not port_is_free(host, port):
        print(f"{host}:{port} is already in use", file=sys.stderr)
        return 1
    context = multiprocessing.get_context("spawn")  # no fork of a half-initialised parent
    run = target or _worker

    def spawn() -> Any:
        process = context.Process(target=run, args=(config, host, port), daemon=False)
        process.start()
        return process

    processes: list[Any] = []
    stopping = False
    crash_loop = False
    restarts: deque[float] = deque()

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for _ in range(workers):
            processes.append(spawn())
        while not stopping:
            wait([p.sentinel for p in processes])  # a signal, or a worker ended on its own
            for slot, process in enumerate(processes):
                if stopping or process.is_alive():
                    continue
                process.join()
                now = time.monotonic()
                while restarts and now - restarts[0] > window_s:
                    restarts.popleft()
                if len(restarts) >= max_restarts:
                    print(f"worker {process.pid} exited ({process.exitcode}) after "
                          f"{len(restarts)} restarts in {window_s:.0f} s: a crash loop, "
                          "stopping the service; 工作进程反复退出，服务停止", file=sys.stderr)
                    crash_loop = True
                    stop(signal.SIGTERM, None)
                    break
                restarts.append(now)
                print(f"worker {process.pid} exited ({process.exitcode}); restarting; "
                      "工作进程退出，正在重启", file=sys.stderr)
                processes[slot] = spawn()
                if stopping:  # a signal arrived while it started
                    processes[slot].terminate()
        for process in processes:
            process.join(_STOP_TIMEOUT_S)
            if process.is_alive():
                process.kill()
                process.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    crashed = [p.exitcode for p in processes if p.exitcode not in (0, -signal.SIGTERM)]
    return 0 if not crash_loop and not crashed else 1
