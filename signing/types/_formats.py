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
    "is_valid_disability_number",
    "is_valid_discharge_permit",
    "is_valid_patent_number",
    "is_valid_resident_id",
    "is_valid_vin",
    "org_code_check_char",
    "patent_check_char",
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
_PATENT_WEIGHTS: Final = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


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


def patent_check_char(digits: str) -> str:
    """Check character of a CNIPA application number (8 digits before 2004, 12 since):
    digits weighted 2..9, 2..5, sum mod 11, 10 written X."""
    total = sum(int(ch) * w for ch, w in zip(digits, _PATENT_WEIGHTS, strict=False))
    return "0123456789X"[total % 11]


def is_valid_patent_number(text: str) -> bool:
    """``ZL`` + 12-digit application number + ``.`` + its check character."""
    if len(text) != 16 or not text.startswith("ZL") or text[14] != ".":
        return False
    digits = text[2:14]
    if not (digits.isdigit() and digits.isascii()) or digits[4] not in "12389":
        return False
    return patent_check_char(digits) == text[15]


def is_valid_disability_number(text: str) -> bool:
    """残疾人证号: the holder's resident ID number, the category (1..7), the grade (1..4)."""
    return (len(text) == 20 and is_valid_resident_id(text[:18]) and text[18] in "1234567"
            and text[19] in "1234")


def is_valid_discharge_permit(text: str) -> bool:
    """排污许可证编号 (HJ 608): the unit's USCC, a 3-digit site number and ``P``."""
    return (len(text) == 22 and is_valid_uscc(text[:18]) and text[18:21].isdigit()
            and text[18:21].isascii() and text[21] == "P")


FORMAT_CHECKER: Final = FormatChecker(("date",))
FORMAT_CHECKER.checks("cn-uscc")(lambda value: not isinstance(value, str) or is_valid_uscc(value))
FORMAT_CHECKER.checks("cn-resident-id")(
    lambda value: not isinstance(value, str) or is_valid_resident_id(value)
)
FORMAT_CHECKER.checks("vin")(lambda value: not isinstance(value, str) or is_valid_vin(value))
FORMAT_CHECKER.checks("cn-patent")(
    lambda value: not isinstance(value, str) or is_valid_patent_number(value)
)
FORMAT_CHECKER.checks("cn-disability-number")(
    lambda value: not isinstance(value, str) or is_valid_disability_number(value)
)
FORMAT_CHECKER.checks("cn-discharge-permit")(
    lambda value: not isinstance(value, str) or is_valid_discharge_permit(value)
)
