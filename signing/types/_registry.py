"""Finding licence types: the shipped ones plus any a deployment drops in.

A type is a pair of files in one directory, ``<code>.type.json`` (names,
holder, masks, validity, layout) and ``<code>.schema.json`` (the record's
JSON Schema), so adding a type is a data change, never a code change.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

from signing.types._model import LicenceType, mask_value
from signing.types.errors import LicenceTypeDefinitionError, UnknownLicenceTypeError

__all__ = ["TypeRegistry", "builtin_types", "get_type", "load_registry", "load_types_from"]

_MAX_FILE_BYTES: Final = 1 << 20
_TYPE_SUFFIX: Final = ".type.json"
_SCHEMA_SUFFIX: Final = ".schema.json"


class _Deferred:
    """A shipped type read but not yet checked: its code and version are known, the
    ~15 ms of schema checks run on first use (one ``issue`` needs one of ~130 types)."""

    def __init__(self, name: str, definition: Any, schema: Any) -> None:
        self.name = name
        self.definition = definition
        self.schema = schema
        version = definition.get("version") if isinstance(definition, dict) else None
        self.version = version if isinstance(version, int) else 0

    def load(self) -> LicenceType:
        return _build(self.name, self.definition, self.schema)


class TypeRegistry:
    """An immutable set of licence types, looked up by code."""

    def __init__(self, types: Iterable[LicenceType | _Deferred],
                 codes: Iterable[str] | None = None, *,
                 superseded: dict[tuple[str, int], LicenceType | _Deferred] | None = None,
                 ) -> None:
        entries = list(types)
        names = list(codes) if codes is not None else [_code_of(e) for e in entries]
        by_code: dict[str, LicenceType | _Deferred] = {}
        for code, entry in zip(names, entries, strict=True):
            if code in by_code:
                raise LicenceTypeDefinitionError(f"licence type {code} defined twice")
            by_code[code] = entry
        self._by_code = dict(sorted(by_code.items()))
        # Definitions a deployment's revision replaced, by (code, version): licences issued
        # under them are still masked and presented by the rules they were issued under.
        self._superseded = dict(superseded or {})
        self._lock = threading.Lock()

    def get(self, code: str) -> LicenceType:
        """The type with this code; UnknownLicenceTypeError otherwise."""
        key = code.upper()
        entry = self._by_code.get(key)
        if entry is None:
            known = ", ".join(self._by_code)
            raise UnknownLicenceTypeError(
                f"unknown licence type {code[:32]!r} (known: {known})"
            ) from None
        if isinstance(entry, _Deferred):
            with self._lock:
                current = self._by_code[key]
                if isinstance(current, _Deferred):
                    current = current.load()
                    self._by_code[key] = current
                entry = current
        return entry

    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    def with_types(self, extra: Iterable[LicenceType]) -> TypeRegistry:
        """A new registry with ``extra`` added; an extra type whose code exists replaces it
        only with a higher ``version`` (a province's revision of a shipped type)."""
        merged = dict(self._by_code)
        superseded = dict(self._superseded)
        seen: set[str] = set()
        for licence_type in extra:
            code = licence_type.code
            if code in seen:
                raise LicenceTypeDefinitionError(f"licence type {code} defined twice")
            seen.add(code)
            current = merged.get(code)
            # A same-or-lower version must not silently replace a type: licences record the
            # version they were issued under, and two definitions of one version would make
            # that record ambiguous.
            if current is not None and licence_type.version <= current.version:
                raise LicenceTypeDefinitionError(
                    f"licence type {code} defined twice: version {licence_type.version} does not"
                    f" supersede version {current.version} (raise the version to override it)")
            if current is not None:
                superseded[(code, current.version)] = current
            merged[code] = licence_type
        return TypeRegistry(merged.values(), merged.keys(), superseded=superseded)

    def issued_under(self, code: str, version: int | None) -> LicenceType | None:
        """The definition of ``code`` at ``version``, the one a licence records it was issued
        under: the current one or a shipped one a revision superseded; None when this
        registry no longer knows that version (or the licence predates versions)."""
        current = self.get(code)
        if version is None:
            return None
        if version == current.version:
            return current
        key = (current.code, version)
        entry = self._superseded.get(key)
        if isinstance(entry, _Deferred):
            with self._lock:
                loaded = self._superseded[key]
                entry = loaded.load() if isinstance(loaded, _Deferred) else loaded
                self._superseded[key] = entry
        return entry

    def _versions_of(self, code: str) -> list[LicenceType]:
        found = [self.issued_under(code, version) for c, version in list(self._superseded)
                 if c == code]
        return [t for t in found if t is not None]

    def masked(self, code: str, version: int | None, record: Mapping[str, Any]) -> dict[str, Any]:
        """A stored record as the public may see it: each field masked as the version it was
        issued under declares, and as the current version declares (the current mode wins
        where both mask a field); when the issuing version is unknown, as every version
        still known declares.

        Threat: a revision that renames or drops a masked field (``address`` ->
        ``residence``) would otherwise publish the old records' ``address`` in clear.
        A field neither known version declares (the issued one is gone) is masked whole:
        what we cannot classify is treated as sensitive.
        """
        current = self.get(code)
        issued = self.issued_under(code, version)
        modes = dict(current.mask)
        known = set(current.schema["properties"])
        # The issued version unknown (a licence from before versions were recorded, or a
        # definition since removed): every version still known adds its masks.
        for older in ([issued] if issued is not None else self._versions_of(current.code)):
            modes = {**older.mask, **modes}
            known |= set(older.schema["properties"])
        return {k: mask_value(modes[k], str(v)) if k in modes
                else v if k in known else mask_value("full", str(v))
                for k, v in record.items()}

    def __iter__(self) -> Iterator[LicenceType]:
        return iter([self.get(code) for code in self._by_code])

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.upper() in self._by_code


def _code_of(entry: LicenceType | _Deferred) -> str:
    return entry.code if isinstance(entry, LicenceType) else entry.name.upper()


def _read_json(entry: Traversable) -> Any:
    try:
        data = entry.read_bytes()
    except OSError as exc:
        raise LicenceTypeDefinitionError(f"cannot read {entry.name}: {exc}") from None
    if len(data) > _MAX_FILE_BYTES:
        raise LicenceTypeDefinitionError(f"{entry.name} is larger than {_MAX_FILE_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LicenceTypeDefinitionError(f"{entry.name} is not valid JSON: {exc}") from None


def _build(name: str, definition: Any, schema: Any) -> LicenceType:
    stem = name[: -len(_TYPE_SUFFIX)]
    try:
        licence_type = LicenceType.from_json(definition, schema)
    except LicenceTypeDefinitionError as exc:  # say which file, whatever went wrong
        raise LicenceTypeDefinitionError(f"{name}: {exc.message}") from None
    if licence_type.code != stem.upper():
        raise LicenceTypeDefinitionError(f"{name} defines code {licence_type.code}")
    return licence_type


def _read_dir(directory: Traversable) -> list[_Deferred]:
    entries = {entry.name: entry for entry in directory.iterdir()}
    found = []
    for name in sorted(entries):
        if not name.endswith(_TYPE_SUFFIX):
            continue
        stem = name[: -len(_TYPE_SUFFIX)]
        schema_entry = entries.get(stem + _SCHEMA_SUFFIX)
        if schema_entry is None:
            raise LicenceTypeDefinitionError(f"{name} has no {stem}{_SCHEMA_SUFFIX} beside it")
        found.append(_Deferred(name, _read_json(entries[name]), _read_json(schema_entry)))
    return found


def _load_dir(directory: Traversable) -> list[LicenceType]:
    return [deferred.load() for deferred in _read_dir(directory)]


def load_types_from(directory: Path) -> list[LicenceType]:
    """Every ``<code>.type.json`` + ``<code>.schema.json`` pair in ``directory``."""
    if not directory.is_dir():
        raise LicenceTypeDefinitionError(f"{directory} is not a directory")
    return _load_dir(directory)


def load_registry(extra_dir: Path | None = None) -> TypeRegistry:
    """The shipped types plus (overridden by) those in ``extra_dir`` if it exists:
    a deployment's ``<home>/types``."""
    registry = builtin_types()
    if extra_dir is not None and extra_dir.is_dir():
        registry = registry.with_types(load_types_from(extra_dir))
    return registry


@cache
def builtin_types() -> TypeRegistry:
    """The types shipped with SealTrust: read once per process, each checked on first use
    (tests/test_type_catalogue.py checks them all)."""
    deferred = _read_dir(resources.files("signing.types.definitions"))
    return TypeRegistry(deferred, [d.name[: -len(_TYPE_SUFFIX)].upper() for d in deferred])


def get_type(code: str) -> LicenceType:
    """A shipped type by code (case-insensitive)."""
    return builtin_types().get(code)
