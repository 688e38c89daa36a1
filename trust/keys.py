"""The one signing-key contract and the one signature-verification dispatcher.

Certificates, CMS signatures, seals, QR tokens, status lists and audit heads
are all signed through :class:`SigningKey` (implemented by in-memory keys here
and by every HSM adapter) and verified through :func:`verify_signature`, so
adding an algorithm touches exactly two places.

Algorithms and their standard encodings:

- ``sm2``: DER SEQUENCE{r, s} over SM3(Z || M), Z with the GM/T 0009 default ID;
- ``rsa-2048`` / ``rsa-3072``: RSASSA-PKCS1-v1_5 with SHA-256;
- ``ecdsa-p256``: DER ECDSA with SHA-256.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final, Protocol, runtime_checkable

from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from trust import oids, sm2
from trust.errors import CryptoError, InputError

__all__ = [
    "ALGORITHMS",
    "SIGNATURE_OIDS",
    "SigningKey",
    "SoftwareKey",
    "UnsupportedKeyError",
    "algorithm_of_spki",
    "signature_algorithm_oid",
    "sm2_verification_key",
    "verify_signature",
]

ALGORITHMS: Final = ("sm2", "rsa-2048", "rsa-3072", "ecdsa-p256")

# Signature AlgorithmIdentifier OIDs per key algorithm (certificates, CMS, seals).
SIGNATURE_OIDS: Final = {
    "sm2": oids.SM2_WITH_SM3,
    "rsa-2048": "1.2.840.113549.1.1.11",  # sha256WithRSAEncryption
    "rsa-3072": "1.2.840.113549.1.1.11",
    "ecdsa-p256": "1.2.840.10045.4.3.2",  # ecdsa-with-SHA256
}
_RSA_SHA256: Final = "1.2.840.113549.1.1.11"
_RSA_ENCRYPTION: Final = "1.2.840.113549.1.1.1"
_ECDSA_SHA256: Final = "1.2.840.10045.4.3.2"
_SM2_SIG_OIDS: Final = frozenset({oids.SM2_WITH_SM3, oids.SM2_1_SIGN})


class UnsupportedKeyError(InputError):
    """A key or signature algorithm SealTrust does not accept."""

    code = "key.unsupported"


@runtime_checkable
class SigningKey(Protocol):
    """A private key that signs in its algorithm's standard encoding.

    Implementations never expose private key material; ``sign`` may talk to a
    device. ``public_key_der`` is the DER SubjectPublicKeyInfo.
    """

    @property
    def algorithm(self) -> str: ...

    def public_key_der(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


def algorithm_of_spki(spki_der: bytes) -> str:
    """Name the SealTrust algorithm of a SubjectPublicKeyInfo."""
    try:
        info = asn1_keys.PublicKeyInfo.load(spki_der, strict=True)
        alg = info["algorithm"]["algorithm"].native
        if alg == "rsa":
            bits = info["public_key"].parsed["modulus"].native.bit_length()
            if bits in (2048, 3072, 4096):
                return f"rsa-{bits}"
            raise UnsupportedKeyError(f"RSA key of {bits} bits")
        if alg == "ec":
            params = info["algorithm"]["parameters"]
            curve = params.chosen.dotted if params.name == "named" else None
            if curve == oids.SM2P256V1:
                return "sm2"
            if curve == "1.2.840.10045.3.1.7":
                return "ecdsa-p256"
            raise UnsupportedKeyError(f"EC curve {curve} is not accepted")
    except UnsupportedKeyError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise UnsupportedKeyError(f"malformed SubjectPublicKeyInfo: {exc}") from exc
    raise UnsupportedKeyError(f"public key algorithm {alg} is not accepted")


def signature_algorithm_oid(algorithm: str) -> str:
    """The signature AlgorithmIdentifier OID that goes with a key algorithm."""
    try:
        return SIGNATURE_OIDS[algorithm]
    except KeyError:
        raise UnsupportedKeyError(f"unknown key algorithm {algorithm!r}") from None


@lru_cache(maxsize=4096)
def _algorithm_cached(spki_der: bytes) -> str:
    return algorithm_of_spki(spki_der)


@lru_cache(maxsize=4096)
def _sm2_public(spki_der: bytes) -> sm2.PublicKey:
    """Loaded once per key: building the OpenSSL key object costs as much as a verify.

    Entering the cache is where a key is validated: OpenSSL checks the point is
    on the curve (from_der), then ``prepare`` loads it into the fast
    verification backends, which trust keys that passed this gate.
    """
    return sm2.PublicKey.from_der(spki_der).prepare()


def sm2_verification_key(spki_der: bytes, signature_oid: str) -> sm2.PublicKey | None:
    """The cached key :func:`verify_signature` would verify this SM2 signature with, or
    None where it would not reach an SM2 verify (another algorithm, a key it refuses):
    for callers that batch SM2 verifications (``trust.sm2.verify_many``) and must leave
    every other case to :func:`verify_signature` itself."""
    if signature_oid not in _SM2_SIG_OIDS:
        return None
    try:
        if _algorithm_cached(bytes(spki_der)) != "sm2":
            return None
        return _sm2_public(bytes(spki_der))
    except (InputError, CryptoError, ValueError):
        return None


@lru_cache(maxsize=4096)
def _loaded_public(spki_der: bytes) -> Any:
    return serialization.load_der_public_key(spki_der)


def verify_signature(
    spki_der: bytes,
    signature_oid: str,
    message: bytes,
    signature: bytes,
    *,
    sm2_uid: bytes = sm2.DEFAULT_UID,
) -> bool:
    """True iff ``signature`` over ``message`` verifies under the key and algorithm.

    The key algorithm must match the signature algorithm (no RSA key with an
    SM2 OID). Malformed signatures are False, malformed keys raise
    UnsupportedKeyError.
    """
    key_alg = _algorithm_cached(bytes(spki_der))
    if signature_oid in _SM2_SIG_OIDS:
        if key_alg != "sm2":
            return False
        try:
            public_sm2 = _sm2_public(bytes(spki_der))
        except (sm2.KeyFormatError, CryptoError) as exc:  # e.g. a point not on the curve
            raise UnsupportedKeyError(f"cannot load SM2 public key: {exc}") from exc
        try:
            return public_sm2.verify(message, signature, sm2_uid)
        except sm2.SignatureFormatError:
            return False
    try:
        public = _loaded_public(bytes(spki_der))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UnsupportedKeyError(f"cannot load public key: {exc}") from exc
    try:
        if signature_oid == _RSA_SHA256 and isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
        if signature_oid == _ECDSA_SHA256 and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


class SoftwareKey:
    """An in-memory key (demo PKI, tests); HSM adapters implement the same contract."""

    def __init__(
        self, private: sm2.PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    ) -> None:
        self._private = private
        if isinstance(private, sm2.PrivateKey):
            self._algorithm = "sm2"
            self._spki = private.public_key().to_der()
        elif isinstance(private, rsa.RSAPrivateKey):
            if private.key_size not in (2048, 3072, 4096):
                raise UnsupportedKeyError(f"RSA key of {private.key_size} bits")
            self._algorithm = f"rsa-{private.key_size}"
            self._spki = private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        elif isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(
            private.curve, ec.SECP256R1
        ):
            self._algorithm = "ecdsa-p256"
            self._spki = private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        else:
            raise UnsupportedKeyError(f"unsupported private key {type(private).__name__}")

    @classmethod
    def generate(cls, algorithm: str) -> SoftwareKey:
        """A fresh key of ``algorithm`` (one of ALGORITHMS)."""
        if algorithm == "sm2":
            return cls(sm2.PrivateKey.generate())
        if algorithm in ("rsa-2048", "rsa-3072"):
            return cls(rsa.generate_private_key(65537, int(algorithm[4:])))
        if algorithm == "ecdsa-p256":
            return cls(ec.generate_private_key(ec.SECP256R1()))
        raise UnsupportedKeyError(f"unknown key algorithm {algorithm!r}")

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @property
    def private(self) -> sm2.PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
        """The wrapped key (for the software key store's own serialisation only)."""
        return self._private

    def public_key_der(self) -> bytes:
        return self._spki

    def sign(self, message: bytes) -> bytes:
        key = self._private
        if isinstance(key, sm2.PrivateKey):
            return key.sign(message)
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(message, ec.ECDSA(hashes.SHA256()))

    def __repr__(self) -> str:
        return f"SoftwareKey({self._algorithm})"
