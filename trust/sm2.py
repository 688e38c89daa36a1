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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from asn1crypto import keys

from trust import _sm2_common as _common
from trust import oids
from trust.errors import CryptoError, InputError, SelfTestError

__all__ = [
    "DEFAULT_UID",
    "MAX_UID",
    "Backend",
    "FastPathReport",
    "KeyFormatError",
    "N",
    "PrivateKey",
    "PublicKey",
    "SelfTestResult",
    "SignatureFormatError",
    "backend_name",
    "batch_backend_name",
    "decode_der",
    "der_to_raw",
    "encode_der",
    "fast_paths",
    "get_backend",
    "raw_to_der",
    "self_test",
    "use_backend",
    "verify_backend_name",
    "verify_many",
]

N: Final = _common.N
MAX_DER_SIGNATURE: Final = 72
DEFAULT_UID: Final = _common.DEFAULT_UID
MAX_UID: Final = _common.MAX_UID
SignatureFormatError = _common.SignatureFormatError
encode_der = _common.encode_der
_uid = _common.check_uid
_EC_FIELDS: Final = frozenset({"version", "private_key", "parameters", "public_key"})


class KeyFormatError(InputError):
    """A key encoding is malformed or is not an SM2 key."""

    code = "sm2.key_format"


# --------------------------------------------------------------------------
# Signature encodings
# --------------------------------------------------------------------------


def decode_der(signature: bytes) -> tuple[int, int]:
    """Strictly parse DER SEQUENCE{r, s}; anything else raises SignatureFormatError.

    Written out in one function: it runs before every verification, and the
    helper calls, the union isinstance and the copy of ``bytes`` input cost ~0.6
    of its 2.4 us (measured). Strictness is what stops malleability (one
    encoding per (r, s)) and what tests/test_sm2.py checks against asn1crypto.
    """
    if type(signature) is not bytes:
        if not isinstance(signature, (bytes, bytearray, memoryview)):
            raise SignatureFormatError("signature must be bytes")
        signature = bytes(signature)
    data = signature
    size = len(data)
    if size < 8 or size > MAX_DER_SIGNATURE:
        raise SignatureFormatError(f"DER signature of {size} bytes (expected 8..72)")
    if data[0] != 0x30:
        raise SignatureFormatError("signature is not a DER SEQUENCE")
    head = data[1]
    if head & 0x80:
        if head != 0x81 or data[2] < 0x80:
            raise SignatureFormatError("bad SEQUENCE length")
        seq_len, pos = data[2], 3
    else:
        seq_len, pos = head, 2
    if pos + seq_len != size:
        raise SignatureFormatError("SEQUENCE length does not match the signature size")
    values = []
    for _ in (0, 1):
        if pos + 2 > size or data[pos] != 0x02:
            raise SignatureFormatError("expected an INTEGER")
        length = data[pos + 1]
        if length == 0 or length > 33:
            raise SignatureFormatError("INTEGER length out of range")
        pos += 2
        end = pos + length
        if end > size:
            raise SignatureFormatError("INTEGER runs past the end")
        first = data[pos]
        if first & 0x80:
            raise SignatureFormatError("negative INTEGER")
        if length > 1 and first == 0 and not data[pos + 1] & 0x80:
            raise SignatureFormatError("INTEGER is not minimally encoded")
        values.append(int.from_bytes(data[pos:end], "big"))
        pos = end
    if pos != size:
        raise SignatureFormatError("trailing data after s")
    return values[0], values[1]


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


_KAT_D: Final = _common.KAT_D
_KAT_PUB: Final = _common.KAT_PUB
_KAT_R: Final = _common.KAT_R
_KAT_S: Final = _common.KAT_S
_KAT_MSG: Final = _common.KAT_MSG


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
    """Switch backend (tests, ``doctor``, benchmarks); runs the self-test of the new one.

    ``openssl`` or ``gmssl`` then signs *and* verifies everything (no fast
    path), so a test of that backend tests that backend. ``ipp`` keeps the
    signer and makes ipp-crypto the verifier after its checks (CryptoError if
    they fail); ``auto`` returns verification to the start-up choice.
    """
    global _override, _fast, _fast_report, _fast_chosen
    if name == "auto":
        _override = None
        return
    if name == "ipp":
        backend, report = _try_fast_verifier(force=True)
        if backend is None:
            raise CryptoError(f"SM2 backend ipp unavailable: {report.detail}")
        with _fast_lock:
            _fast, _fast_report, _override, _fast_chosen = backend, report, None, True
        return
    backend = _load_backend(name)
    _install_backend(backend)
    _override = backend


def _install_backend(backend: Backend) -> SelfTestResult:
    """Make ``backend`` the signer after running its self-test (also the test hook for fakes).

    Verification returns to the start-up choice (a fast verifier, if one passed
    its checks, else this backend).
    """
    global _backend, _self_test, _override
    result = run_self_test(backend)
    with _lock:
        _backend, _self_test, _override = backend, result, None
    return result


