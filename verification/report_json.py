"""A report's JSON text with each distinct DER value (certificate, seal) encoded once.

A bulk run repeats the same signer chain, time-stamp chain and seal picture in
every licence's report; the seal alone is ~19 KB of a ~31 KB line. Encoding them
to base64 and having ``json.dumps`` scan them for escapes on every file cost
about as much as one SM2 verify. Here each distinct value becomes a placeholder
in the dumped dict, and the placeholders are swapped for the remembered base64
afterwards: the text is byte for byte ``json.dumps(report.to_dict(),
ensure_ascii=False, sort_keys=True)`` (tests/test_report_json.py), so every
reader of the single-file report sees the same contract.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Callable
from typing import Any, Final

__all__ = ["dumps_with_blobs", "line_with_blobs"]

_MIN_BLOB: Final = 64  # shorter values are encoded in place, and so are
_MAX_BLOB: Final = 1 << 20  # larger ones (an embedded CRL is not worth keeping)
_MAX_ENTRIES: Final = 1024
_MAX_BYTES: Final = 16 * 1024 * 1024  # of remembered DER (base64 adds a third)
# A placeholder is this process's secret nonce and a serial number. The nonce stops
# a crafted file from spelling a placeholder in some text of its report (a field
# name, a subject) and having a certificate or seal spliced in there. Base64 and
# the placeholders need no JSON escaping, so swapping one for the other inside a
# JSON string changes nothing else.
_NONCE: Final = "blob-" + secrets.token_hex(16) + "-"
_PLACEHOLDER: Final = re.compile(re.escape(_NONCE) + r"(\d{1,18})#")
_PLACEHOLDER_BYTES: Final = re.compile(re.escape(_NONCE.encode("ascii")) + rb"(\d{1,18})#")

_blobs: dict[bytes, tuple[str, str]] = {}  # DER -> (placeholder, base64)
_held = 0
_serial = 0


def forget() -> None:
    """Empty the memo (its bound; tests)."""
    global _held, _last_large
    _blobs.clear()
    _held = 0
    _last_large = None


_LARGE: Final = 4096  # a seal picture (~14 KB), not a certificate
_last_large: tuple[bytes, tuple[str, str]] | None = None


def _remembered(der: bytes) -> tuple[str, str]:
    """The placeholder and base64 of a DER value, encoded once while remembered.

    The last large value (a batch's seal) is found by comparing bytes, which costs
    far less than hashing ~14 KB for the dictionary on every report."""
    global _held, _serial, _last_large
    last = _last_large
    if last is not None and (last[0] is der or last[0] == der):
        return last[1]
    entry = _blobs.get(der)
    if entry is None:
        if len(_blobs) >= _MAX_ENTRIES or _held + len(der) > _MAX_BYTES:
            forget()  # bounded memory; serial numbers go on, so no placeholder repeats
        _serial += 1
        entry = (f"{_NONCE}{_serial}#", base64.b64encode(der).decode("ascii"))
        _blobs[der] = entry
        _held += len(der)
    if len(der) >= _LARGE:
        _last_large = (der, entry)
    return entry


_Build = Callable[[Callable[[bytes], str]], dict[str, Any]]


def _dumped(build: _Build) -> tuple[str, dict[str, str]]:
    """The JSON text with placeholders, and the base64 of each placeholder in it."""
    used: dict[str, str] = {}

    def blob(der: bytes) -> str:
        if not _MIN_BLOB <= len(der) <= _MAX_BLOB:
            return base64.b64encode(der).decode("ascii")
        placeholder, text = _remembered(der)
        used[placeholder] = text
        return placeholder

    return json.dumps(build(blob), ensure_ascii=False, sort_keys=True), used


def dumps_with_blobs(build: _Build) -> str:
    """``json.dumps(build(b64), ensure_ascii=False, sort_keys=True)`` where ``build``
    writes every DER value with the function it is given."""
    text, used = _dumped(build)
    if not used:
        return text
    # (a placeholder not handed out in this report -- impossible without the nonce --
    # is left as it is rather than filled with some other value)
    return _PLACEHOLDER.sub(lambda m: used.get(m[0], m[0]), text)


def line_with_blobs(build: _Build) -> bytes:
    """:func:`dumps_with_blobs` as one UTF-8 NDJSON line (newline included), built as
    bytes: the base64 is ASCII, so only the short text around it is encoded (a 31 KB
    line with Chinese in it is otherwise held and encoded as UCS-2)."""
    text, used = _dumped(build)
    line = text.encode("utf-8") + b"\n"
    if not used:
        return line
    spliced = {k.encode("ascii"): v.encode("ascii") for k, v in used.items()}
    return _PLACEHOLDER_BYTES.sub(lambda m: spliced.get(m[0], m[0]), line)
