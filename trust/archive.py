"""Archive packages: licences leave the deployment for the records office (docs/archive.md).

A package is a zip file. What is not personal (licence ids, types,
departments, dates, status and its history, file digests, audit inclusion
proofs, the signed trust and status lists, the signed audit head) is in
clear in ``manifest.json`` and ``evidence/``. What is personal, the holder
record and the licence file (which prints the holder's name and number), is
in ``personal/``, each entry SM4-GCM under one fresh 128-bit content key;
that key travels SM2-encrypted to the records office's certificate
(``content-key.sm2``, GM/T 0009 ciphertext from libcrypto, :mod:`trust.sm2_cipher`).
Only the holder of the records office's private key reads the personal part.

Entry format (``personal/*``): ``nonce (12) || ciphertext || tag (16)``; the
associated data is ``"SealTrust archive v1" 0x00 package id 0x00 entry
name``, so an entry moved to another name or package fails. The manifest
lists the SM3 of every other entry; a reader refuses extra, missing or
altered entries, and bounds entry count and sizes before inflating
anything (a hostile zip is refused in bounded time and memory).

This module is the format only; choosing licences and gathering their
evidence is :mod:`trust.registry.archive_select`, the command is
``sealtrust archive`` (:mod:`api.archive`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from trust import merkle, sm2_cipher, sm3, sm4_gcm
from trust.errors import InputError, SealTrustError, TagMismatchError
from trust.keys import verify_signature
from trust.pki import Certificate

__all__ = [
    "FORMAT",
    "ArchiveError",
    "OpenedPackage",
    "PackageContents",
    "check_evidence",
    "entry_associated_data",
    "open_package",
    "package_bytes",
    "write_package",
]

FORMAT: Final = "sealtrust-archive/1"
MANIFEST: Final = "manifest.json"
CONTENT_KEY: Final = "content-key.sm2"
KEY_BYTES: Final = 16
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
MAX_ENTRIES: Final = 200_000
MAX_ENTRY_BYTES: Final = 64 * 2**20
MAX_TOTAL_BYTES: Final = 8 * 2**30
MAX_MANIFEST_BYTES: Final = 256 * 2**20
_AD_LABEL: Final = b"SealTrust archive v1\x00"
_NAME: Final = re.compile(r"^(personal|evidence)/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ArchiveError(SealTrustError):
    """A package that is not well formed, altered, or not encrypted to the given key."""

    code = "archive.invalid"


def entry_associated_data(package_id: str, name: str) -> bytes:
    """What a personal entry's tag authenticates besides itself."""
    return _AD_LABEL + package_id.encode("ascii") + b"\x00" + name.encode("ascii")


