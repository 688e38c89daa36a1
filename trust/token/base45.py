"""Base45 (RFC 9285): bytes as QR alphanumeric-mode text.

Base45 keeps a QR code in alphanumeric mode (5.5 bits per character), which
is why DCC and SealTrust tokens use it rather than Base64.

    >>> encode(b"ietf!")
    'QED8WEX0'
    >>> decode("QED8WEX0")
    b'ietf!'
"""

from __future__ import annotations

from typing import Final

from trust.token.errors import TokenFormatError

__all__ = ["ALPHABET", "Base45Error", "decode", "encode"]

ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID: Final = 0xFF
# byte -> digit value, 0xFF for bytes outside the alphabet (for bytes.translate).
_TABLE: Final = bytes(ALPHABET.find(chr(i)) if chr(i) in ALPHABET else _INVALID for i in range(256))


class Base45Error(TokenFormatError):
    """Characters outside the alphabet, a dangling character, or a group > 0xFFFF."""

    code = "token.base45"


def encode(data: bytes) -> str:
    """Base45 text of ``data`` (two bytes -> three characters, a last byte -> two)."""
    out: list[str] = []
    alphabet = ALPHABET
    for i in range(0, len(data) - 1, 2):
        n = (data[i] << 8) | data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(alphabet[c] + alphabet[d] + alphabet[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(alphabet[c] + alphabet[d])
    return "".join(out)


def decode(text: str) -> bytes:
    """The bytes of Base45 ``text``; anything non-canonical raises Base45Error.

    It sits on the verification hot path next to the signature check, so the
    per-group sum ``a + 45*b + 2025*c`` runs as three big-integer operations over
    all groups at once: each group's digits sit in their own 3-byte lane (the sum
    is at most 91,124 < 2**24, so lanes never carry into each other), and a lane
    whose top byte is not zero is a group above 0xFFFF.
    """
    if len(text) % 3 == 1:
        raise Base45Error("Base45 text length leaves a dangling character")
    try:
        values = text.encode("ascii").translate(_TABLE)
    except UnicodeEncodeError:
        raise Base45Error("character outside the Base45 alphabet") from None
    if _INVALID in values:
        raise Base45Error("character outside the Base45 alphabet")
    full = len(values) - len(values) % 3
    groups = full // 3
    lane = bytearray(full)
    lane[2::3] = values[0:full:3]
    total = int.from_bytes(lane, "big")
    lane[2::3] = values[1:full:3]
    total += 45 * int.from_bytes(lane, "big")
    lane[2::3] = values[2:full:3]
    total += 2025 * int.from_bytes(lane, "big")
    lanes = total.to_bytes(full, "big")
    if lanes[0::3].count(0) != groups:
        raise Base45Error("Base45 group exceeds 0xFFFF")
    out = bytearray(2 * groups + (full != len(values)))
    out[0:2 * groups:2] = lanes[1::3]
    out[1:2 * groups:2] = lanes[2::3]
    if full != len(values):
        last = values[-2] + 45 * values[-1]
        if last > 0xFF:
            raise Base45Error("final Base45 pair exceeds 0xFF")
        out[-1] = last
    return bytes(out)
