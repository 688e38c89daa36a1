"""Distinguished names for SealTrust certificates, and the unified social credit code.

Names are written in a fixed order (C, O, OU, organizationIdentifier, CN);
O, OU and CN are UTF8String so Chinese text survives every parser; C is
PrintableString as RFC 5280 requires.

The 18-character unified social credit code (统一社会信用代码, GB 32100-2015)
is carried in ``organizationIdentifier`` (2.5.4.97) in the ETSI EN 319 412-1
§5.1.4 form ``NTRCN-<code>`` ("national trade register, China"), which
European validators already understand; :func:`uscc_of_identifier` also
accepts the bare code that some Chinese CAs write.

    >>> name = SubjectName("示例市市场监督管理局", organization="示例市人民政府",
    ...                    uscc="11330100MB0000001" + uscc_check_char("11330100MB0000001"))
    >>> name.to_asn1().native["organization_identifier"]
    'NTRCN-11330100MB0000001R'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from asn1crypto import x509

from trust import licence_id
from trust.pki.errors import InvalidNameError, InvalidUsccError

__all__ = [
    "SubjectName",
    "is_valid_uscc",
    "uscc_check_char",
    "uscc_of_identifier",
]

# GB 32100-2015: 31 symbols (no I, O, S, V, Z), weights 3^i mod 31.
_NTR_PREFIX: Final = "NTRCN-"
_MAX_COMPONENT: Final = 64  # RFC 5280 ub-common-name / ub-organization-name


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a code.

    The algorithm lives in :mod:`trust.licence_id` (licence ids embed the USCC);
    here its error becomes a name error.
    """
    try:
        return licence_id.uscc_check_char(first17)
    except licence_id.AuthorityCodeError as exc:
        raise InvalidUsccError(
            "a USCC body is 17 characters from 0-9 and A-Y without I O S V Z"
        ) from exc


def is_valid_uscc(code: str) -> bool:
    """True iff ``code`` is 18 characters with a correct GB 32100 check character."""
    return isinstance(code, str) and licence_id.is_valid_uscc(code)


def uscc_of_identifier(value: str | None) -> str | None:
    """The USCC in an organizationIdentifier value (``NTRCN-`` form or bare), else None."""
    if value is None:
        return None
    code = value[len(_NTR_PREFIX) :] if value.startswith(_NTR_PREFIX) else value
    return code if is_valid_uscc(code) else None


def _check_text(label: str, value: str | None) -> None:
    if value is None:
        return
    if not value or len(value) > _MAX_COMPONENT or value != value.strip():
        raise InvalidNameError(f"{label} must be 1-{_MAX_COMPONENT} characters, no edge spaces")


@dataclass(frozen=True, slots=True)
class SubjectName:
    """The name fields SealTrust writes; checked when built so a bad name never gets signed."""

    common_name: str
    organization: str | None = None
    organizational_unit: str | None = None
    uscc: str | None = None
    country: str = "CN"

    def __post_init__(self) -> None:
        _check_text("common name", self.common_name)
        _check_text("organization", self.organization)
        _check_text("organizational unit", self.organizational_unit)
        if self.uscc is not None and not is_valid_uscc(self.uscc):
            raise InvalidUsccError(f"{self.uscc!r} is not a valid unified social credit code")
        if len(self.country) != 2 or not self.country.isascii() or not self.country.isupper():
            raise InvalidNameError("country must be a two-letter upper-case ISO 3166 code")

    def to_asn1(self) -> x509.Name:
        """The X.501 Name, one attribute per RDN, in SealTrust's fixed order."""
        pairs: list[tuple[str, x509.DirectoryString | x509.PrintableString]] = [
            ("country_name", x509.PrintableString(self.country))
        ]
        for attr, value in (
            ("organization_name", self.organization),
            ("organizational_unit_name", self.organizational_unit),
            ("organization_identifier", _NTR_PREFIX + self.uscc if self.uscc else None),
            ("common_name", self.common_name),
        ):
            if value is not None:
                pairs.append((attr, x509.DirectoryString(name="utf8_string", value=value)))
        rdns = [
            x509.RelativeDistinguishedName([x509.NameTypeAndValue({"type": t, "value": v})])
            for t, v in pairs
        ]
        return x509.Name(name="", value=x509.RDNSequence(rdns))
