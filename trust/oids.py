"""Chinese national algorithm OIDs, registered with asn1crypto exactly once.

asn1crypto ships none of the SM OIDs; pyHanko and certvalidator resolve digest
names with ``getattr(hashes, name.upper())``, so SM3 must be called ``sm3``.
"""

from __future__ import annotations

from typing import Final

from asn1crypto import algos, keys

SM2P256V1: Final = "1.2.156.10197.1.301"
SM2_1_SIGN: Final = "1.2.156.10197.1.301.1"
SM3: Final = "1.2.156.10197.1.401"
HMAC_SM3: Final = "1.2.156.10197.1.401.2"
SM2_WITH_SM3: Final = "1.2.156.10197.1.501"
RSA_WITH_SM3: Final = "1.2.156.10197.1.504"
SM4_CBC: Final = "1.2.156.10197.1.104.2"
GMT0010_DATA: Final = "1.2.156.10197.6.1.4.2.1"
GMT0010_SIGNED_DATA: Final = "1.2.156.10197.6.1.4.2.2"

_registered = False


def _add(mapping_cls: type, oid: str, name: str) -> None:
    mapping_cls._map[oid] = name  # type: ignore[attr-defined]
    reverse = getattr(mapping_cls, "_reverse_map", None)
    if reverse is not None:
        reverse[name] = oid


def register() -> None:
    """Teach asn1crypto the SM OIDs (idempotent)."""
    global _registered
    if _registered:
        return
    _add(algos.DigestAlgorithmId, SM3, "sm3")
    _add(algos.SignedDigestAlgorithmId, SM2_WITH_SM3, "sm2_sm3")
    _add(algos.SignedDigestAlgorithmId, SM2_1_SIGN, "sm2")
    _add(algos.SignedDigestAlgorithmId, RSA_WITH_SM3, "sm3_rsa")
    if SM2P256V1 not in keys.NamedCurve._map:
        keys.NamedCurve.register("sm2p256v1", SM2P256V1, 32)
    _registered = True
