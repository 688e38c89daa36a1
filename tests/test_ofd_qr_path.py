"""The OFD page's QR path: the C-level edge finder gives exactly the runs a plain loop finds."""

from __future__ import annotations

import random
import re

import pytest

from signing.render._ofd import _qr_path
from signing.render._qr import qr_matrix
from trust.token.codec import PREFIX

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _runs_by_loop(rows: list[bytes]) -> set[tuple[int, int, int]]:
    """(row, first dark column, first light column after it) of every dark run."""
    runs = set()
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if row[c] == 0:
                start = c
                while c < len(row) and row[c] == 0:
                    c += 1
                runs.add((r, start, c))
            else:
                c += 1
    return runs


def _runs_in_path(path: str) -> set[tuple[int, int, int]]:
    runs = set()
    for sub in path.split(" C"):
        if not sub.strip():
            continue
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = (
            (int(a), int(b)) for a, b in re.findall(r"[ML] (\d+) (\d+)", sub))
        # a rectangle one module high: bottom-left, top-left, top-right, bottom-right
        assert x0 == x1 and x2 == x3 and y1 == y2 and y0 == y3 == y1 + 1 and x2 > x0
        runs.add((y1, x0, x2))
    return runs


@pytest.mark.parametrize("seed", range(12))
def test_path_has_exactly_the_dark_runs(seed: int) -> None:
    rng = random.Random(seed)
    length = rng.choice([1, 20, 300, 520, 900, 1900])
    payload = PREFIX + "".join(rng.choice(ALPHABET) for _ in range(length))
    if seed % 3 == 0:
        payload = "https://verify.example.cn/v/" + "".join(rng.choice("abc123") for _ in range(40))
    rows = qr_matrix(payload)
    path = _qr_path(rows)
    expected = _runs_by_loop(rows)
    assert _runs_in_path(path) == expected
    assert path.split().count("C") == len(expected)  # no run drawn twice


def test_edge_runs_touch_both_sides() -> None:
    """Runs at column 0 and running to the last column (the finder patterns)."""
    rows = [b"\x00\x00\xff\x00", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\xff\x00\xff\x00"]
    assert _runs_in_path(_qr_path(rows)) == _runs_by_loop(rows) == {
        (0, 0, 2), (0, 3, 4), (2, 0, 4), (3, 1, 2), (3, 3, 4)}
