"""PEM armour for certificates and certificate bundles.

Only ``CERTIFICATE`` blocks are accepted: a bundle that smuggles a private key
or anything else is rejected rather than silently skipped.
"""

from __future__ import annotations

from typing import Final

from asn1crypto import pem

from trust.pki.errors import CertificateFormatError

__all__ = ["MAX_PEM_SIZE", "pem_certificates", "to_pem_bundle"]

MAX_PEM_SIZE: Final = 4 * 1024 * 1024


def pem_certificates(data: bytes | str) -> list[bytes]:
    """The DER of every ``CERTIFICATE`` block in ``data``, in order."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_PEM_SIZE:
        raise CertificateFormatError(f"PEM input larger than {MAX_PEM_SIZE} bytes")
    if not pem.detect(raw):
        raise CertificateFormatError("no PEM block found")
    blocks: list[bytes] = []
    try:
        for label, _headers, der in pem.unarmor(raw, multiple=True):
            if label != "CERTIFICATE":
                raise CertificateFormatError(f"unexpected PEM block {label!r}")
            blocks.append(der)
    except (ValueError, TypeError) as exc:
        raise CertificateFormatError(f"malformed PEM: {exc}") from None
    return blocks


def to_pem_bundle(ders: list[bytes] | tuple[bytes, ...]) -> str:
    """Concatenated PEM blocks, e.g. an ``openssl verify -untrusted`` file."""
    return "".join(pem.armor("CERTIFICATE", der).decode("ascii") for der in ders)
