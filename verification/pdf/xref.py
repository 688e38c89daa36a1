"""Just enough cross-reference parsing for the fast path to read what a viewer reads.

Walks the classic xref tables from ``startxref`` through ``/Prev`` (newest
entry wins), bounded in sections and entries, loops refused. Anything else
(xref streams, malformed tables) returns None: the caller then takes the
full path, which handles every layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["ObjectIndex", "read_xref"]

_MAX_SECTIONS: Final = 32
_MAX_ENTRIES: Final = 100_000
_STARTXREF: Final = re.compile(rb"startxref[ \t\r\n]+(\d{1,12})[ \t\r\n]+%%EOF[ \t\r\n\x00]*\Z")
_SUBSECTION: Final = re.compile(rb"[ \t\r\n]*(\d{1,10}) (\d{1,7})[ \t]*(?:\r\n|\r|\n)")
_ENTRY: Final = re.compile(rb"(\d{10}) (\d{5}) ([nf])(?: \r| \n|\r\n)")
_TRAILER: Final = re.compile(rb"[ \t\r\n]*trailer[ \t\r\n]*<<")
_ROOT: Final = re.compile(rb"/Root[ \t\r\n]+(\d{1,10})[ \t\r\n]+(\d{1,5})[ \t\r\n]+R\b")
_PREV: Final = re.compile(rb"/Prev[ \t\r\n]+(\d{1,12})\b")
_HEADER: Final = re.compile(rb"(\d{1,10})[ \t\r\n]+(\d{1,5})[ \t\r\n]+obj\b")


@dataclass(frozen=True, slots=True)
class ObjectIndex:
    """Where each live object starts (newest revision wins) and the catalog reference."""

    offsets: dict[int, tuple[int, int]]  # number -> (offset, generation)
    root: tuple[int, int]
    sections: int

    def body(self, data: bytes, num: int, gen: int, limit: int = 1 << 16) -> bytes | None:
        """The bytes between ``num gen obj`` and ``endobj``, if the xref points at exactly that."""
        entry = self.offsets.get(num)
        if entry is None or entry[1] != gen or entry[0] < 0:
            return None
        m = _HEADER.match(data, entry[0])
        if m is None or (int(m[1]), int(m[2])) != (num, gen):
            return None
        end = data.find(b"endobj", m.end(), m.end() + limit)
        return None if end == -1 else data[m.end() : end]


def read_xref(data: bytes) -> ObjectIndex | None:
    """The merged classic xref of the file, or None when it is anything else."""
    tail = _STARTXREF.search(data, max(0, len(data) - 64))
    if tail is None:
        return None
    offset = int(tail[1])
    offsets: dict[int, tuple[int, int]] = {}
    seen: set[int] = set()
    root: tuple[int, int] | None = None
    for sections in range(1, _MAX_SECTIONS + 1):
        if offset in seen or not data.startswith(b"xref", offset):
            return None
        seen.add(offset)
        pos = _read_section(data, offset + 4, offsets)
        if pos is None:
            return None
        trailer = _TRAILER.match(data, pos)
        if trailer is None:
            return None
        end = data.find(b">>", trailer.end(), trailer.end() + 4096)
        if end == -1:
            return None
        body = data[trailer.end() : end]
        if root is None and (m := _ROOT.search(body)) is not None:
            root = int(m[1]), int(m[2])
        prev = _PREV.search(body)
        if prev is None:
            return None if root is None else ObjectIndex(offsets, root, sections)
        offset = int(prev[1])
    return None


def _read_section(data: bytes, pos: int, offsets: dict[int, tuple[int, int]]) -> int | None:
    """Add one xref section's in-use entries (older sections never override newer)."""
    while True:
        sub = _SUBSECTION.match(data, pos)
        if sub is None:
            return pos
        first, count = int(sub[1]), int(sub[2])
        if count > _MAX_ENTRIES or len(offsets) + count > _MAX_ENTRIES:
            return None
        pos = sub.end()
        for num in range(first, first + count):
            entry = _ENTRY.match(data, pos)
            if entry is None:
                return None
            pos = entry.end()
            if num not in offsets and entry[3] == b"n":
                offsets[num] = (int(entry[1]), int(entry[2]))
            elif num not in offsets:
                offsets[num] = (-1, int(entry[2]))  # free: shadows older entries