def _require_signing_backend() -> Backend:
    backend = get_backend()
    if _self_test is None or not _self_test.passed:
        detail = _self_test.detail if _self_test else "not run"
        raise SelfTestError(f"SM2 self-test failed ({backend.name}): {detail}; signing refused")
    return backend


# --------------------------------------------------------------------------
# Fast verification: ipp-crypto (single), crypto_mb (batches of 8)
# --------------------------------------------------------------------------

_FAST_OFF: Final = frozenset({"0", "off", "no", "false", "openssl"})


@dataclass(frozen=True)
class FastPathReport:
    """Whether a fast verification backend is in use, and why (or why not)."""

    backend: str
    active: bool
    detail: str
    version: str | None = None
    code_path: str | None = None


_fast_lock = threading.RLock()
_fast_chosen = False
_fast: Backend | None = None
_fast_report = FastPathReport("ipp", False, "not selected yet")
_batch: Any = None
_batch_report = FastPathReport("crypto_mb", False, "not selected yet")
_override: Backend | None = None  # set by use_backend("openssl"/"gmssl")


def _fast_disabled() -> str | None:
    value = os.environ.get("SEALTRUST_SM2_FAST", "").strip().lower()
    if value in _FAST_OFF:
        return f"disabled by SEALTRUST_SM2_FAST={value}"
    forced = os.environ.get("SEALTRUST_SM2_BACKEND", "").strip().lower()
    if forced:  # forcing a backend means exactly that backend, for verifying too
        return f"off: SEALTRUST_SM2_BACKEND={forced} forces one backend"
    return None


def _reference() -> Backend:
    """OpenSSL, the reference every fast path is compared with (the signer if it is OpenSSL)."""
    signer = get_backend()
    if signer.name == "openssl" and self_test().passed:
        return signer
    reference = _load_backend("openssl")
    result = run_self_test(reference)
    if not result.passed:
        raise CryptoError(f"OpenSSL reference failed its self-test: {result.detail}")
    return reference


def _try_fast_verifier(force: bool = False) -> tuple[Backend | None, FastPathReport]:
    """Load ipp-crypto and check it against OpenSSL; (None, why) when it must not be used."""
    from trust import _sm2_fastcheck

    reason = None if force else _fast_disabled()
    if reason is not None:
        return None, FastPathReport("ipp", False, reason)
    try:
        from trust import _sm2_ipp

        backend = _sm2_ipp.IppBackend()
        reference = _reference()
    except (OSError, ImportError, CryptoError) as exc:
        return None, FastPathReport("ipp", False, f"unavailable: {exc}")
    passed, detail = _sm2_fastcheck.check_verifier(backend, reference)
    report = FastPathReport("ipp", passed, detail, backend.version, backend.code_path)
    return (backend if passed else None), report


def _try_batch(force: bool = False) -> tuple[Any, FastPathReport]:
    """Load crypto_mb and check it against OpenSSL; (None, why) when it must not be used."""
    from trust import _sm2_fastcheck

    reason = None if force else _fast_disabled()
    if reason is not None:
        return None, FastPathReport("crypto_mb", False, reason)
    try:
        from trust import _sm2_mb

        backend = _sm2_mb.MbBackend()
        reference = _reference()
    except (OSError, ImportError, CryptoError) as exc:
        return None, FastPathReport("crypto_mb", False, f"unavailable: {exc}")
    passed, detail = _sm2_fastcheck.check_batch(backend, reference)
    report = FastPathReport("crypto_mb", passed, detail, backend.version)
    return (backend if passed else None), report


def _choose_fast() -> None:
    global _fast_chosen, _fast, _fast_report, _batch, _batch_report
    if _fast_chosen:
        return
    with _fast_lock:
        if not _fast_chosen:
            _fast, _fast_report = _try_fast_verifier()
            _batch, _batch_report = _try_batch()
            _fast_chosen = True


def _verifier() -> Backend:
    """The backend single verifications run on: an override, the fast one, or the signer."""
    override = _override
    if override is not None:
        return override
    _choose_fast()
    return _fast if _fast is not None else get_backend()


def _batcher() -> Any:
    """The crypto_mb backend when it passed its checks and no override is set, else None."""
    if _override is not None:
        return None
    _choose_fast()
    return _batch


def verify_backend_name() -> str:
    """The backend single verifications use now: ``ipp``, ``openssl`` or ``gmssl``."""
    return _verifier().name


def batch_backend_name() -> str | None:
    """``crypto_mb`` when :func:`verify_many` batches, None when it loops over singles."""
    batch = _batcher()
    return None if batch is None else str(batch.name)


