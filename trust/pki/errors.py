"""Typed errors of the certificate layer, each with a stable dotted code.

Chain *outcomes* are not errors (they are :class:`trust.pki.chain.ChainResult`);
these are raised for input the layer cannot even judge.
"""

from __future__ import annotations

from datetime import datetime

from trust.errors import InputError

__all__ = [
    "CertificateBuildError",
    "CertificateFormatError",
    "InvalidNameError",
    "InvalidUsccError",
    "NaiveDatetimeError",
    "require_aware",
]


class CertificateFormatError(InputError):
    """Bytes that are not one well-formed X.509 v1-v3 certificate (DER or PEM)."""

    code = "pki.certificate_format"


class CertificateBuildError(InputError):
    """A certificate request that would produce a wrong or unverifiable certificate."""

    code = "pki.certificate_build"


class NaiveDatetimeError(InputError):
    """A datetime without a timezone: trust decisions need an unambiguous instant."""

    code = "pki.naive_datetime"


class InvalidNameError(InputError):
    """A subject name field that is empty, too long or otherwise unfit to sign."""

    code = "pki.name_invalid"


class InvalidUsccError(InputError):
    """Not an 18-character unified social credit code with a correct check character."""

    code = "pki.uscc_invalid"


def require_aware(value: object, what: str) -> None:
    """Raise unless ``value`` is a timezone-aware datetime (naive times are ambiguous)."""
    if not isinstance(value, datetime):
        raise NaiveDatetimeError(f"{what} must be a timezone-aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{what} is a naive datetime; give it a timezone")
