"""SM2 over PKCS#11: vendor-defined mechanisms described as data.

PKCS#11 has no standard SM2 mechanism. Vendors differ in the mechanism id,
the key type, what the device hashes and whether r, s come back raw (r||s)
or DER. A profile states all four; :meth:`Sm2Profile.prepare` builds what the
device must be given and :meth:`Sm2Profile.to_der` normalises what it returns.

Hashing modes:

- ``host-e``: the host computes e = SM3(Z || M) (Z with the configured user
  ID); the device signs e as is (raw SM2 sign mechanisms);
- ``host-z``: the host sends Z || M and the device computes SM3 over it;
- ``device``: the device computes Z with its built-in default ID and SM3;
  only valid with the GM/T 0009 default ID, so other IDs are refused.

The values come from vendor documentation as collected in the project's
standards notes; none is proven on hardware here (no free token does SM2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from trust import sm2, sm3
from trust.errors import InputError

__all__ = ["PROFILES", "Sm2Profile", "profile"]

Hashing = Literal["host-e", "host-z", "device"]
Output = Literal["raw", "der"]


@dataclass(frozen=True)
class Sm2Profile:
    """One vendor's SM2 signing convention."""

    name: str
    mechanism: int
    key_type: int | None
    hashing: Hashing
    output: Output

    def __post_init__(self) -> None:
        if self.hashing not in ("host-e", "host-z", "device"):
            raise ValueError(f"unknown hashing mode {self.hashing!r}")
        if self.output not in ("raw", "der"):
            raise ValueError(f"unknown output form {self.output!r}")

    def prepare(self, point: bytes, message: bytes, uid: bytes) -> bytes:
        """The bytes to pass to C_Sign for ``message`` under public ``point`` and ``uid``."""
        if self.hashing == "host-e":
            return sm3.e_value(point, message, uid)
        if self.hashing == "host-z":
            return sm3.z_value(point, uid) + message
        if uid != sm2.DEFAULT_UID:
            raise InputError(f"profile {self.name} hashes on the device with the default "
                             "user ID; another ID cannot be used", code="keystore.sm2_uid")
        return message

    def to_der(self, output: bytes) -> bytes:
        """DER SEQUENCE{r, s} from the device output, strictly checked."""
        if self.output == "raw":
            return sm2.raw_to_der(output)
        r, s = sm2.decode_der(output)
        return sm2.encode_der(r, s)


# Vendor values per docs/hsm.md; TASS key type from its SDK, Sansec and IBM from theirs.
CKK_TASS_SM2: Final = 0x80000004
PROFILES: Final = {
    "tass": Sm2Profile("tass", 0x80008100, CKK_TASS_SM2, "device", "raw"),
    "sansec": Sm2Profile("sansec", 0x80008104, None, "host-e", "raw"),
    "sansec-sm3": Sm2Profile("sansec-sm3", 0x80008100, None, "host-z", "raw"),
    "sansec-sm3-z": Sm2Profile("sansec-sm3-z", 0x80008102, None, "device", "raw"),
    "ibm": Sm2Profile("ibm", 0x8005000C, None, "device", "der"),
}


def profile(name: str) -> Sm2Profile:
    """A built-in profile by name."""
    try:
        return PROFILES[name]
    except KeyError:
        raise InputError(f"unknown SM2 PKCS#11 profile {name!r}; known: "
                         f"{', '.join(sorted(PROFILES))}", code="keystore.profile") from None
