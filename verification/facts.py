"""Facts extracted once from a file: everything later checks need, nothing judged.

Facts hold no policy and no time, so a stored :class:`FileFacts` can be
re-judged under another policy or at another moment (the EU DSS lesson).
Integrity (digest and signature value) is time-independent and is therefore
a fact too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from trust.errors import InputError

__all__ = ["FileFacts", "SignatureFacts"]

_BYTES = ("signer_cert", "seal_der", "tsa_cert")


@dataclass(frozen=True, slots=True)
class SignatureFacts:
    """One signature dictionary as found in the file."""

    field_name: str | None = None
    kind: str = "signature"  # or "doc_timestamp"
    subfilter: str | None = None
    byte_range: tuple[int, ...] = ()
    structure_error: str | None = None  # set => FORMAT_FAILURE, nothing else is trusted
    coverage: str = "unknown"  # entire_file | entire_revision | partial | unknown
    signed_revision: int | None = None
    revisions_after: int = 0
    modification_level: str | None = None  # none | ltv | form_filling | annotations | other
    changes: tuple[str, ...] = ()  # kinds of later change (verification.pdf.changes.KINDS)
    modification_detail: str = ""
    digest_algorithm: str | None = None
    signature_algorithm: str | None = None
    digest_matches: bool | None = None
    signature_valid: bool | None = None  # None: algorithm not supported
    integrity_detail: str = ""
    signer_cert_bound: bool | None = None  # ESS signing-certificate attribute; None: absent
    signer_cert: bytes | None = None
    certificates: tuple[bytes, ...] = ()
    signer_subject: str | None = None
    signer_issuer: str | None = None
    signer_serial: str | None = None
    signing_time: datetime | None = None  # claimed by the signer (CMS or /M)
    timestamp_time: datetime | None = None  # genTime of the embedded or document token
    licence_id: str | None = None  # signed sealtrust-licenceId attribute
    status_index: int | None = None  # signed sealtrust-statusRef attribute
    licence_type: str | None = None  # from the licence id (docs/licence-id.md)
    # signed sealtrust-licenceValidity attribute: None/None when absent; valid_until
    # None with a valid_from: no end. valid_until is exclusive (the first instant past).
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    seal: str | None = None  # esID of the signed GB/T 38540 seal attribute
    seal_der: bytes | None = None
    # the embedded signature time-stamp (kind "signature"): its integrity is a fact,
    # its TSA chain is judged by the checks at a time
    timestamp_valid: bool | None = None  # None: no token, or an algorithm not supported
    timestamp_detail: str = ""
    tsa_cert: bytes | None = None
    tsa_certificates: tuple[bytes, ...] = ()
    # revocation material embedded in the file (DSS /CRLs, /OCSPs), DER
    revocation_crls: tuple[bytes, ...] = ()
    revocation_ocsps: tuple[bytes, ...] = ()

    def to_dict(self, blob: Callable[[bytes], str] | None = None) -> dict[str, Any]:
        """JSON-ready values; ``blob`` writes each DER value (default: its base64)."""
        write = blob or _base64
        return {name: _jsonable(getattr(self, name), write) for name in _SIGNATURE_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignatureFacts:
        """Inverse of :meth:`to_dict` (stored facts are re-judged, never re-parsed)."""
        values = dict(_known(cls, data))
        try:
            for key in _BYTES:
                if values.get(key) is not None:
                    values[key] = base64.b64decode(values[key], validate=True)
            for key in ("certificates", "tsa_certificates", "revocation_crls",
                        "revocation_ocsps"):
                values[key] = tuple(
                    base64.b64decode(c, validate=True) for c in values.get(key, ())
                )
            values["byte_range"] = tuple(int(v) for v in values.get("byte_range", ()))
            values["changes"] = tuple(str(v) for v in values.get("changes", ()))
            for key in ("signing_time", "timestamp_time", "valid_from", "valid_until"):
                if values.get(key) is not None:
                    values[key] = _aware(values[key])
        except (TypeError, ValueError, binascii.Error) as exc:
            raise InputError(f"malformed stored signature facts: {exc}") from exc
        return cls(**values)


@dataclass(frozen=True, slots=True)
class FileFacts:
    """Facts of one file: its identity, how it was read, and its signatures."""

    name: str
    size: int
    sha256: str
    parser: str  # "fast" | "full" | "none"
    format_error: str | None = None
    revisions: int | None = None
    signatures: tuple[SignatureFacts, ...] = ()
    # SM3 (hex) of the file up to the end of its last signature's revision (the file as
    # its last signer left it; later LTV updates excluded), computed only when the
    # registry is consulted (registered-file check); None otherwise
    sm3: str | None = None

    def to_dict(self, blob: Callable[[bytes], str] | None = None) -> dict[str, Any]:
        """JSON-ready values; ``blob`` writes each DER value (default: its base64)."""
        write = blob or _base64
        return {name: [s.to_dict(write) for s in self.signatures] if name == "signatures"
                else _jsonable(getattr(self, name), write) for name in _FILE_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileFacts:
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        values = dict(_known(cls, data))
        sigs = values.get("signatures", ())
        if not isinstance(sigs, list | tuple):
            raise InputError("stored facts: signatures must be a list")
        values["signatures"] = tuple(SignatureFacts.from_dict(s) for s in sigs)
        return cls(**values)

    def without_parser(self) -> dict[str, Any]:
        """Everything but the parser tag: the fast and full paths must agree on this."""
        data = asdict(self)
        data.pop("parser")
        return data


def _known(cls: type, data: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InputError("stored facts must be a JSON object")
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise InputError(f"unknown keys in stored facts: {sorted(unknown)}")
    return data


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("stored times must carry a timezone")
    return value


_SIGNATURE_FIELDS = tuple(f.name for f in fields(SignatureFacts))
_FILE_FIELDS = tuple(f.name for f in fields(FileFacts))


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _jsonable(value: Any, blob: Callable[[bytes], str]) -> Any:
    if isinstance(value, bytes):
        return blob(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_jsonable(v, blob) for v in value]
    return value
