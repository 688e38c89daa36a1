"""``pkcs11:`` keys (RFC 7512 URIs) through python-pkcs11, tested on SoftHSM2.

    pkcs11:token=SealTrust;object=seal-2026;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so

Private keys must be sensitive and non-extractable: keys whose attributes
allow extraction are refused when opened. The certificate chain is stored on
the token as CKO_CERTIFICATE objects with the key's CKA_ID, the leaf labelled
like the key and the issuers ``<label>.chain.<n>``.

Sessions: per token one session logs in (PKCS#11 login state is per
application and token) and ``pool_size - 1`` more share that login; a key
draws a session from the pool per signature, so threads sign in parallel
(python-pkcs11 releases the GIL in C_Sign). RSA signs with
CKM_SHA256_RSA_PKCS; ECDSA hashes with SHA-256 on the host and signs with
CKM_ECDSA (SoftHSM2 2.6 has no CKM_ECDSA_SHA256); SM2 follows a vendor
profile (:mod:`hsm_adapters.pkcs11_profiles`).
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import os
import queue
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from asn1crypto import keys as asn1_keys
from asn1crypto import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from hsm_adapters.base import Key, KeyInfo, KeyStore, validate_chain
from hsm_adapters.errors import (
    DeviceError,
    ExtractableKeyError,
    KeyExistsError,
    KeyNotFoundError,
    KeyStoreError,
    KeyStoreUnavailableError,
    KeyUriError,
    PinError,
    UnsupportedOperationError,
)
from hsm_adapters.pins import PinSource, read_pin
from hsm_adapters.pkcs11_kek import Pkcs11WrappingKey, find_secret_key, generate_secret_key
from hsm_adapters.pkcs11_profiles import Sm2Profile
from hsm_adapters.uri import KeyUri
from trust import keys as trust_keys
from trust import sm2
from trust.errors import InputError
from trust.keys import SoftwareKey

try:
    import pkcs11 as p11
    from pkcs11 import Attribute, CertificateType, KeyType, Mechanism, ObjectClass
    from pkcs11 import exceptions as p11_errors
    from pkcs11.util.ec import encode_named_curve_parameters

    _AVAILABLE = True
except ImportError:  # pragma: no cover - python-pkcs11 is a dependency
    _AVAILABLE = False

__all__ = ["CKR_NAMES", "Pkcs11Config", "Pkcs11Key", "Pkcs11KeyStore", "ckr_of"]

DEFAULT_MODULE: Final = "/usr/lib/softhsm/libsofthsm2.so"
P256_OID: Final = "1.2.840.10045.3.1.7"

# python-pkcs11 raises one class per CKR_* without the number: put it back.
CKR_NAMES: Final = {
    "HostMemory": ("CKR_HOST_MEMORY", 0x02),
    "SlotIDInvalid": ("CKR_SLOT_ID_INVALID", 0x03),
    "GeneralError": ("CKR_GENERAL_ERROR", 0x05),
    "FunctionFailed": ("CKR_FUNCTION_FAILED", 0x06),
    "ArgumentsBad": ("CKR_ARGUMENTS_BAD", 0x07),
    "AttributeSensitive": ("CKR_ATTRIBUTE_SENSITIVE", 0x11),
    "AttributeTypeInvalid": ("CKR_ATTRIBUTE_TYPE_INVALID", 0x12),
    "AttributeValueInvalid": ("CKR_ATTRIBUTE_VALUE_INVALID", 0x13),
    "DataInvalid": ("CKR_DATA_INVALID", 0x20),
    "DataLenRange": ("CKR_DATA_LEN_RANGE", 0x21),
    "DeviceError": ("CKR_DEVICE_ERROR", 0x30),
    "DeviceMemory": ("CKR_DEVICE_MEMORY", 0x31),
    "DeviceRemoved": ("CKR_DEVICE_REMOVED", 0x32),
    "FunctionCancelled": ("CKR_FUNCTION_CANCELED", 0x50),
    "FunctionNotSupported": ("CKR_FUNCTION_NOT_SUPPORTED", 0x54),
    "KeyHandleInvalid": ("CKR_KEY_HANDLE_INVALID", 0x60),
    "KeySizeRange": ("CKR_KEY_SIZE_RANGE", 0x62),
    "KeyTypeInconsistent": ("CKR_KEY_TYPE_INCONSISTENT", 0x63),
    "KeyFunctionNotPermitted": ("CKR_KEY_FUNCTION_NOT_PERMITTED", 0x68),
    "KeyUnextractable": ("CKR_KEY_UNEXTRACTABLE", 0x6A),
    "MechanismInvalid": ("CKR_MECHANISM_INVALID", 0x70),
    "MechanismParamInvalid": ("CKR_MECHANISM_PARAM_INVALID", 0x71),
    "ObjectHandleInvalid": ("CKR_OBJECT_HANDLE_INVALID", 0x82),
    "OperationActive": ("CKR_OPERATION_ACTIVE", 0x90),
    "OperationNotInitialized": ("CKR_OPERATION_NOT_INITIALIZED", 0x91),
    "PinIncorrect": ("CKR_PIN_INCORRECT", 0xA0),
    "PinInvalid": ("CKR_PIN_INVALID", 0xA1),
    "PinLenRange": ("CKR_PIN_LEN_RANGE", 0xA2),
    "PinExpired": ("CKR_PIN_EXPIRED", 0xA3),
    "PinLocked": ("CKR_PIN_LOCKED", 0xA4),
    "SessionClosed": ("CKR_SESSION_CLOSED", 0xB0),
    "SessionCount": ("CKR_SESSION_COUNT", 0xB1),
    "SessionHandleInvalid": ("CKR_SESSION_HANDLE_INVALID", 0xB3),
    "SessionReadOnly": ("CKR_SESSION_READ_ONLY", 0xB5),
    "SignatureInvalid": ("CKR_SIGNATURE_INVALID", 0xC0),
    "SignatureLenRange": ("CKR_SIGNATURE_LEN_RANGE", 0xC1),
    "TemplateIncomplete": ("CKR_TEMPLATE_INCOMPLETE", 0xD0),
    "TemplateInconsistent": ("CKR_TEMPLATE_INCONSISTENT", 0xD1),
    "TokenNotPresent": ("CKR_TOKEN_NOT_PRESENT", 0xE0),
    "TokenNotRecognised": ("CKR_TOKEN_NOT_RECOGNIZED", 0xE1),
    "UserAlreadyLoggedIn": ("CKR_USER_ALREADY_LOGGED_IN", 0x100),
    "UserNotLoggedIn": ("CKR_USER_NOT_LOGGED_IN", 0x101),
    "UserPinNotInitialized": ("CKR_USER_PIN_NOT_INITIALIZED", 0x102),
    "UserTypeInvalid": ("CKR_USER_TYPE_INVALID", 0x103),
}
_PIN_ERRORS: Final = frozenset({"PinIncorrect", "PinInvalid", "PinLenRange", "PinExpired",
                                "PinLocked", "UserPinNotInitialized", "UserNotLoggedIn"})
_ABSENT: Final = frozenset({"TokenNotPresent", "TokenNotRecognised", "DeviceRemoved",
                            "SlotIDInvalid", "NoSuchToken"})


def ckr_of(exc: BaseException) -> tuple[str | None, int | None]:
    """(CKR_* name, number) for a python-pkcs11 exception, when known."""
    name, number = CKR_NAMES.get(type(exc).__name__, (None, None))
    return name, number


def translate(exc: Exception, what: str, uri: str) -> KeyStoreError:
    """A typed key-store error for a python-pkcs11 exception (no PIN, with the URI)."""
    kind = type(exc).__name__
    name, number = ckr_of(exc)
    cls: type[KeyStoreError] = DeviceError
    if kind in _PIN_ERRORS:
        cls = PinError
    elif kind in _ABSENT:
        cls = KeyStoreUnavailableError
    elif kind == "NoSuchKey":
        cls = KeyNotFoundError
    return cls(f"{what}: {kind}", uri=uri, vendor_code=number, vendor_name=name)


@dataclass(frozen=True)
class Pkcs11Config:
    """Adapter defaults: module, sessions per token, SM2 profile and user ID."""

    module_path: str = DEFAULT_MODULE
    pool_size: int = 4
    sm2_profile: Sm2Profile | None = None
    sm2_uid: bytes = sm2.DEFAULT_UID

    def __post_init__(self) -> None:
        if not 1 <= self.pool_size <= 64:
            raise ValueError("pool_size must be within 1..64")


@dataclass(frozen=True)
class _Ref:
    uri: str
    module: str
    token: str | None
    serial: str | None
    label: str | None
    id: bytes | None

    @property
    def pool_key(self) -> tuple[str, str | None, str | None]:
        return (self.module, self.token, self.serial)

    def match(self) -> dict[Any, Any]:
        attrs: dict[Any, Any] = {}
        if self.label is not None:
            attrs[Attribute.LABEL] = self.label
        if self.id is not None:
            attrs[Attribute.ID] = self.id
        return attrs


def _parse(uri: str, config: Pkcs11Config, *, need_object: bool = True) -> _Ref:
    ref = KeyUri.parse(uri)
    if ref.scheme != "pkcs11":
        raise KeyUriError("not a pkcs11: key URI", uri=uri)
    if ref.path.get("type", "private") not in ("private", "public", "cert"):
        raise KeyUriError("type must be private, public or cert", uri=uri)
    raw_id = ref.path.get("id")
    key_id = raw_id.encode("utf-8", "surrogateescape") if raw_id is not None else None
    parsed = _Ref(uri, ref.query.get("module-path", config.module_path), ref.path.get("token"),
                  ref.path.get("serial"), ref.path.get("object"), key_id)
    if need_object and parsed.label is None and parsed.id is None:
        raise KeyUriError("a key URI needs object= or id=", uri=uri)
    return parsed


_MODULES: dict[str, tuple[Any, bool]] = {}
_MODULES_LOCK = threading.Lock()
CKF_OS_LOCKING_OK: Final = 0x2


class _InitArgs(ctypes.Structure):
    _fields_ = [("CreateMutex", ctypes.c_void_p), ("DestroyMutex", ctypes.c_void_p),
                ("LockMutex", ctypes.c_void_p), ("UnlockMutex", ctypes.c_void_p),
                ("flags", ctypes.c_ulong), ("pReserved", ctypes.c_void_p)]


def _load_module(path: str) -> tuple[Any, bool]:
    """python-pkcs11's handle on ``path`` and whether concurrent calls are safe.

    python-pkcs11 calls C_Initialize(NULL), which tells a module that the
    application is single-threaded (SoftHSM2 then disables its locks and
    crashes under concurrent signing). When SealTrust is the first to load the
    module, before any session exists, it re-initialises it with
    CKF_OS_LOCKING_OK; otherwise calls into the module are serialised.
    """
    with _MODULES_LOCK:
        cached = _MODULES.get(path)
        if cached is not None:
            return cached
        first = path not in getattr(p11, "_loaded", {})
        lib = p11.lib(path)
        thread_safe = False
        if first:
            try:
                raw = ctypes.CDLL(path)  # same dlopen handle as python-pkcs11's
                raw.C_Finalize.argtypes = [ctypes.c_void_p]
                raw.C_Initialize.argtypes = [ctypes.c_void_p]
                if raw.C_Finalize(None) == 0:
                    args = _InitArgs(None, None, None, None, CKF_OS_LOCKING_OK, None)
                    rv = raw.C_Initialize(ctypes.byref(args))
                    if rv != 0:  # leave the module initialised, single-threaded
                        raw.C_Initialize(None)
                    thread_safe = rv == 0
            except (OSError, AttributeError):
                thread_safe = False
        _MODULES[path] = (lib, thread_safe)
        return lib, thread_safe


class _TokenPool:
    """Logged-in sessions to one token, checked out one per operation."""

    def __init__(self, ref: _Ref, pin: bytes, size: int) -> None:
        self.ref = ref
        self._salt = secrets.token_bytes(16)
        self._pin_tag = self._tag(pin)
        self.refs = 0
        if not os.path.isfile(ref.module):
            raise KeyStoreUnavailableError("PKCS#11 module not found", uri=ref.uri)
        try:
            lib, thread_safe = _load_module(ref.module)
        except p11_errors.PKCS11Error as exc:
            raise KeyStoreUnavailableError(f"cannot load PKCS#11 module: {exc}",
                                           uri=ref.uri) from None
        # Without library locking, calls into the module must not overlap.
        self._serial: threading.Lock | None = None if thread_safe else threading.Lock()
        try:
            self.token = lib.get_token(token_label=ref.token, token_serial=ref.serial)
        except p11_errors.NoSuchToken:
            raise KeyStoreUnavailableError("token not present", uri=ref.uri) from None
        except p11_errors.MultipleTokensReturned:
            raise KeyUriError("URI matches several tokens; add token= or serial=",
                              uri=ref.uri) from None
        except p11_errors.PKCS11Error as exc:
            raise translate(exc, "cannot find token", ref.uri) from None
        try:
            text = pin.decode("utf-8")
        except UnicodeDecodeError:
            raise PinError("PIN is not UTF-8", uri=ref.uri) from None
        self._sessions: list[Any] = []
        try:
            self._sessions.append(self.token.open(rw=True, user_pin=text))
            del text
            # Further sessions share the login of the first (PKCS#11 v2.40 section 5.6).
            self._sessions.extend(self.token.open(rw=True) for _ in range(size - 1))
        except p11_errors.PKCS11Error as exc:
            self.close()
            raise translate(exc, "cannot log in to token", ref.uri) from None
        # SimpleQueue is implemented in C: checkout costs well under a microsecond.
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for session in self._sessions:
            self._free.put(session)

    def _tag(self, pin: bytes) -> bytes:
        return hmac.new(self._salt, pin, hashlib.sha256).digest()

    def check_pin(self, pin: bytes) -> None:
        """A second opener must know the PIN too, though the token is already logged in."""
        if not hmac.compare_digest(self._tag(pin), self._pin_tag):
            raise PinError("PIN does not match the open token session",
                           uri=self.ref.uri, vendor_name="CKR_PIN_INCORRECT", vendor_code=0xA0)

    def checkout(self) -> Any:
        """A free session (blocks while all are busy); give it back with ``checkin``."""
        if self._serial is not None:
            self._serial.acquire()
        return self._free.get()

    def checkin(self, session: Any) -> None:
        self._free.put(session)
        if self._serial is not None:
            self._serial.release()

    @contextmanager
    def session(self) -> Iterator[Any]:
        session = self._free.get()
        try:
            if self._serial is None:
                yield session
            else:
                with self._serial:
                    yield session
        finally:
            self._free.put(session)

    def close(self) -> None:
        # The logged-in session last: closing it logs out every other one.
        for session in reversed(self._sessions):
            with suppress(p11_errors.PKCS11Error):
                session.close()
        self._sessions = []


def _spki_of_public(pub: Any) -> bytes:
    key_type = pub[Attribute.KEY_TYPE]
    if key_type == KeyType.RSA:
        numbers = rsa.RSAPublicNumbers(int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"),
                                       int.from_bytes(pub[Attribute.MODULUS], "big"))
        return numbers.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    params = asn1_keys.ECDomainParameters.load(pub[Attribute.EC_PARAMS])
    raw = bytes(pub[Attribute.EC_POINT])
    # CKA_EC_POINT is a DER OCTET STRING per the spec; some tokens return the bare point.
    point = raw[2:] if len(raw) == 67 and raw[:2] == b"\x04\x41" else raw
    return asn1_keys.PublicKeyInfo(  # type: ignore[no-any-return]
        {"algorithm": {"algorithm": "ec", "parameters": params}, "public_key": point}).dump()


class Pkcs11Key(Key):
    """A token-resident private key; signs through the token's session pool."""

    adapter = "pkcs11"

    def __init__(self, store: Pkcs11KeyStore, pool: _TokenPool, ref: _Ref, spki: bytes,
                 chain: Sequence[bytes], config: Pkcs11Config) -> None:
        super().__init__(ref.uri, spki, chain, sm2_uid=config.sm2_uid)
        self._store = store
        self._pool = pool
        self._ref = ref
        self._profile = config.sm2_profile
        self._handles: dict[int, Any] = {}
        self._point = b""
        self._mechanism: int = Mechanism.SHA256_RSA_PKCS
        if self.algorithm == "ecdsa-p256":
            self._mechanism = Mechanism.ECDSA  # SoftHSM2 2.6 has no CKM_ECDSA_SHA256
        elif self.algorithm == "sm2":
            if self._profile is None:
                raise UnsupportedOperationError("SM2 key but no SM2 vendor profile configured",
                                                uri=ref.uri)
            self._point = sm2.PublicKey.from_der(spki).point
            self._mechanism = self._profile.mechanism

    def _private(self, session: Any) -> Any:
        handle = self._handles.get(id(session))
        if handle is None:
            handle = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=self._ref.label,
                                     id=self._ref.id)
            self._handles[id(session)] = handle
        return handle

    def _sign(self, message: bytes) -> bytes:
        algorithm = self.algorithm
        if algorithm == "ecdsa-p256":
            message = hashlib.sha256(message).digest()
        elif algorithm == "sm2":
            assert self._profile is not None
            message = self._profile.prepare(self._point, message, self._sm2_uid)
        session = self._pool.checkout()
        try:
            key = self._private(session)
            output = bytes(key.sign(message, mechanism=self._mechanism))
        finally:
            self._pool.checkin(session)
        if algorithm == "ecdsa-p256":
            if len(output) != 64:
                raise DeviceError("ECDSA signature is not 64 bytes", uri=self.uri)
            return encode_dss_signature(int.from_bytes(output[:32], "big"),
                                        int.from_bytes(output[32:], "big"))
        if algorithm == "sm2":
            assert self._profile is not None
            return self._profile.to_der(output)
        return output

    def _vendor_errors(self) -> tuple[type[Exception], ...]:
        return (p11_errors.PKCS11Error,)

    def _translate(self, exc: Exception) -> KeyStoreError:
        return translate(exc, "C_Sign failed", self.uri)

    def _close(self) -> None:
        self._store._release(self._pool)


