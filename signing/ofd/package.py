"""The zip of an OFD package, with the bytes many licences share prepared once.

Every licence of a type repeats most of its page (background, guilloche,
borders: ~27 KB of path data in ``Content.xml``) and a few whole files
(``PublicRes.xml``, ``DocumentRes.xml``, ``Signatures.xml``, the department's
``Seal.esl``). Deflating, CRC-ing and SM3-hashing those on every issuance was
a tenth of it. A :class:`Shared` holds them done once: the raw deflate of the
shared bytes ends on a byte boundary without a final block (``Z_SYNC_FLUSH``),
so each licence deflates only its own tail as a new block sequence after it
(a valid stream: the tail's back-references stay inside the tail); the CRC-32
continues from the shared part's; the SM3 state after the shared bytes is
copied and fed the tail. The entry's bytes are exactly ``shared + tail``,
which any zip reader and any SM3 see (tests/test_ofd_issue.py reads them with
zipfile, ``unzip -t`` and hashlib).

The archive itself is written here rather than through :mod:`zipfile`, which
cannot take data already deflated; the headers are the ones ``zipfile`` writes
for the same entries (a test compares the bytes of entries above 4 KiB; small
XML is deflated with a smaller window, which zipfile does not offer).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from cryptography.hazmat.primitives import hashes

from trust import sm3

__all__ = ["Entry", "Part", "Shared", "entry_bytes", "entry_sm3", "shared", "zip_package"]

_LEVEL: Final = 1  # XML deflates ~3.5x at level 1; higher levels cost several times more
_SMALL: Final = 4096  # bytes: OFD.xml, Document.xml, Signature.xml
_DOS_DATE: Final = ((2026 - 1980) << 9) | (1 << 5) | 1  # 2026-01-01, as before: no clock leak
_DOS_TIME: Final = 0
_VERSION: Final = 20  # 2.0: deflate
_MADE_BY: Final = 3  # Unix, so the permission bits below mean what they say
_EXTERNAL: Final = 0o644 << 16
_LOCAL: Final = struct.Struct("<4s2B4HL2L2H")
_CENTRAL: Final = struct.Struct("<4s4B4HL2L5H2L")
_END: Final = struct.Struct("<4s4H2LH")
_MAX: Final = 0xFFFFFFFF  # no zip64: a licence is far below 4 GiB, and a reader may lack it


class Shared:
    """Bytes that open an entry in many packages, deflated, CRC-ed and hashed once."""

    __slots__ = ("_sm3", "crc", "deflate", "deflated", "raw")

    def __init__(self, raw: bytes, *, deflate: bool) -> None:
        self.raw = raw
        self.deflate = deflate
        if deflate:
            z = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15)
            # byte-aligned and not final: a tail's blocks may follow
            self.deflated = z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH)
        else:
            self.deflated = b""
        self.crc = zlib.crc32(raw)
        self._sm3: hashes.Hash = sm3.new()
        self._sm3.update(raw)

    def sm3_with(self, tail: bytes) -> bytes:
        """SM3 of the shared bytes followed by ``tail``."""
        h = self._sm3.copy()
        h.update(tail)
        return h.finalize()


@dataclass(frozen=True, slots=True)
class Part:
    """An entry made of shared leading bytes and this licence's own tail."""

    shared: Shared
    tail: bytes = b""


Entry = bytes | Part
"""What a package entry may be: its bytes, or shared bytes plus a tail."""


@lru_cache(maxsize=128)
def shared(raw: bytes, *, deflate: bool) -> Shared:
    """The :class:`Shared` of a whole file that recurs (static XML, a department's seal)."""
    return Shared(raw, deflate=deflate)


def entry_bytes(entry: Entry) -> bytes:
    """The entry's content."""
    return entry if isinstance(entry, bytes) else entry.shared.raw + entry.tail


def entry_sm3(entry: Entry) -> bytes:
    """SM3 of the entry's content (what a Reference's CheckValue holds)."""
    if isinstance(entry, bytes):
        return sm3.sm3(entry)
    return entry.shared.sm3_with(entry.tail)


def _deflate(data: bytes) -> bytes:
    """Raw deflate, final. A small file gets a 4 KiB window and a smaller hash table: the
    same output size, a third of the time (zlib's default state is ~270 KB to set up)."""
    if len(data) > _SMALL:
        return zlib.compress(data, _LEVEL, -15)
    z = zlib.compressobj(_LEVEL, zlib.DEFLATED, -12, 5)
    return z.compress(data) + z.flush()


def _payload(name: str, entry: Entry) -> tuple[list[bytes], int, int, int, int]:
    """(payload pieces, method, CRC-32, compressed size, size): XML deflated, other
    files stored (fonts, pictures and DER barely compress; deflating them cost most
    of the packaging time)."""
    if isinstance(entry, Part):
        head, tail = entry.shared, entry.tail
        crc = zlib.crc32(tail, head.crc)
        size = len(head.raw) + len(tail)
        if head.deflate:
            rest = zlib.compress(tail, _LEVEL, -15)  # new blocks, the last one final
            return [head.deflated, rest], zlib.DEFLATED, crc, len(head.deflated) + len(rest), size
        return [head.raw, tail], 0, crc, size, size
    if name.endswith(".xml"):
        data = _deflate(entry)
        return [data], zlib.DEFLATED, zlib.crc32(entry), len(data), len(entry)
    return [entry], 0, zlib.crc32(entry), len(entry), len(entry)


def zip_package(entries: Iterable[tuple[str, Entry]]) -> bytes:
    """The zip archive of ``entries`` in the given order (local headers, central directory)."""
    out: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for name, entry in entries:
        encoded = name.encode()
        flags = 0 if name.isascii() else 0x800  # UTF-8 name
        pieces, method, crc, csize, size = _payload(name, entry)
        if offset > _MAX or csize > _MAX or size > _MAX:
            raise ValueError("an OFD licence package cannot exceed 4 GiB")
        out.append(_LOCAL.pack(b"PK\x03\x04", _VERSION, 0, flags, method, _DOS_TIME,
                               _DOS_DATE, crc, csize, size, len(encoded), 0))
        out.append(encoded)
        out += pieces
        central.append(_CENTRAL.pack(b"PK\x01\x02", _VERSION, _MADE_BY, _VERSION, 0, flags,
                                     method, _DOS_TIME, _DOS_DATE, crc, csize, size,
                                     len(encoded), 0, 0, 0, 0, _EXTERNAL, offset))
        central.append(encoded)
        offset += _LOCAL.size + len(encoded) + csize
    directory = b"".join(central)
    count = len(central) // 2
    out.append(directory)
    out.append(_END.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), offset, 0))
    return b"".join(out)