def _seal(key: bytes, package_id: str, name: str, plain: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return sm4_gcm.encrypt(key, nonce, plain, entry_associated_data(package_id, name),
                           prefix=nonce)


def _open(key: bytes, package_id: str, name: str, sealed: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise ArchiveError(f"{name} is too short to be an encrypted entry")
    try:
        return sm4_gcm.decrypt(key, sealed[:NONCE_BYTES], sealed,
                               entry_associated_data(package_id, name), start=NONCE_BYTES)
    except TagMismatchError:
        # Threat: an entry swapped between licences or packages, or edited in transit.
        raise ArchiveError(f"{name} does not authenticate (moved, altered or another "
                           "package)") from None


def _check_name(name: str) -> str:
    if not _NAME.match(name) or ".." in name:
        raise InputError(f"archive entry name {name!r} is not allowed", code="archive.name")
    return name


@dataclass(frozen=True)
class PackageContents:
    """What goes into a package: clear manifest fields, evidence, and personal entries."""

    package_id: str
    manifest: Mapping[str, Any]  # non-personal only: written in clear
    evidence: Mapping[str, bytes] = field(default_factory=dict)  # evidence/<name>: clear
    personal: Mapping[str, bytes] = field(default_factory=dict)  # personal/<name>: encrypted


def _recipient_spki(recipient: Certificate) -> bytes:
    if recipient.key_algorithm != "sm2":
        raise InputError("the records office certificate must hold an SM2 key "
                         "/ 档案机构证书须为 SM2 证书", code="archive.recipient")
    usage = recipient.key_usage
    # Threat: a signing-only certificate handed in by mistake (or by someone who holds only
    # that key pair) would send the records to a key not meant to receive them.
    if usage is not None and not usage & {"key_encipherment", "data_encipherment",
                                          "key_agreement"}:
        raise InputError("the records office certificate does not allow encryption "
                         "(keyUsage) / 档案机构证书不允许加密用途", code="archive.recipient")
    return recipient.spki_der


def write_package(out: IO[bytes], contents: PackageContents, recipient: Certificate) -> bytes:
    """Write the package to ``out``; returns the manifest bytes (their SM3 is audited)."""
    spki = _recipient_spki(recipient)
    content_key = os.urandom(KEY_BYTES)
    entries: dict[str, bytes] = {CONTENT_KEY: sm2_cipher.encrypt(spki, content_key)}
    for name, data in contents.evidence.items():
        entries[_check_name(f"evidence/{name}")] = bytes(data)
    for name, data in contents.personal.items():
        full = _check_name(f"personal/{name}")
        entries[full] = _seal(content_key, contents.package_id, full, bytes(data))
    manifest = dict(contents.manifest)
    manifest.update({
        "format": FORMAT, "package_id": contents.package_id,
        "recipient": {"certificate_sha256": recipient.sha256.hex(),
                      "subject": recipient.subject_text},
        "encryption": {"content_key": CONTENT_KEY, "key_transport": "SM2 (GM/T 0009 DER)",
                       "personal_entries": "SM4-GCM, 96-bit nonce, 128-bit tag"},
        "entries": {name: sm3.sm3(data).hex() for name, data in sorted(entries.items())},
    })
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, sort_keys=True,
                                indent=1).encode("utf-8")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr("recipient.pem", recipient.to_pem())
        for name, data in sorted(entries.items()):
            # Sealed entries do not compress; store them as they are.
            kind = zipfile.ZIP_STORED if name.startswith("personal/") else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                        compress_type=kind)
    return manifest_bytes


@dataclass(frozen=True)
class OpenedPackage:
    """A package read back: the manifest, the evidence and the decrypted personal entries."""

    manifest: dict[str, Any]
    evidence: dict[str, bytes]
    personal: dict[str, bytes]


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    if info.file_size > limit:
        raise ArchiveError(f"{info.filename} is larger than {limit} bytes")
    with zf.open(info) as fh:
        data = fh.read(limit + 1)  # the declared size may lie: read at most limit + 1
    if len(data) > limit or len(data) != info.file_size:
        raise ArchiveError(f"{info.filename} is not the size the zip declares")
    return data


_ZIP_ERRORS: Final = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                      NotImplementedError, UnicodeDecodeError)


def open_package(source: Path | IO[bytes], private_key_der: bytes) -> OpenedPackage:
    """Check and decrypt a package with the records office's private key (DER)."""
    try:
        manifest, data = _read_package(source)
    except _ZIP_ERRORS as exc:  # a damaged or hostile zip: a typed error, not a crash
        raise ArchiveError(f"not a readable zip archive ({type(exc).__name__})") from None
    package_id = str(manifest["package_id"])
    if CONTENT_KEY not in data:
        raise ArchiveError("no content key")
    content_key = sm2_cipher.decrypt(private_key_der, data.pop(CONTENT_KEY))
    if len(content_key) != KEY_BYTES:
        raise ArchiveError("the content key has the wrong length")
    personal = {name.removeprefix("personal/"): _open(content_key, package_id, name, blob)
                for name, blob in data.items() if name.startswith("personal/")}
    evidence = {name.removeprefix("evidence/"): blob for name, blob in data.items()
                if name.startswith("evidence/")}
    return OpenedPackage(manifest, evidence, personal)


