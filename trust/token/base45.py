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
# The low byte of every 3-byte lane, for the lanes of any token (a longer mask costs
# nothing: and-ing keeps the shorter operand's length); longer text builds its own.
_MASK_LANES: Final = 4096 // 3 + 1
_LANE_LOW: Final = int.from_bytes(b"\x00\x00\xff" * _MASK_LANES, "big")


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
    per-group sum ``a + 45*b + 2025*c`` runs as a handful of big-integer
    operations over all groups at once: the digit values, read as one big-endian
    integer, hold each group in its own 3-byte lane; masks pick the a, b and c
    bytes of every lane, and the weighted sum of the three stays in its lane (it
    is at most 91,124 < 2**24, so lanes never carry into each other). A lane
    whose top byte is not zero is a group above 0xFFFF; deleting every lane's
    top byte leaves the decoded bytes.
    """
    if len(text) % 3 == 1:
        raise Base45Error("Base45 text length leaves a dangling character")
    try:
        values = text.encode("ascii").translate(_TABLE)
    except UnicodeEncodeError:
        raise Base45Error("character outside the Base45 alphabet") from None
    if _INVALID in values:
        raise Base45Error("character outside the Base45 alphabet")
    size = len(values)
    full = size - size % 3
    packed = int.from_bytes(values, "big")
    if full != size:
        packed >>= 16  # the final pair is decoded on its own below
    low = _LANE_LOW if full <= 3 * _MASK_LANES else int.from_bytes(
        b"\x00\x00\xff" * (full // 3), "big")
    total = (packed >> 16 & low) + 45 * (packed >> 8 & low) + 2025 * (packed & low)
    if total >> 16 & low:
        raise Base45Error("Base45 group exceeds 0xFFFF")
    out = bytearray(total.to_bytes(full, "big"))
    del out[0::3]  # each lane's top byte, zero as just checked
    if full != size:
        last = values[-2] + 45 * values[-1]
        if last > 0xFF:
            raise Base45Error("final Base45 pair exceeds 0xFF")
        out.append(last)
    return bytes(out)
