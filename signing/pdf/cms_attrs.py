"""Signed CMS attributes that bind a GB/T 38540 seal to a PDF signature.

The seal travels inside the PAdES CMS as signed attributes under a SealTrust
private OID arc (docs/seal-binding.md), so the signer's own signature covers
it and stock PDF validators keep working: they ignore attributes they do not
know. The attribute value is the DER structure itself (SESeal or
SES_Signature), not wrapped, so a verifier hands ``values[0].dump()`` straight
to the seal parser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from asn1crypto import core
from pyhanko.sign.ades.api import CAdESSignedAttrSpec
from pyhanko.sign.attributes import CMSAttributeProvider

from signing.tsa.signed_data import attribute
from trust.errors import InputError
from trust.pki.oids import (
    ATTR_LICENCE_ID,
    ATTR_LICENCE_VALIDITY,
    ATTR_SEAL,
    ATTR_SES_SIGNATURE,
    ATTR_STATUS_REF,
    SEALTRUST_ARC,
)

__all__ = [
    "CMS_ATTRIBUTE_ARC",
    "LICENCE_ID_ATTR_OID",
    "LICENCE_VALIDITY_ATTR_OID",
    "SEAL_ATTR_OID",
    "SES_SIGNATURE_ATTR_OID",
    "SealBinding",
    "SealBindingError",
    "SesSignatureHook",
    "StatusRef",
    "seal_attributes",
]

# Under SealTrust's UUID arc, declared in trust.pki.oids so verification can use them.
CMS_ATTRIBUTE_ARC: Final = SEALTRUST_ARC + ".3"
SEAL_ATTR_OID: Final = ATTR_SEAL  # value: SESeal (GB/T 38540), DER
SES_SIGNATURE_ATTR_OID: Final = ATTR_SES_SIGNATURE  # value: SES_Signature, DER
LICENCE_ID_ATTR_OID: Final = ATTR_LICENCE_ID  # value: UTF8String licence id
LICENCE_VALIDITY_ATTR_OID: Final = ATTR_LICENCE_VALIDITY  # value: LicenceValidity

# (document digest over the PDF byte ranges, digest algorithm name) -> DER SES_Signature
SesSignatureHook = Callable[[bytes, str], bytes]
_MAX_SEAL_BYTES: Final = 1024 * 1024


class SealBindingError(InputError):
    """The seal bytes or the SES_Signature hook output are not one DER value."""

    code = "pdf_seal.seal_binding"


def _single_der(data: bytes, what: str) -> core.Any:
    """Parse exactly one DER TLV, so the attribute cannot smuggle trailing bytes."""
    if not data or len(data) > _MAX_SEAL_BYTES:
        raise SealBindingError(f"{what} must be 1 byte to 1 MiB of DER")
    try:
        value = core.Any.load(bytes(data), strict=True)
        value.contents  # noqa: B018  (force the header parse)
    except (ValueError, TypeError) as exc:
        raise SealBindingError(f"{what} is not a single DER value: {exc}") from exc
    return value


@dataclass(frozen=True)
class SealBinding:
    """What to bind: the seal (DER SESeal) and optionally an SES_Signature maker.

    ``ses_signature`` is called while the CMS is built, with the digest of the
    signed byte ranges and its algorithm name ('sm3' for SM2 signatures), so
    the SES_Signature's dataHash is the very digest the CMS signs.
    ``ses_signature_reserve`` is the space (bytes) to reserve for its output.
    """

    seal_der: bytes
    ses_signature: SesSignatureHook | None = None
    ses_signature_reserve: int = 0
    # The licence this signature issues, signed with it so a verifier can ask its status,
    # and where that status sits in the issuer's status list (for offline verifiers).
    licence_id: str | None = None
    status_ref: tuple[str, int] | None = None
    # The licence's validity period (from, exclusive end or None: no end), signed so a
    # verifier can refuse an expired licence without asking anyone (docs/seal-binding.md).
    validity: tuple[datetime, datetime | None] | None = None

    def __post_init__(self) -> None:
        _single_der(self.seal_der, "SESeal")
        if self.validity is not None:
            _validity(self.validity)  # refuse a bad period before anything is signed
        if self.licence_id is not None and not 0 < len(self.licence_id.encode()) <= 128:
            raise SealBindingError("licence_id must be 1..128 bytes of UTF-8")
        if self.ses_signature_reserve < 0:
            raise SealBindingError("ses_signature_reserve must not be negative")

    def reserve(self, leaf_cert_len: int) -> int:
        """Bytes these attributes may take in the CMS (for the /Contents size)."""
        extra = 0
        if self.ses_signature is not None:
            # An SES_Signature embeds the seal, the signer certificate and a signature.
            extra = self.ses_signature_reserve or len(self.seal_der) + leaf_cert_len + 1024
        return (len(self.seal_der) + 64 + extra + (160 if self.licence_id else 0)
                + (96 if self.status_ref else 0) + (96 if self.validity else 0))


class StatusRef(core.Sequence):
    """Where a licence's status sits: the issuer's status list id and the bit index."""

    _fields = [("list", core.UTF8String), ("index", core.Integer)]


def _status_ref(ref: tuple[str, int]) -> bytes:
    list_id, index = ref
    if not 0 < len(list_id) <= 32 or not 0 <= index < 2**40:
        raise SealBindingError("status reference: list id of 1..32 characters, index >= 0")
    return StatusRef({"list": list_id, "index": index}).dump()  # type: ignore[no-any-return]


class LicenceValidity(core.Sequence):
    """When a licence is valid: from ``validFrom`` up to (not including) ``validUntil``."""

    _fields = [("validFrom", core.GeneralizedTime),
               ("validUntil", core.GeneralizedTime, {"optional": True})]


def _utc_second(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise SealBindingError("licence validity times must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0)


def _validity(period: tuple[datetime, datetime | None]) -> bytes:
    start, end = period
    value: dict[str, datetime] = {"validFrom": _utc_second(start)}
    if end is not None:
        value["validUntil"] = _utc_second(end)
        if value["validUntil"] <= value["validFrom"]:
            raise SealBindingError("a licence validity period must end after it starts")
    return LicenceValidity(value).dump()  # type: ignore[no-any-return]


def seal_attributes(binding: SealBinding, message_digest: bytes, md_algorithm: str) -> list[bytes]:
    """DER Attributes binding the seal, for the direct CMS builder."""
    attrs = [attribute(SEAL_ATTR_OID, binding.seal_der)]
    if binding.licence_id is not None:
        attrs.append(attribute(LICENCE_ID_ATTR_OID, core.UTF8String(binding.licence_id).dump()))
    if binding.status_ref is not None:
        attrs.append(attribute(ATTR_STATUS_REF, _status_ref(binding.status_ref)))
    if binding.validity is not None:
        attrs.append(attribute(ATTR_LICENCE_VALIDITY, _validity(binding.validity)))
    if binding.ses_signature is not None:
        ses = binding.ses_signature(message_digest, md_algorithm)
        _single_der(ses, "SES_Signature")
        attrs.append(attribute(SES_SIGNATURE_ATTR_OID, bytes(ses)))
    return attrs


class _DerAttribute(CMSAttributeProvider):  # type: ignore[misc]
    def __init__(self, oid: str, make: Callable[[], bytes], what: str) -> None:
        self.attribute_type = oid
        self._make = make
        self._what = what

    async def build_attr_value(self, dry_run: bool = False) -> core.Any:
        return _single_der(self._make(), self._what)


@dataclass(frozen=True)
class SealAttrSpec(CAdESSignedAttrSpec):  # type: ignore[misc]
    """pyHanko's CAdES signed-attribute spec plus the seal attributes (one per call)."""

    binding: SealBinding | None = None

    def prepare_providers(
        self, message_digest: bytes, md_algorithm: str, timestamper: Any = None
    ) -> Iterator[CMSAttributeProvider]:
        yield from super().prepare_providers(message_digest, md_algorithm, timestamper)
        binding = self.binding
        if binding is None:
            return
        seal = binding.seal_der
        yield _DerAttribute(SEAL_ATTR_OID, lambda: seal, "SESeal")
        if binding.licence_id is not None:
            licence = core.UTF8String(binding.licence_id).dump()
            yield _DerAttribute(LICENCE_ID_ATTR_OID, lambda: licence, "licence id")
        if binding.status_ref is not None:
            ref = _status_ref(binding.status_ref)
            yield _DerAttribute(ATTR_STATUS_REF, lambda: ref, "status reference")
        if binding.validity is not None:
            period = _validity(binding.validity)
            yield _DerAttribute(ATTR_LICENCE_VALIDITY, lambda: period, "licence validity")
        hook = binding.ses_signature
        if hook is not None:
            yield _DerAttribute(
                SES_SIGNATURE_ATTR_OID,
                lambda: hook(message_digest, md_algorithm),
                "SES_Signature",
            )
