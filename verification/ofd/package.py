"""An OFD package (GB/T 33190 §7): a zip of XML and resources, read within fixed limits.

Nothing is extracted to disk: entries are read into memory on demand, each
bounded by the size its central-directory record declares (zipfile stops
inflating there), and the whole package by entry count and total size.
zipfile reads the central directory; a plain stored or deflated entry is then
sliced and inflated straight from the package bytes (zipfile's per-entry
machinery cost more than inflating), and anything unusual about an entry goes
back to zipfile, so every result and every refusal stays zipfile's.
Lookups accept what real files write: absolute or relative paths, backslashes,
and case differing from the entry name.
"""

from __future__ import annotations

import io
import posixpath
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from verification.errors import OfdFormatError

__all__ = ["OfdLimits", "OfdPackage", "looks_like_zip"]


@dataclass(frozen=True, slots=True)
class OfdLimits:
    """Bounds that keep a hostile package from exhausting memory or time."""

    max_entries: int = 10_000
    max_entry_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_ratio: int = 200  # uncompressed / compressed, for entries over 1 MiB


DEFAULT_LIMITS: Final = OfdLimits()
_ZIP_MAGIC: Final = b"PK\x03\x04"
_LOCAL_HEADER: Final = struct.Struct("<4s2B4HL2L2H")  # zipfile.structFileHeader
_UTF8_NAME: Final = 0x800
# encrypted (bit 0), compressed patched data (bit 5), strong encryption (bit 6)
_UNUSUAL_FLAGS: Final = 0x1 | 0x20 | 0x40


def looks_like_zip(data: bytes) -> bool:
    """A zip local header at the start or, for packages with leading bytes, within 4 KiB."""
    return data[:4] == _ZIP_MAGIC or (_ZIP_MAGIC in data[:4096] and b"PK\x05\x06" in data[-70_000:])


@lru_cache(maxsize=4096)
def normalise(name: str) -> str:
    """The canonical form of an entry name or reference: no leading slash, '/' separators.
    (Cached: a pure function of the text, and every package of a writer repeats its
    names; a refusal is raised again each time, never cached.)

    Raises OfdFormatError for names that climb out of the package (``..``) or
    carry a drive or NUL: such an entry is an attack or a broken writer, and a
    reference to it cannot mean a file of this package.
    """
    text = name.replace("\\", "/").strip()
    if "\x00" in text or (len(text) > 1 and text[1] == ":"):
        raise OfdFormatError(f"OFD entry name {name!r} is not a package path")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OfdFormatError(f"OFD entry name {name!r} climbs out of the package (..)")
    return "/".join(parts)


class OfdPackage:
    """The entries of one OFD zip, keyed by normalised name (case kept)."""

    def __init__(self, data: bytes, limits: OfdLimits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._data = memoryview(data)
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        # NotImplementedError: a central directory naming a zip version or feature zipfile
        # lacks (one altered byte of a genuine package reaches it).
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            raise OfdFormatError(f"not a readable OFD zip package: {exc}") from exc
        if len(infos) > limits.max_entries:
            raise OfdFormatError(
                f"OFD package has {len(infos)} entries (limit {limits.max_entries})")
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self._folded: dict[str, str] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            key = normalise(info.filename)
            folded = key.casefold()
            # Two entries that one reference could name: a verifier could hash one while a
            # viewer shows the other (the zip counterpart of a shadowed PDF object).
            if folded in self._folded:
                raise OfdFormatError(f"OFD package holds {key!r} twice")
            if info.file_size > limits.max_entry_bytes:
                raise OfdFormatError(
                    f"OFD entry {key!r} declares {info.file_size} bytes "
                    f"(limit {limits.max_entry_bytes})"
                )
            if info.file_size > 1 << 20 and info.file_size > limits.max_ratio * max(
                info.compress_size, 1
            ):
                raise OfdFormatError(
                    f"OFD entry {key!r} inflates over {limits.max_ratio}x (zip bomb)")
            total += info.file_size
            if total > limits.max_total_bytes:
                raise OfdFormatError(
                    f"OFD package inflates past {limits.max_total_bytes} bytes (zip bomb)"
                )
            self._infos[key] = info
            self._folded[folded] = key
        self._cache: dict[str, bytes] = {}

    @property
    def names(self) -> tuple[str, ...]:
        """Every file entry's normalised name, in archive order."""
        return tuple(self._infos)

    def resolve(self, ref: str, base_dir: str = "") -> str | None:
        """The entry a reference names: absolute from the root, else relative to ``base_dir``.

        Exact names win; otherwise a unique case-insensitive match (writers on
        case-insensitive file systems differ in case from their own references).
        """
        text = ref.replace("\\", "/").strip()
        joined = text if text.startswith("/") or not base_dir else posixpath.join(base_dir, text)
        candidates = [normalise(joined)]
        if not text.startswith("/") and base_dir:
            candidates.append(normalise(text))  # some writers omit the leading slash
        for key in candidates:
            if key in self._infos:
                return key
        for key in candidates:
            found = self._folded.get(key.casefold())
            if found is not None:
                return found
        return None

    def read(self, name: str) -> bytes:
        """The raw, uncompressed bytes of an entry (what CheckValues hash)."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        info = self._infos.get(name)
        if info is None:
            raise OfdFormatError(f"OFD entry {name!r} is missing")
        direct = self._direct(info)
        if direct is not None:
            self._cache[name] = direct
            return direct
        try:
            with self._zip.open(info) as handle:
                data = handle.read(self._limits.max_entry_bytes + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
                zlib.error) as exc:
            raise OfdFormatError(f"OFD entry {name!r} is unreadable: {exc}") from exc
        if len(data) > self._limits.max_entry_bytes:
            raise OfdFormatError(f"OFD entry {name!r} exceeds {self._limits.max_entry_bytes} bytes")
        self._cache[name] = data
        return data

    def _direct(self, info: zipfile.ZipInfo) -> bytes | None:
        """The entry's bytes sliced (stored) or inflated (deflated) from the package, when
        the entry is plain: the local header zipfile would accept, names that agree, and
        data that inflates to exactly the declared size with the declared CRC-32. None for
        anything else, which ``zipfile`` then reads (or refuses) in its own words: this
        path returns bytes only where zipfile would return the same bytes."""
        if info.flag_bits & _UNUSUAL_FLAGS or info.compress_type not in (
                zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return None
        data, offset = self._data, info.header_offset
        head = data[offset:offset + _LOCAL_HEADER.size]
        if len(head) != _LOCAL_HEADER.size:
            return None
        (magic, _, _, flags, _, _, _, _, _, _, name_len, extra_len) = _LOCAL_HEADER.unpack(head)
        if magic != _ZIP_MAGIC:
            return None
        name_at = offset + _LOCAL_HEADER.size
        try:
            local_name = bytes(data[name_at:name_at + name_len]).decode(
                "utf-8" if flags & _UTF8_NAME else "cp437")
        except UnicodeDecodeError:
            return None
        # Threat: a local header naming another file than the directory (zip confusion).
        if local_name != info.orig_filename:
            return None
        start = name_at + name_len + extra_len
        raw = data[start:start + info.compress_size]
        if len(raw) != info.compress_size:
            return None
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                return None
            out = bytes(raw)
        else:
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                # at most one byte past the declared size: a bomb cannot inflate here
                out = inflater.decompress(raw, info.file_size + 1)
            except zlib.error:
                return None
            if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data or (
                    len(out) != info.file_size):
                return None
        # Threat: an entry altered inside the zip; zipfile refuses a CRC mismatch too.
        if zlib.crc32(out) != info.CRC:
            return None
        return out
