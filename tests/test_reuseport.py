"""``sealtrust serve --workers N``: a listening socket per worker (SO_REUSEPORT).

With uvicorn's one shared socket, the worker that woke first accepted a whole burst
of connections (4 of 4 wrk connections on one of 2 workers, issue 15); the kernel
spreads connections over sockets of one SO_REUSEPORT group instead.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.deployment import init_deployment
from api.reuseport import listening_socket, port_is_free, serve_workers
from tests.reuseport_targets import crash_at_once
from tests.server_support import Node, free_port, start_node, wait_ready


def test_sockets_of_one_group_share_the_port_and_each_gets_connections() -> None:
    port = free_port()
    group = [listening_socket("127.0.0.1", port) for _ in range(2)]
    clients: list[socket.socket] = []
    try:
        for sock in group:
            sock.listen(128)
            sock.setblocking(False)
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
        accepted = [0, 0]
        for i, sock in enumerate(group):
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                accepted[i] += 1
        assert sum(accepted) == 64
        assert min(accepted) > 0, accepted  # all 64 on one socket: 2**-63 by chance
    finally:
        for s in [*clients, *group]:
            s.close()


def test_a_port_in_use_is_not_free() -> None:
    port = free_port()
    assert port_is_free("127.0.0.1", port)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        assert not port_is_free("127.0.0.1", port)
    other = listening_socket("127.0.0.1", port)  # a SealTrust worker's socket counts too
    try:
        other.listen(1)
        assert not port_is_free("127.0.0.1", port)
    finally:
        other.close()


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _established(pid: int, port: int) -> int:
    """Established TCP connections on local ``port`` held by process ``pid``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01" and fields[9] in inodes:
            count += 1
    return count


def _workers(pid: int) -> list[int]:
    return [p for p in _children(pid)
            if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text()]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    """``serve --workers 2`` on a fresh home, ready, with its 2 workers started."""
    home = tmp_path / "home"
    init_deployment(home)
    started = start_node(home, workers=2, log_dir=tmp_path)
    try:
        wait_ready(started)
        assert len(_workers(started.process.pid)) == 2
        yield started
    finally:
        started.stop()


@pytest.mark.slow
def test_two_workers_share_connections_stop_cleanly_and_refuse_a_taken_port(
        node: Node, tmp_path: Path) -> None:
    home = tmp_path / "home"
    workers = _workers(node.process.pid)
    clients = [httpx.Client(base_url=node.url) for _ in range(16)]
    try:
        for client in clients:  # one keep-alive connection each, all left open
            assert client.get("/health/live").status_code == 200
        held = [_established(pid, node.port) for pid in workers]
        assert sum(held) == 16 and min(held) > 0, held  # all 16 on one: 2**-15
    finally:
        for client in clients:
            client.close()
    (tmp_path / "second").mkdir()
    second = start_node(home, workers=2, port=node.port, log_dir=tmp_path / "second")
    assert second.process.wait(60) == 1
    assert "already in use" in second.log_tail()
    node.process.send_signal(signal.SIGTERM)
    assert node.process.wait(60) == 0


def test_a_worker_that_keeps_dying_stops_the_service_after_its_restarts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    starts = tmp_path / "starts"
    code = serve_workers({"starts": str(starts)}, "127.0.0.1", free_port(), 2,
                         max_restarts=3, window_s=60, target=crash_at_once)
    assert code == 1  # a crash loop is reported to the process manager, not hidden
    said = capsys.readouterr().err
    assert said.count("restarting") == 3 and said.count("crash loop") == 1, said
    assert len(set(starts.read_text().split())) >= 4  # each restart is a new process


@pytest.mark.slow
def test_a_killed_worker_is_restarted_and_the_service_keeps_answering(node: Node) -> None:
    before = _workers(node.process.pid)
    os.kill(before[0], signal.SIGKILL)  # the OOM killer, say
    deadline = time.monotonic() + 60
    while True:
        after = _workers(node.process.pid)
        if len(after) == 2 and before[0] not in after:
            break
        assert node.process.poll() is None, node.log_tail()
        assert time.monotonic() < deadline, (before, after, node.log_tail())
        time.sleep(0.2)
    wait_ready(node)
    for _ in range(8):
        assert httpx.get(node.url + "/health/live", timeout=10).status_code == 200
    assert "restarting" in node.log_tail()
    node.process.send_signal(signal.SIGTERM)
    assert node.process.wait(60) == 0
