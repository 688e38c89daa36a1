"""An OFD package (GB/T 33190 §7): a zip of XML and resources, read within fixed limits.

Nothing is extracted to disk: entries are read into memory on demand, each
bounded by the size its central-directory record declares (zipfile stops
inflating there), and the whole package by entry count and total size.
Lookups accept what real files write: absolute or relative paths, backslashes,
and case differing from the entry name.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from dataclasses import dataclass
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


def looks_like_zip(data: bytes) -> bool:
    """A zip local header at the start or, for packages with leading bytes, within 4 KiB."""
    return data[:4] == _ZIP_MAGIC or (_ZIP_MAGIC in data[:4096] and b"PK\x05\x06" in data[-70_000:])


def normalise(name: str) -> str:
    """The canonical form of an entry name or reference: no leading slash, '/' separators.

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
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
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
