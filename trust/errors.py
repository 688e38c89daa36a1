"""One exception root with stable machine-readable codes.

The CLI maps these to exit codes and the API to HTTP statuses, each in one
place; nothing else needs to know which concrete class was raised.
"""

from __future__ import annotations


class SealTrustError(Exception):
    """Root of every error SealTrust raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InputError(SealTrustError):
    """Malformed or unacceptable input (bad DER, JSON, PDF, QR, arguments)."""

    code = "input.invalid"


class CryptoError(SealTrustError):
    """A cryptographic backend failed or refused to operate."""

    code = "crypto.failure"


class SelfTestError(CryptoError):
    """The start-up known-answer test failed: signing is refused."""

    code = "crypto.self_test_failed"


class TagMismatchError(CryptoError):
    """An authenticated cipher's tag does not match: altered data, or the wrong key or context."""

    code = "crypto.tag_mismatch"


class TrustError(SealTrustError):
    """Certificates, chains, trust lists, seals: something is not trustworthy."""

    code = "trust.failure"


class NotFoundError(SealTrustError):
    """A named object (licence, seal, key, department) does not exist."""

    code = "not_found"


class ConflictError(SealTrustError):
    """The request conflicts with stored state (duplicate, revoked, wrong owner)."""

    code = "conflict"