class Pkcs11KeyStore(KeyStore):
    """PKCS#11 tokens; one session pool per (module, token), shared by its keys."""

    scheme = "pkcs11"

    def __init__(self, config: Pkcs11Config | None = None) -> None:
        self.config = config or Pkcs11Config()
        self._pools: dict[tuple[str, str | None, str | None], _TokenPool] = {}
        self._lock = threading.Lock()

    @classmethod
    def is_available(cls) -> bool:
        return _AVAILABLE

    def _acquire(self, ref: _Ref, pin: PinSource | None) -> _TokenPool:
        secret = read_pin(pin, ref.uri)
        with self._lock:
            pool = self._pools.get(ref.pool_key)
            if pool is None:
                pool = _TokenPool(ref, secret, self.config.pool_size)
                self._pools[ref.pool_key] = pool
            else:
                pool.check_pin(secret)
            pool.refs += 1
            return pool

    def _release(self, pool: _TokenPool) -> None:
        with self._lock:
            pool.refs -= 1
            if pool.refs <= 0 and self._pools.get(pool.ref.pool_key) is pool:
                del self._pools[pool.ref.pool_key]
                pool.close()

    @contextmanager
    def _borrow(self, ref: _Ref, pin: PinSource | None) -> Iterator[Any]:
        pool = self._acquire(ref, pin)
        try:
            with pool.session() as session:
                yield session
        except p11_errors.PKCS11Error as exc:
            raise translate(exc, "token operation failed", ref.uri) from None
        finally:
            self._release(pool)

    def open_key(self, uri: str, pin: PinSource | None) -> Pkcs11Key:
        ref = _parse(uri, self.config)
        pool = self._acquire(ref, pin)
        try:
            with pool.session() as session:
                spki, chain = self._inspect(session, ref)
            return Pkcs11Key(self, pool, ref, spki, chain, self.config)
        except p11_errors.PKCS11Error as exc:
            self._release(pool)
            raise translate(exc, "cannot open key", uri) from None
        except BaseException:
            self._release(pool)
            raise

    def generate_wrapping_key(self, uri: str, pin: PinSource | None) -> Pkcs11WrappingKey:
        """A new AES-256 KEK on the token (SoftHSM2 has no SM4; see pkcs11_kek)."""
        ref = _parse(uri, self.config)
        with self._borrow(ref, pin) as session:
            if list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                         **ref.match()})):
                raise KeyExistsError("a secret key with this label/id exists", uri=uri)
            key_id = generate_secret_key(session, ref)
        return self.open_wrapping_key(self._with_id(ref, key_id), pin)

    def open_wrapping_key(self, uri: str, pin: PinSource | None) -> Pkcs11WrappingKey:
        ref = _parse(uri, self.config)
        pool = self._acquire(ref, pin)
        try:
            with pool.session() as session:
                find_secret_key(session, ref)
            return Pkcs11WrappingKey(self._release, pool, ref)
        except p11_errors.PKCS11Error as exc:
            self._release(pool)
            raise translate(exc, "cannot open KEK", uri) from None
        except BaseException:
            self._release(pool)
            raise

    def _inspect(self, session: Any, ref: _Ref) -> tuple[bytes, list[bytes]]:
        """Check the private key's attributes; return its SPKI and certificate chain."""
        try:
            private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=ref.label,
                                      id=ref.id)
        except p11_errors.NoSuchKey:
            raise KeyNotFoundError("no private key matches", uri=ref.uri) from None
        except p11_errors.MultipleObjectsReturned:
            raise KeyUriError("URI matches several private keys; add id=", uri=ref.uri) from None
        if not private[Attribute.SENSITIVE] or private[Attribute.EXTRACTABLE]:
            raise ExtractableKeyError(
                "private key is extractable or not sensitive: refused", uri=ref.uri)
        key_id = private[Attribute.ID]
        chain = self._chain(session, key_id, private[Attribute.LABEL])
        try:
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
            spki = _spki_of_public(public)
        except (p11_errors.NoSuchKey, p11_errors.MultipleObjectsReturned):
            if not chain:
                raise KeyNotFoundError("no public key or certificate beside the private key",
                                       uri=ref.uri) from None
            cert = x509.Certificate.load(chain[0])
            spki = cert["tbs_certificate"]["subject_public_key_info"].dump()
        return spki, chain

    @staticmethod
    def _chain(session: Any, key_id: bytes, label: str) -> list[bytes]:
        certs: list[tuple[int, bytes]] = []
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE,
                                        Attribute.ID: key_id}):
            cert_label = obj[Attribute.LABEL]
            order = 0 if cert_label == label else \
                int(cert_label.rsplit(".", 1)[-1]) if cert_label.startswith(f"{label}.chain.") \
                and cert_label.rsplit(".", 1)[-1].isdigit() else 1 << 30
            certs.append((order, bytes(obj[Attribute.VALUE])))
        return [der for _, der in sorted(certs)]

    def generate(self, uri: str, algorithm: str, pin: PinSource | None) -> Pkcs11Key:
        ref = _parse(uri, self.config)
        if ref.label is None:
            raise KeyUriError("generating a key needs object= (its label)", uri=uri)
        key_id = ref.id or secrets.token_bytes(8)
        private_template = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                            Attribute.TOKEN: True, Attribute.PRIVATE: True}
        with self._borrow(ref, pin) as session:
            self._refuse_existing(session, ref)
            if algorithm in ("rsa-2048", "rsa-3072"):
                session.generate_keypair(KeyType.RSA, int(algorithm[4:]), id=key_id,
                                         label=ref.label, store=True,
                                         private_template=private_template)
            elif algorithm == "ecdsa-p256":
                params = session.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(P256_OID)},
                    local=True)
                params.generate_keypair(id=key_id, label=ref.label, store=True,
                                        private_template=private_template)
            elif algorithm == "sm2":
                raise UnsupportedOperationError(
                    "SM2 key generation is vendor-specific; generate with the vendor tool",
                    uri=uri)
            else:
                raise InputError(f"unknown key algorithm {algorithm!r}")
        return self.open_key(self._with_id(ref, key_id), pin)

    def import_key(self, uri: str, key: SoftwareKey | bytes, pin: PinSource | None) -> Pkcs11Key:
        """Copy a software key onto the token as sensitive, non-extractable objects."""
        from hsm_adapters.software import software_key_from_pkcs8

        ref = _parse(uri, self.config)
        if ref.label is None:
            raise KeyUriError("importing a key needs object= (its label)", uri=uri)
        software = key if isinstance(key, SoftwareKey) else software_key_from_pkcs8(key)
        private = software.private
        key_id = ref.id or secrets.token_bytes(8)
        common = {Attribute.TOKEN: True, Attribute.ID: key_id, Attribute.LABEL: ref.label}
        if isinstance(private, rsa.RSAPrivateKey):
            n = private.private_numbers()
            b = _int_bytes
            priv_attrs = {Attribute.KEY_TYPE: KeyType.RSA, Attribute.MODULUS: b(n.public_numbers.n),
                          Attribute.PUBLIC_EXPONENT: b(n.public_numbers.e),
                          Attribute.PRIVATE_EXPONENT: b(n.d), Attribute.PRIME_1: b(n.p),
                          Attribute.PRIME_2: b(n.q), Attribute.EXPONENT_1: b(n.dmp1),
                          Attribute.EXPONENT_2: b(n.dmq1), Attribute.COEFFICIENT: b(n.iqmp)}
            pub_attrs = {Attribute.KEY_TYPE: KeyType.RSA, Attribute.MODULUS: b(n.public_numbers.n),
                         Attribute.PUBLIC_EXPONENT: b(n.public_numbers.e)}
        elif isinstance(private, ec.EllipticCurvePrivateKey):
            params = encode_named_curve_parameters(P256_OID)
            point = private.public_key().public_bytes(serialization.Encoding.X962,
                                                      serialization.PublicFormat.UncompressedPoint)
            priv_attrs = {Attribute.KEY_TYPE: KeyType.EC, Attribute.EC_PARAMS: params,
                          Attribute.VALUE: private.private_numbers().private_value.to_bytes(32,
                                                                                           "big")}
            from asn1crypto import core

            pub_attrs = {Attribute.KEY_TYPE: KeyType.EC, Attribute.EC_PARAMS: params,
                         Attribute.EC_POINT: core.OctetString(point).dump()}
        else:
            raise UnsupportedOperationError("SM2 import over PKCS#11 is vendor-specific",
                                            uri=uri)
        with self._borrow(ref, pin) as session:
            self._refuse_existing(session, ref)
            session.create_object({**common, **priv_attrs,
                                   Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                   Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                                   Attribute.PRIVATE: True, Attribute.SIGN: True})
            session.create_object({**common, **pub_attrs, Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                                   Attribute.VERIFY: True})
        return self.open_key(self._with_id(ref, key_id), pin)

    @staticmethod
    def _refuse_existing(session: Any, ref: _Ref) -> None:
        found = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                          **ref.match()}))
        if found:
            raise KeyExistsError("a private key with this label/id exists", uri=ref.uri)

    @staticmethod
    def _with_id(ref: _Ref, key_id: bytes) -> str:
        if ref.id is not None:
            return ref.uri
        head, sep, query = ref.uri.partition("?")
        return f"{head};id={quote(key_id, safe='')}{sep}{query}"

    def set_certificate_chain(
        self, uri: str, chain: Sequence[bytes], pin: PinSource | None = None
    ) -> None:
        with self.open_key(uri, pin) as key:
            certs = validate_chain(uri, key.public_key_der(), chain)
        ref = _parse(uri, self.config)
        with self._borrow(ref, pin) as session:
            private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=ref.label,
                                      id=ref.id)
            key_id, label = private[Attribute.ID], private[Attribute.LABEL]
            for old in list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE,
                                                 Attribute.ID: key_id})):
                old.destroy()
            for index, der in enumerate(certs):
                cert = x509.Certificate.load(der)
                session.create_object({
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True, Attribute.ID: key_id,
                    Attribute.LABEL: label if index == 0 else f"{label}.chain.{index}",
                    Attribute.SUBJECT: cert.subject.dump(), Attribute.VALUE: der,
                })

    def list_keys(self, uri: str, pin: PinSource | None = None) -> list[KeyInfo]:
        """Private keys on the token (``uri`` names it, e.g. ``pkcs11:token=X``)."""
        ref = _parse(uri, self.config, need_object=False)
        out = []
        base = "pkcs11:" + ";".join(
            f"{k}={quote(v, safe='')}" for k, v in (("token", ref.token), ("serial", ref.serial))
            if v is not None)
        query = uri.partition("?")[2]
        with self._borrow(ref, pin) as session:
            # One find operation per session at a time: materialise before nested searches.
            for obj in list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})):
                label, key_id = obj[Attribute.LABEL], bytes(obj[Attribute.ID])
                algorithm = self._algorithm_of(session, key_id)
                certs = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE,
                                                  Attribute.ID: key_id}))
                key_uri = f"{base};object={quote(label, safe='')};id={quote(key_id, safe='')}"
                out.append(KeyInfo(key_uri + (f"?{query}" if query else ""), algorithm,
                                   bool(certs)))
        return out

    @staticmethod
    def _algorithm_of(session: Any, key_id: bytes) -> str:
        try:
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
            return trust_keys.algorithm_of_spki(_spki_of_public(public))
        except (p11_errors.PKCS11Error, InputError, ValueError, KeyError):
            return "unknown"

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
