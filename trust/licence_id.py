"""The licence identifier, format v1 (``docs/licence-id.md``).

One identifier names a licence on every channel (PDF, QR, API, registry), so
signing formats it and verification parses it; both need the same rules,
hence this module lives in ``trust``. GB/T 36904's layout was not available:
v1 is our own documented format, versioned so it can be mapped later.

    >>> from datetime import date
    >>> text = format_licence_id("BL", "91350100M000100Y43", 42, date(2026, 1, 15))
    >>> text
    'L1-BL-91350100M000100Y43-20260115-00000042-3'
    >>> parse_licence_id(text).sequence
    42

Layout: ``L1-<type>-<authority USCC>-<YYYYMMDD>-<8-digit sequence>-<check>``;
the check character is ISO/IEC 7064 MOD 37-2 over the fields without the
hyphens. Allocating unique sequences is the registry's job, not this module's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from operator import mul
from typing import Final

from trust.errors import InputError

__all__ = [
    "MAX_SEQUENCE",
    "VERSION_PREFIX",
    "AuthorityCodeError",
    "LicenceId",
    "LicenceIdCheckError",
    "LicenceIdError",
    "LicenceIdFormatError",
    "format_licence_id",
    "is_valid_uscc",
    "mod37_2_check_char",
    "parse_licence_id",
    "uscc_check_char",
    "verification_url",
]

VERSION_PREFIX: Final = "L1"
MAX_SEQUENCE: Final = 99_999_999
_SEQUENCE_DIGITS: Final = 8
_MAX_TEXT: Final = 64  # the registry column width; anything longer is refused unparsed

# ISO/IEC 7064 MOD 37-2: the 36 alphanumerics carry values 0..35, "*" is 36
# and may only appear as the check character.
_MOD37_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_MOD37_VALUE: Final = {ch: i for i, ch in enumerate(_MOD37_ALPHABET)}
_MOD37_DATA: Final = re.compile(r"[0-9A-Z]*")

# GB 32100-2015 unified social credit code: 31 characters (no I, O, Z, S, V).
_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE: Final = {ch: i for i, ch in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_TYPE_CODE: Final = re.compile(r"[A-Z][A-Z0-9]{1,5}")
_SHAPE: Final = re.compile(
    r"(?P<version>L[0-9])-(?P<type>[A-Z0-9]+)-(?P<authority>[0-9A-Z]{18})"
    r"-(?P<date>[0-9]{8})-(?P<sequence>[0-9]{8})-(?P<check>[0-9A-Z*])"
)


class LicenceIdError(InputError):
    """The text is not a valid licence identifier (or its parts are unusable)."""

    code = "licence_id.invalid"


class LicenceIdFormatError(LicenceIdError):
    """Wrong length, characters, version or field layout."""

    code = "licence_id.format"


class LicenceIdCheckError(LicenceIdError):
    """The MOD 37-2 check character does not match: a typo or a forgery attempt."""

    code = "licence_id.check_char"


class AuthorityCodeError(LicenceIdError):
    """The issuing-authority code is not an 18-character USCC with a valid check."""

    code = "licence_id.authority"


@dataclass(frozen=True)
class LicenceId:
    """A parsed, valid v1 identifier; build it with :func:`parse_licence_id`."""

    type_code: str
    authority: str
    issued_on: date
    sequence: int
    check: str
    version: str = VERSION_PREFIX

    @property
    def text(self) -> str:
        """The canonical printed form."""
        day = self.issued_on
        return (
            f"{self.version}-{self.type_code}-{self.authority}-"
            f"{day.year:04d}{day.month:02d}{day.day:02d}-"
            f"{self.sequence:0{_SEQUENCE_DIGITS}d}-{self.check}"
        )

    def __str__(self) -> str:
        return self.text


def mod37_2_check_char(data: str) -> str:
    """ISO/IEC 7064 MOD 37-2 check character of ``data`` (digits and A-Z).

    A pure system with a prime modulus: every single substitution and every
    adjacent transposition changes the residue, so both are always detected.
    """
    if _MOD37_DATA.fullmatch(data) is None:
        bad = next(ch for ch in data if _MOD37_VALUE.get(ch, 36) == 36)
        raise LicenceIdFormatError(f"character {bad!r} is not allowed in a licence identifier")
    # the recurrence t = (t + v) * 2 mod 37 over n characters is the sum of v_i * 2^(n-i)
    total = sum(map(mul, map(_MOD37_VALUE.__getitem__, data), _mod37_weights(len(data))))
    return _MOD37_ALPHABET[(38 - total % 37) % 37]


@lru_cache(maxsize=64)
def _mod37_weights(n: int) -> tuple[int, ...]:
    """2^(n-i) mod 37 for i = 0..n-1: the weight of each position in MOD 37-2."""
    return tuple(pow(2, n - i, 37) for i in range(n))


@lru_cache(maxsize=1024)
def uscc_check_char(first17: str) -> str:
    """GB 32100 check character for the first 17 characters of a USCC (remembered: a
    verifier checks the same few departments' codes in every licence id and seal id)."""
    if len(first17) != 17:
        raise AuthorityCodeError("a USCC has 17 characters before its check character")
    total = 0
    for ch, weight in zip(first17, _USCC_WEIGHTS, strict=True):
        value = _USCC_VALUE.get(ch)
        if value is None:
            raise AuthorityCodeError(f"character {ch!r} is not allowed in a USCC")
        total += value * weight
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(text: str) -> bool:
    """True when ``text`` is an 18-character USCC whose check character is right."""
    if len(text) != 18:
        return False
    try:
        return uscc_check_char(text[:17]) == text[17]
    except AuthorityCodeError:
        return False


def _check_authority(authority: str) -> None:
    if len(authority) != 18:
        raise AuthorityCodeError(
            f"issuing-authority code must be an 18-character USCC, got {len(authority)} characters"
        )
    if uscc_check_char(authority[:17]) != authority[17]:
        raise AuthorityCodeError(f"USCC {authority} has a wrong check character")


def _check_type_code(type_code: str) -> None:
    if not _TYPE_CODE.fullmatch(type_code):
        raise LicenceIdFormatError(
            f"type code {type_code!r} must be 2-6 characters A-Z/0-9 starting with a letter"
        )


def _payload(type_code: str, authority: str, issued_on: date, sequence: int) -> str:
    day = f"{issued_on.year:04d}{issued_on.month:02d}{issued_on.day:02d}"
    return f"{VERSION_PREFIX}{type_code}{authority}{day}{sequence:08d}"


def format_licence_id(type_code: str, authority_uscc: str, sequence: int, issued_on: date) -> str:
    """The canonical v1 identifier; ``sequence`` comes from the registry's counter."""
    _check_type_code(type_code)
    _check_authority(authority_uscc)
    if isinstance(issued_on, datetime) or not isinstance(issued_on, date):
        raise LicenceIdFormatError("issued_on must be a calendar date, not a datetime")
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise LicenceIdFormatError("sequence must be an integer")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise LicenceIdFormatError(f"sequence {sequence} outside 1..{MAX_SEQUENCE}")
    if not 1000 <= issued_on.year <= 9999:
        raise LicenceIdFormatError("issue year must have four digits")
    check = mod37_2_check_char(_payload(type_code, authority_uscc, issued_on, sequence))
    return LicenceId(type_code, authority_uscc, issued_on, sequence, check).text


def parse_licence_id(text: str) -> LicenceId:
    """Parse and fully validate an identifier (surrounding spaces and case are forgiven)."""
    if not isinstance(text, str):
        raise LicenceIdFormatError("a licence identifier is text")
    if len(text) > _MAX_TEXT:
        raise LicenceIdFormatError(f"a licence identifier has at most {_MAX_TEXT} characters")
    canonical = text.strip().upper()
    match = _SHAPE.fullmatch(canonical)
    if match is None:
        raise LicenceIdFormatError(
            "expected L1-<type>-<18-char USCC>-<YYYYMMDD>-<8-digit sequence>-<check>"
        )
    if match["version"] != VERSION_PREFIX:
        raise LicenceIdFormatError(f"unsupported identifier version {match['version']}")
    type_code, authority = match["type"], match["authority"]
    _check_type_code(type_code)
    digits = match["date"]  # eight ASCII digits (the shape): as strptime("%Y%m%d") reads them
    try:
        issued_on = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise LicenceIdFormatError(f"{match['date']} is not a calendar date") from None
    if issued_on.year < 1000:
        raise LicenceIdFormatError("issue year must have four digits")
    sequence = int(match["sequence"])
    if sequence == 0:
        raise LicenceIdFormatError("sequence 0 is never allocated")
    # The check covers the characters as written (never a re-formatting of
    # them), and comes first: a typo anywhere, even in the USCC, reads as one.
    payload = f"{VERSION_PREFIX}{type_code}{authority}{match['date']}{match['sequence']}"
    check = mod37_2_check_char(payload)
    if check != match["check"]:
        raise LicenceIdCheckError("licence identifier check character does not match")
    _check_authority(authority)
    return LicenceId(type_code, authority, issued_on, sequence, check)


def verification_url(base_url: str, licence_id: str) -> str:
    """The interim QR payload: ``<base_url>/v/<id>`` until the signed QR token exists."""
    parsed = parse_licence_id(licence_id)
    return f"{base_url.rstrip('/')}/v/{parsed.text}"
