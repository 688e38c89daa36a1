"""SM2 signatures (GM/T 0003) at OpenSSL speed.

The fast path is OpenSSL's C implementation in the system libcrypto, called
through ctypes (``trust._sm2_openssl``); where libcrypto lacks SM2 the slow,
pure-Python PyPI ``gmssl`` takes over (``trust._sm2_gmssl``). Either backend
must pass the GM/T 0003.5 Annex A known-answer test before the first
signature; if it fails, signing is refused with :class:`SelfTestError`.

    >>> key = PrivateKey.generate()
    >>> sig = key.sign(b"licence bytes")
    >>> key.public_key().verify(b"licence bytes", sig)
    True

Signatures are DER ``SEQUENCE { INTEGER r, INTEGER s }`` over SM3(Z || M), with
Z computed from the signer's public key and user ID (default
``1234567812345678``, GM/T 0009).
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from typing import Final, Protocol

from asn1crypto import keys

from trust import oids, sm3
from trust.errors import CryptoError, InputError, SelfTestError

__all__ = [
    "DEFAULT_UID",
    "MAX_UID",
    "Backend",
    "KeyFormatError",
    "N",
    "PrivateKey",
    "PublicKey",
    "SelfTestResult",
    "SignatureFormatError",
    "backend_name",
    "decode_der",
    "der_to_raw",
    "encode_der",
    "get_backend",
    "raw_to_der",
    "self_test",
    "use_backend",
]

DEFAULT_UID: Final = b"1234567812345678"
_EC_FIELDS: Final = frozenset({"version", "private_key", "parameters", "public_key"})
N: Final = sm3.N
MAX_DER_SIGNATURE: Final = 72
# ENTL (the ID's bit length, 16 bits) allows 8191 bytes, but OpenSSL refuses
# id_len >= 8191; one limit for every backend keeps keys portable.
MAX_UID: Final = 0xFFFF // 8 - 1


class SignatureFormatError(InputError):
    """A signature is not a strict DER SEQUENCE of two INTEGERs (or not 64 raw bytes)."""

    code = "sm2.signature_format"


class KeyFormatError(InputError):
    """A key encoding is malformed or is not an SM2 key."""

    code = "sm2.key_format"


def _uid(uid: bytes) -> bytes:
    """The ID as bytes; too long for ENTL is the caller's error on every backend alike."""
    uid = bytes(uid)
    if len(uid) > MAX_UID:
        raise InputError(f"SM2 user ID longer than {MAX_UID} bytes", code="sm2.uid")
    return uid


# --------------------------------------------------------------------------
# Signature encodings
# --------------------------------------------------------------------------


