"""Run ``sealtrust serve`` as real processes on free loopback ports (multi-node, load tests).

    >>> with running_servers(home, count=2, env={"SEALTRUST_DATABASE_URL": url}) as nodes:
    ...     httpx.get(nodes[0].url + "/health/ready")  # doctest: +SKIP

Each node is a separate OS process, so nothing can be shared through Python
memory: whatever node B sees of node A's work went through the database.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    """One ``sealtrust serve`` process."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_node(home: Path, *, env: Mapping[str, str] | None = None, port: int | None = None,
               workers: int = 1, log_dir: Path | None = None) -> Node:
    """Start ``sealtrust serve --home HOME`` on ``port`` (a free one when omitted)."""
    port = port or free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="sealtrust-node-"))
    log = log_dir / f"node-{port}.log"
    full_env = {**os.environ, **(env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--home", str(home),
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            stdout=out, stderr=subprocess.STDOUT, env=full_env,
            cwd=Path(__file__).resolve().parent.parent)
    return Node(process, port, log)


def wait_ready(node: Node, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll ``/health/ready`` until 200; raise with the node's log if it dies or stalls."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"node on port {node.port} exited "
                               f"({node.process.returncode}):\n{node.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(node.url + "/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    node.stop()
    raise RuntimeError(f"node on port {node.port} not ready in {timeout_s} s:\n"
                       f"{node.log_tail()}")


@contextlib.contextmanager
def running_servers(home: Path, *, count: int = 1, env: Mapping[str, str] | None = None,
                    workers: int = 1) -> Iterator[list[Node]]:
    """``count`` nodes on one home (and one database), started together, stopped on exit."""
    nodes = [start_node(home, env=env, workers=workers) for _ in range(count)]
    try:
        for node in nodes:
            wait_ready(node)
        yield nodes
    finally:
        for node in nodes:
            node.stop()
