"""Typed errors of the seal package, each with a stable dotted code.

Malformed input is an :class:`~trust.errors.InputError` so the CLI and the API
answer it as a client problem; a missing font is an environment fault.
"""

from __future__ import annotations

from trust.errors import InputError, SealTrustError

__all__ = ["SealBuildError", "SealFormatError", "SealImageError"]


class SealFormatError(InputError):
    """A seal or seal signature is not well-formed GB/T 38540 / GM/T 0031 DER."""

    code = "seal.format"


class SealBuildError(InputError):
    """Arguments that would make an invalid or unverifiable seal or seal signature."""

    code = "seal.build"


class SealImageError(SealTrustError):
    """The seal picture cannot be drawn (for example the CJK font is missing)."""

    code = "seal.image"