def _read_package(source: Path | IO[bytes]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every listed entry, checked against the manifest's digests."""
    with zipfile.ZipFile(source) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES + 3:
            raise ArchiveError(f"more than {MAX_ENTRIES} entries")
        by_name: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in by_name:
                raise ArchiveError(f"entry {info.filename} appears twice")
            by_name[info.filename] = info
        if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
            raise ArchiveError("the package inflates to more than the limit")
        if MANIFEST not in by_name:
            raise ArchiveError("no manifest.json")
        try:
            manifest = json.loads(_read(zf, by_name[MANIFEST], MAX_MANIFEST_BYTES))
        except ValueError:
            raise ArchiveError("manifest.json is not JSON") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ArchiveError(f"not a {FORMAT} package")
        listed = manifest.get("entries")
        package_id = manifest.get("package_id")
        if not isinstance(listed, dict) or not isinstance(package_id, str) or \
                not re.fullmatch(r"[0-9a-f]{32}", package_id):
            raise ArchiveError("the manifest lacks its entry list or package id")
        present = set(by_name) - {MANIFEST, "recipient.pem"}
        # Threat: entries added to or dropped from a package after it was written.
        if present != set(listed):
            raise ArchiveError("the entries are not the ones the manifest lists: "
                               f"extra {sorted(present - set(listed))[:5]}, "
                               f"missing {sorted(set(listed) - present)[:5]}")
        data: dict[str, bytes] = {}
        for name in sorted(listed):
            if name != CONTENT_KEY and (not _NAME.match(name) or ".." in name):
                raise ArchiveError(f"entry name {name[:80]!r} is not allowed")
            blob = _read(zf, by_name[name], MAX_ENTRY_BYTES)
            if sm3.sm3(blob).hex() != listed[name]:
                raise ArchiveError(f"{name} does not match its digest in the manifest")
            data[name] = blob
    return manifest, data


def package_bytes(contents: PackageContents, recipient: Certificate) -> tuple[bytes, bytes]:
    """(zip bytes, manifest bytes): :func:`write_package` into memory."""
    buffer = io.BytesIO()
    manifest = write_package(buffer, contents, recipient)
    return buffer.getvalue(), manifest


def check_evidence(opened: OpenedPackage) -> list[str]:
    """Problems with a package's audit evidence (empty: every proof and the head check out).

    Each licence's audit entries must hash to their leaves and be included in
    the tree the package's signed head names; the head must verify under the
    audit key in ``evidence/audit-key.der``, whose SHA-256 the head names (pin
    that key out of band: whoever wrote a package could have put their own).
    Each personal record and file must be present, and the file must match
    the ``file_sm3`` the registry recorded.
    """
    problems: list[str] = []
    head = opened.manifest.get("audit_head") or {}
    try:
        signed = bytes.fromhex(head["signed_bytes"])
        root = bytes.fromhex(json.loads(signed)["root"])
        size = int(json.loads(signed)["size"])
        spki = opened.evidence["audit-key.der"]
        if hashlib.sha256(spki).hexdigest() != head["key_spki_sha256"]:
            problems.append("the audit key is not the one the head names")
        elif not verify_signature(spki, head["signature_algorithm"], signed,
                                  bytes.fromhex(head["signature"])):
            problems.append("the audit head signature does not verify")
    except (KeyError, ValueError, TypeError, SealTrustError) as exc:
        return [f"the audit head is missing or malformed ({type(exc).__name__})"]
    try:
        for licence in opened.manifest.get("licences", []):
            problems += _licence_problems(opened, licence, size, root)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        problems.append(f"the manifest's licence list is malformed ({type(exc).__name__})")
    return problems


def _licence_problems(opened: OpenedPackage, licence: dict[str, Any], size: int,
                      root: bytes) -> list[str]:
    """One licence: its personal entries present, its file the registered one, its audit
    entries in the signed log."""
    problems: list[str] = []
    lid = licence.get("id")
    for part in ("record", "file"):
        if str(licence.get(part, "")).removeprefix("personal/") not in opened.personal:
            problems.append(f"{lid}: its {part} is missing")
    data = opened.personal.get(str(licence.get("file", "")).removeprefix("personal/"))
    if data is not None and sm3.sm3(data).hex() != licence.get("file_sm3"):
        problems.append(f"{lid}: the file is not the registered one")
    for entry in licence.get("audit", []):
        leaf = merkle.leaf_hash(str(entry.get("entry", "")).encode("utf-8"))
        if leaf.hex() != entry.get("leaf_hash"):
            problems.append(f"{lid}: audit entry {entry.get('seq')} does not hash to its leaf")
            continue
        proof = [bytes.fromhex(p) for p in entry.get("proof", [])]
        if not merkle.verify_inclusion(leaf, int(entry.get("seq", 0)) - 1, size, proof, root):
            problems.append(f"{lid}: audit entry {entry.get('seq')} is not in the signed log")
    return problems