def _der_len(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else bytes([0x81, n])


def _der_int(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return b"\x02" + _der_len(len(body)) + body


def encode_der(r: int, s: int) -> bytes:
    """DER SEQUENCE{r, s} for 0 < r, s < 2**256."""
    if not (0 < r < 1 << 256 and 0 < s < 1 << 256):
        raise SignatureFormatError("r and s must be positive 256-bit integers")
    body = _der_int(r) + _der_int(s)
    return b"\x30" + _der_len(len(body)) + body


def _read_int(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 2 > len(data) or data[pos] != 0x02:
        raise SignatureFormatError("expected an INTEGER")
    length = data[pos + 1]
    if length == 0 or length > 33:
        raise SignatureFormatError("INTEGER length out of range")
    start, end = pos + 2, pos + 2 + length
    if end > len(data):
        raise SignatureFormatError("INTEGER runs past the end")
    body = data[start:end]
    if body[0] & 0x80:
        raise SignatureFormatError("negative INTEGER")
    if length > 1 and body[0] == 0 and not body[1] & 0x80:
        raise SignatureFormatError("INTEGER is not minimally encoded")
    return int.from_bytes(body, "big"), end


def decode_der(signature: bytes) -> tuple[int, int]:
    """Strictly parse DER SEQUENCE{r, s}; anything else raises SignatureFormatError."""
    if not isinstance(signature, bytes | bytearray | memoryview):
        raise SignatureFormatError("signature must be bytes")
    data = bytes(signature)
    if len(data) < 8 or len(data) > MAX_DER_SIGNATURE:
        raise SignatureFormatError(f"DER signature of {len(data)} bytes (expected 8..72)")
    if data[0] != 0x30:
        raise SignatureFormatError("signature is not a DER SEQUENCE")
    if data[1] & 0x80:
        if data[1] != 0x81 or data[2] < 0x80:
            raise SignatureFormatError("bad SEQUENCE length")
        seq_len, pos = data[2], 3
    else:
        seq_len, pos = data[1], 2
    if pos + seq_len != len(data):
        raise SignatureFormatError("SEQUENCE length does not match the signature size")
    r, pos = _read_int(data, pos)
    s, pos = _read_int(data, pos)
    if pos != len(data):
        raise SignatureFormatError("trailing data after s")
    return r, s


def der_to_raw(signature: bytes) -> bytes:
    """DER SEQUENCE{r, s} -> 64-byte r||s (what SDF devices and QR tokens carry)."""
    r, s = decode_der(signature)
    if r >= 1 << 256 or s >= 1 << 256:
        raise SignatureFormatError("r or s longer than 256 bits")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def raw_to_der(raw: bytes) -> bytes:
    """64-byte r||s -> DER SEQUENCE{r, s}."""
    if len(raw) != 64:
        raise SignatureFormatError(f"raw SM2 signature must be 64 bytes, got {len(raw)}")
    return encode_der(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


# --------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------


class Backend(Protocol):
    """What a backend provides; key handles are opaque to callers."""

    name: str

    def load_private(self, scalar: bytes) -> tuple[object, bytes]:
        """Return (handle, 65-byte public point) for a 32-byte scalar."""
        ...

    def load_public(self, point: bytes) -> object: ...

    def sign(self, handle: object, message: bytes, uid: bytes) -> bytes:
        """DER signature over SM3(Z || message)."""
        ...

    def verify(self, handle: object, message: bytes, r: int, s: int, uid: bytes) -> bool: ...


# GM/T 0003.5 Annex A (also OpenSSL test/sm2_internal_test.c); kept here so
# the self-test needs no files at run time.
_KAT_D: Final = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
_KAT_PUB: Final = (
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
_KAT_R: Final = int("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3", 16)
_KAT_S: Final = int("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA", 16)
_KAT_MSG: Final = b"message digest"


@dataclass(frozen=True)
class SelfTestResult:
    """Outcome of the known-answer test of one backend."""

    backend: str
    passed: bool
    detail: str


def run_self_test(backend: Backend) -> SelfTestResult:
    """Known-answer test: Annex A public key derivation and signature, plus a pairwise test."""
    try:
        handle, point = backend.load_private(bytes.fromhex(_KAT_D))
        if point != bytes.fromhex(_KAT_PUB):
            return SelfTestResult(backend.name, False, "public key derivation mismatch")
        pub = backend.load_public(point)
        if not backend.verify(pub, _KAT_MSG, _KAT_R, _KAT_S, DEFAULT_UID):
            return SelfTestResult(backend.name, False, "Annex A signature did not verify")
        if backend.verify(pub, _KAT_MSG, _KAT_R, _KAT_S, b""):
            return SelfTestResult(backend.name, False, "Annex A signature verified with empty ID")
        if backend.verify(pub, _KAT_MSG + b"!", _KAT_R, _KAT_S, DEFAULT_UID):
            return SelfTestResult(backend.name, False, "tampered message verified")
        sig = backend.sign(handle, _KAT_MSG, DEFAULT_UID)
        r, s = decode_der(sig)
        if not backend.verify(pub, _KAT_MSG, r, s, DEFAULT_UID):
            return SelfTestResult(backend.name, False, "pairwise sign/verify failed")
    except Exception as exc:  # noqa: BLE001 - a broken backend may raise anything: that is a failure
        return SelfTestResult(backend.name, False, f"{type(exc).__name__}: {exc}")
    return SelfTestResult(backend.name, True, "GM/T 0003.5 Annex A vector and pairwise test")


_lock = threading.Lock()
_backend: Backend | None = None
_self_test: SelfTestResult | None = None


def _load_backend(name: str) -> Backend:
    if name == "openssl":
        from trust import _sm2_openssl

        return _sm2_openssl.OpenSSLBackend()
    if name == "gmssl":
        from trust import _sm2_gmssl

        return _sm2_gmssl.GmsslBackend()
    raise CryptoError(f"unknown SM2 backend {name!r} (expected 'openssl' or 'gmssl')")


def _select() -> tuple[Backend, SelfTestResult]:
    forced = os.environ.get("SEALTRUST_SM2_BACKEND", "").strip().lower()
    candidates = [forced] if forced else ["openssl", "gmssl"]
    failures: list[str] = []
    last: tuple[Backend, SelfTestResult] | None = None
    for name in candidates:
        try:
            backend = _load_backend(name)
        except (OSError, ImportError, CryptoError) as exc:
            failures.append(f"{name}: {exc}")
            continue
        result = run_self_test(backend)
        if result.passed:
            return backend, result
        failures.append(f"{name}: {result.detail}")
        last = (backend, result)
    if last is not None:
        return last
    raise CryptoError("no SM2 backend available: " + "; ".join(failures))


def get_backend() -> Backend:
    """The selected backend (self-test run once, on first use)."""
    global _backend, _self_test
    if _backend is None:
        with _lock:
            if _backend is None:
                _backend, _self_test = _select()
    return _backend


def self_test() -> SelfTestResult:
    """Result of the start-up known-answer test of the selected backend."""
    get_backend()
    assert _self_test is not None
    return _self_test


def backend_name() -> str:
    """``openssl`` or ``gmssl``."""
    return get_backend().name


def use_backend(name: str) -> None:
    """Switch backend (tests, ``doctor``); runs the self-test of the new one."""
    _install_backend(_load_backend(name))


def _install_backend(backend: Backend) -> SelfTestResult:
    """Make ``backend`` current after running its self-test (also the test hook for fakes)."""
    global _backend, _self_test
    result = run_self_test(backend)
    with _lock:
        _backend, _self_test = backend, result
    return result


def _require_signing_backend() -> Backend:
    backend = get_backend()
    if _self_test is None or not _self_test.passed:
        detail = _self_test.detail if _self_test else "not run"
        raise SelfTestError(f"SM2 self-test failed ({backend.name}): {detail}; signing refused")
    return backend


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------

_SM2_ALG = keys.PublicKeyAlgorithm(
    {
        "algorithm": "ec",
        "parameters": keys.ECDomainParameters(name="named", value=oids.SM2P256V1),
    }
)


# What asn1crypto may raise on hostile DER besides ValueError (seen under fuzzing).
_ASN1_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


def _require_sm2_curve(params: object) -> None:
    """Accept only the named curve sm2p256v1 (no explicit or implicit parameters)."""
    if getattr(params, "name", None) != "named":
        raise KeyFormatError("EC key parameters are not a named curve")
    if getattr(getattr(params, "chosen", None), "dotted", None) != oids.SM2P256V1:
        raise KeyFormatError("EC key is not on the sm2p256v1 curve")


def _spki_der(point: bytes) -> bytes:
    return keys.PublicKeyInfo({"algorithm": _SM2_ALG, "public_key": point}).dump()  # type: ignore[no-any-return]


class PublicKey:
    """An SM2 public key; verification is thread-safe."""

    __slots__ = ("_handles", "point")

    def __init__(self, point: bytes) -> None:
        self.point = point
        self._handles: dict[str, object] = {}

    def _handle(self, backend: Backend) -> object:
        handle = self._handles.get(backend.name)
        if handle is None:
            handle = backend.load_public(self.point)
            self._handles[backend.name] = handle
        return handle

    @classmethod
    def from_point(cls, point: bytes) -> PublicKey:
        """From the 65-byte uncompressed point 04||X||Y (checked to be on the curve)."""
        point = bytes(point)
        if len(point) != 65 or point[0] != 4:
            raise KeyFormatError("SM2 public point must be 65 bytes starting with 04")
        key = cls(point)
        try:
            key._handle(get_backend())
        except CryptoError as exc:
            raise KeyFormatError(f"not a point on sm2p256v1: {exc}") from exc
        return key

    @classmethod
    def from_der(cls, spki_der: bytes) -> PublicKey:
        """From a DER SubjectPublicKeyInfo (id-ecPublicKey, sm2p256v1)."""
        try:
            info = keys.PublicKeyInfo.load(bytes(spki_der), strict=True)
            alg = info["algorithm"]
            if alg["algorithm"].native != "ec":
                raise KeyFormatError("not an EC public key")
            _require_sm2_curve(alg["parameters"])
            point = info["public_key"].native
        except KeyFormatError:
            raise
        except _ASN1_ERRORS as exc:
            raise KeyFormatError(f"malformed SubjectPublicKeyInfo: {exc}") from exc
        if not isinstance(point, bytes):
            raise KeyFormatError("malformed SubjectPublicKeyInfo: no EC point")
        return cls.from_point(point)

    def to_der(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        return _spki_der(self.point)

    def verify(self, message: bytes, signature_der: bytes, uid: bytes = DEFAULT_UID) -> bool:
        """True iff ``signature_der`` is a valid SM2 signature of ``message`` under ``uid``.

        Malformed DER raises SignatureFormatError; r or s outside [1, n-1] is False.
        """
        r, s = decode_der(signature_der)
        if not (0 < r < N and 0 < s < N):
            return False
        backend = get_backend()
        return backend.verify(self._handle(backend), bytes(message), r, s, _uid(uid))

    def verify_raw(self, message: bytes, raw: bytes, uid: bytes = DEFAULT_UID) -> bool:
        """Verify a 64-byte r||s signature."""
        if len(raw) != 64:
            raise SignatureFormatError(f"raw SM2 signature must be 64 bytes, got {len(raw)}")
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        if not (0 < r < N and 0 < s < N):
            return False
        backend = get_backend()
        return backend.verify(self._handle(backend), bytes(message), r, s, _uid(uid))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.point == self.point

    def __hash__(self) -> int:
        return hash(self.point)

    def __repr__(self) -> str:
        return f"sm2.PublicKey({self.point[1:9].hex()}...)"


class PrivateKey:
    """An SM2 private key held in process memory (the software key store's keys)."""

    __slots__ = ("_handle", "_public", "_scalar")

    def __init__(self, scalar: bytes, handle: object, point: bytes) -> None:
        self._scalar = scalar
        self._handle = handle
        self._public = PublicKey(point)

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key with d uniform in [1, n-2] from the OS CSPRNG."""
        return cls.from_scalar(secrets.randbelow(N - 2) + 1)

    @classmethod
    def from_scalar(cls, scalar: int | bytes) -> PrivateKey:
        """From d as an int or 32 big-endian bytes; d must lie in [1, n-2]."""
        if isinstance(scalar, bytes | bytearray):
            if len(scalar) != 32:
                raise KeyFormatError("SM2 private scalar must be 32 bytes")
            d = int.from_bytes(scalar, "big")
        elif isinstance(scalar, int):
            d = scalar
        else:
            raise KeyFormatError("SM2 private scalar must be int or bytes")
        if not 1 <= d <= N - 2:
            raise KeyFormatError("SM2 private scalar out of range [1, n-2]")
        raw = d.to_bytes(32, "big")
        handle, point = get_backend().load_private(raw)
        return cls(raw, handle, point)

    @classmethod
    def from_der(cls, pkcs8_der: bytes, password: bytes | None = None) -> PrivateKey:
        """From DER PKCS#8 (encrypted when ``password`` is given) or SEC1 ECPrivateKey.

        An embedded public key must match the scalar: a mismatched one would
        make certificates and signatures disagree later, far from the cause.
        """
        from trust import pkcs8

        plain = pkcs8.decrypt(pkcs8_der, password) if password is not None else pkcs8_der
        try:
            try:
                info = keys.PrivateKeyInfo.load(bytes(plain), strict=True)
                if info["private_key_algorithm"]["algorithm"].native != "ec":
                    raise KeyFormatError("PKCS#8 key is not an EC key")
                _require_sm2_curve(info["private_key_algorithm"]["parameters"])
                # Re-load the inner ECPrivateKey strictly: ``.parsed`` tolerates trailing
                # bytes, which let a corrupted key file drop its public key unnoticed.
                ec = keys.ECPrivateKey.load(info["private_key"].contents, strict=True)
            except ValueError:
                ec = keys.ECPrivateKey.load(bytes(plain), strict=True)
                _require_sm2_curve(ec["parameters"])
            if not set(ec.native) <= _EC_FIELDS:  # asn1crypto keeps unknown children
                raise KeyFormatError("unexpected fields in the SM2 private key")
            d = ec["private_key"].native
            embedded = ec["public_key"].native
        except KeyFormatError:
            raise
        except _ASN1_ERRORS as exc:
            raise KeyFormatError(f"malformed SM2 private key: {exc}") from exc
        if not isinstance(d, int):
            raise KeyFormatError("malformed SM2 private key")
        key = cls.from_scalar(d)
        if embedded is not None and embedded != key._public.point:
            raise KeyFormatError("embedded public key does not match the private scalar")
        return key

    def to_der(self, password: bytes | None = None) -> bytes:
        """DER PKCS#8; with ``password``, PBES2-encrypted (scrypt + AES-256-CBC)."""
        from trust import pkcs8

        ec = keys.ECPrivateKey(
            {
                "version": "ecPrivkeyVer1",
                "private_key": int.from_bytes(self._scalar, "big"),
                "public_key": self._public.point,
            }
        )
        info = keys.PrivateKeyInfo(
            {
                "version": 0,
                "private_key_algorithm": keys.PrivateKeyAlgorithm(
                    {
                        "algorithm": "ec",
                        "parameters": keys.ECDomainParameters(
                            name="named", value=oids.SM2P256V1
                        ),
                    }
                ),
                "private_key": ec,
            }
        )
        der: bytes = info.dump()
        return pkcs8.encrypt(der, password) if password is not None else der

    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, message: bytes, uid: bytes = DEFAULT_UID) -> bytes:
        """DER SEQUENCE{r, s} over SM3(Z || message); refused if the self-test failed."""
        backend = _require_signing_backend()
        if backend.name not in ("openssl", "gmssl"):
            raise CryptoError(f"unexpected backend {backend.name}")
        handle = self._handle
        if getattr(handle, "backend", backend.name) != backend.name:
            handle, _ = backend.load_private(self._scalar)
            self._handle = handle
        return backend.sign(handle, bytes(message), _uid(uid))

    def sign_raw(self, message: bytes, uid: bytes = DEFAULT_UID) -> bytes:
        """64-byte r||s signature (compact tokens)."""
        return der_to_raw(self.sign(message, uid))

    def __repr__(self) -> str:
        return f"sm2.PrivateKey(public={self._public!r})"
