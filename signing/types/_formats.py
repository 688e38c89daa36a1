"""Check-character formats a type schema can name with ``"format"``.

Patterns alone accept a mistyped number; these formats recompute the check
character the issuing system printed, so a record with a typo is refused
before a licence exists. The vocabulary is fixed here; types only use it.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from jsonschema import FormatChecker

from trust.licence_id import is_valid_uscc

__all__ = [
    "FORMAT_CHECKER",
    "is_valid_resident_id",
    "is_valid_vin",
    "org_code_check_char",
    "resident_id_check_char",
    "vin_check_char",
]

# GB 11643 / ISO 7064 MOD 11-2 weights: 2**(17 - i) mod 11.
_RID_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_VIN_WEIGHTS: Final = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_VALUES: Final = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)


def resident_id_check_char(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2) of a resident ID number."""
    total = sum(int(ch) * w for ch, w in zip(first17, _RID_WEIGHTS, strict=True))
    return "0123456789X"[(12 - total % 11) % 11]


def is_valid_resident_id(text: str) -> bool:
    """18 characters, digits, a real birth date and the right check character."""
    if len(text) != 18 or not text[:17].isdigit() or not text[:17].isascii():
        return False
    try:
        date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    return resident_id_check_char(text[:17]) == text[17]


def vin_check_char(vin: str) -> str:
    """ISO 3779 / GB 16735 check character (position 9) of a 17-character VIN."""
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    return "0123456789X"[total % 11]


def is_valid_vin(text: str) -> bool:
    """17 characters without I, O, Q and a matching check character."""
    if len(text) != 17 or any(ch not in _VIN_VALUES for ch in text):
        return False
    return vin_check_char(text) == text[8]


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character of the 8-character organisation code body."""
    total = sum(int(ch, 36) * w for ch, w in zip(body8, _ORG_WEIGHTS, strict=True))
    return "0123456789X0"[11 - total % 11]


FORMAT_CHECKER: Final = FormatChecker(("date",))
FORMAT_CHECKER.checks("cn-uscc")(lambda value: not isinstance(value, str) or is_valid_uscc(value))
FORMAT_CHECKER.checks("cn-resident-id")(
    lambda value: not isinstance(value, str) or is_valid_resident_id(value)
)
FORMAT_CHECKER.checks("vin")(lambda value: not isinstance(value, str) or is_valid_vin(value))