def fast_paths() -> tuple[FastPathReport, FastPathReport]:
    """Start-up reports of the single (ipp) and batch (crypto_mb) fast paths (``doctor``)."""
    _choose_fast()
    return _fast_report, _batch_report


def _install_fast(verifier: Backend | None, batch: Any = None) -> None:
    """Test hook: set the fast backends directly (no checks; tests of the plumbing only)."""
    global _fast_chosen, _fast, _batch, _override
    with _fast_lock:
        _fast, _batch, _fast_chosen, _override = verifier, batch, True, None


def _reset_fast() -> None:
    """Test hook: forget the fast-path choice; the next verification selects again."""
    global _fast_chosen, _fast, _batch, _override
    with _fast_lock:
        _fast, _batch, _fast_chosen, _override = None, None, False, None


VerifyItem = tuple["PublicKey", bytes, bytes] | tuple["PublicKey", bytes, bytes, bytes]


def verify_many(items: Iterable[VerifyItem]) -> list[bool]:
    """Verdicts for many DER signatures at once, in input order.

    Each item is ``(PublicKey, message, signature)`` or with a fourth element,
    the user ID (default ``1234567812345678``). Same verdicts as
    :meth:`PublicKey.verify` item by item, except that a malformed signature is
    False here instead of raising (one bad item must not hide the others'
    verdicts); an over-long ID still raises InputError. With crypto_mb (AVX-512
    IFMA, ``sealtrust[fast-batch]``) items sharing SM3 block counts go 8 per
    call; everything else runs on the single-signature backend.
    """
    results: list[bool] = []
    pending: list[tuple[int, PublicKey, bytes, int, int, bytes]] = []
    for index, item in enumerate(items):
        if len(item) not in (3, 4):
            raise InputError("verify_many items are (key, message, signature[, uid])")
        key, message, signature = item[0], item[1], item[2]
        uid = _uid(item[3]) if len(item) == 4 else DEFAULT_UID  # type: ignore[misc]
        results.append(False)
        try:
            r, s = decode_der(signature)
        except SignatureFormatError:
            continue
        if _common.in_range(r, s):
            pending.append((index, key, bytes(message), r, s, uid))
    single = _verifier()
    leftovers: Iterable[int] = range(len(pending))
    batch = _batcher() if len(pending) > 1 else None
    if batch is not None:
        from trust import _sm2_batch

        plan = _sm2_batch.plan_batches(
            [_sm2_batch.shape_key(len(p[5]), len(p[2])) for p in pending]
        )
        retry: list[int] = list(plan.singles)
        for call in plan.batches:
            lanes = [pending[i] for i in call.lanes]
            verdicts = batch.verify_lanes(
                [(key._handle(batch), m, r, s, u) for _, key, m, r, s, u in lanes]
            )
            for lane in range(call.real):
                verdict = verdicts[lane]
                if verdict is None:  # no clear verdict from crypto_mb: the single path decides
                    retry.append(call.lanes[lane])
                else:
                    results[lanes[lane][0]] = bool(verdict)
        leftovers = retry
    for i in leftovers:
        index, key, message, r, s, uid = pending[i]
        results[index] = single.verify(key._handle(single), message, r, s, uid)
    return results


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

    def prepare(self) -> PublicKey:
        """Load this key into the active verification backends now (key-cache entry).

        The point was checked on the curve by OpenSSL when the key was made
        (:meth:`from_point`); loading it here once more into the fast backends
        (each of which refuses off-curve points too) means the hot path never
        converts or checks a key again. Returns ``self``.
        """
        self._handle(_verifier())
        batch = _batcher()
        if batch is not None:
            self._handle(batch)
        return self

    def verify(self, message: bytes, signature_der: bytes, uid: bytes = DEFAULT_UID) -> bool:
        """True iff ``signature_der`` is a valid SM2 signature of ``message`` under ``uid``.

        Malformed DER raises SignatureFormatError; r or s outside [1, n-1] is False.
        """
        r, s = decode_der(signature_der)
        if not (0 < r < N and 0 < s < N):
            return False
        backend = _verifier()
        if uid is not DEFAULT_UID:  # the constant itself needs no check or copy
            uid = _uid(uid)
        return backend.verify(self._handle(backend), bytes(message), r, s, uid)

    def verify_raw(self, message: bytes, raw: bytes, uid: bytes = DEFAULT_UID) -> bool:
        """Verify a 64-byte r||s signature."""
        if len(raw) != 64:
            raise SignatureFormatError(f"raw SM2 signature must be 64 bytes, got {len(raw)}")
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        if not (0 < r < N and 0 < s < N):
            return False
        backend = _verifier()
        if uid is not DEFAULT_UID:
            uid = _uid(uid)
        return backend.verify(self._handle(backend), bytes(message), r, s, uid)

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
