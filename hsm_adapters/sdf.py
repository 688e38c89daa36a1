"""``sdf:`` keys: SM2 signing keys inside a GM/T 0018 cipher machine, via ctypes.

    sdf:key-index=1?module-path=/opt/vendor/libsdf.so&ecc-max-len=64

The PIN is the private-key access password (SDF_GetPrivateKeyAccessRight).
The host computes e = SM3(Z || M) with the configured user ID and the device
signs e with SDF_InternalSign_ECC; r, s come back in an ECCSignature and are
returned as DER. Each key owns a device handle and a fixed pool of sessions,
each holding the access right, so threads sign in parallel (ctypes releases
the GIL during the call). Key generation and import happen with the vendor's
management tools: GM/T 0018 has no call for them.
"""

from __future__ import annotations

import ctypes
import hashlib
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from asn1crypto import pem

from hsm_adapters.base import Key, KeyInfo, KeyStore, validate_chain
from hsm_adapters.errors import (
    DeviceError,
    KeyNotFoundError,
    KeyStoreError,
    KeyStoreUnavailableError,
    KeyUriError,
    PinError,
    UnsupportedOperationError,
)
from hsm_adapters.pins import PinSource, read_pin
from hsm_adapters.sdf_structs import (
    SDR_KEYNOTEXIST,
    SDR_OK,
    SDR_OPENDEVICE,
    SDR_PARDENY,
    EccLayout,
    layout,
    sdr_name,
)
from hsm_adapters.uri import KeyUri
from hsm_adapters.wrapping import WrappingKey
from trust import sm2, sm3
from trust.keys import SoftwareKey

__all__ = ["SdfConfig", "SdfKey", "SdfKeyStore"]

MAX_INDEX: Final = 1024
_LIBS: dict[str, ctypes.CDLL] = {}
_LIBS_LOCK = threading.Lock()
_VP = ctypes.c_void_p


@dataclass(frozen=True)
class SdfConfig:
    """Defaults for URIs that do not say: library, struct size, pool, user ID."""

    module_path: str | None = None
    ecc_max_len: int = 64
    pool_size: int = 4
    sm2_uid: bytes = sm2.DEFAULT_UID
    list_max_index: int = 16

    def __post_init__(self) -> None:
        if self.ecc_max_len not in (32, 64):
            raise ValueError("ecc_max_len must be 32 or 64")
        if not 1 <= self.pool_size <= 64:
            raise ValueError("pool_size must be within 1..64")


def _raise_for(rc: int, what: str, uri: str) -> None:
    if rc == SDR_OK:
        return
    name = sdr_name(rc)
    cls: type[KeyStoreError]
    if rc == SDR_PARDENY:
        cls, what = PinError, f"{what}: access denied (wrong password?)"
    elif rc == SDR_KEYNOTEXIST:
        cls = KeyNotFoundError
    elif rc == SDR_OPENDEVICE:
        cls = KeyStoreUnavailableError
    else:
        cls = DeviceError
    raise cls(what, uri=uri, vendor_code=rc & 0xFFFFFFFF, vendor_name=name)


def _load_library(path: str, uri: str) -> ctypes.CDLL:
    with _LIBS_LOCK:
        lib = _LIBS.get(path)
        if lib is not None:
            return lib
        try:
            lib = ctypes.CDLL(path)
            for name, args in (
                ("SDF_OpenDevice", [ctypes.POINTER(_VP)]),
                ("SDF_CloseDevice", [_VP]),
                ("SDF_OpenSession", [_VP, ctypes.POINTER(_VP)]),
                ("SDF_CloseSession", [_VP]),
                ("SDF_GetPrivateKeyAccessRight",
                 [_VP, ctypes.c_uint, ctypes.c_char_p, ctypes.c_uint]),
                ("SDF_ReleasePrivateKeyAccessRight", [_VP, ctypes.c_uint]),
                ("SDF_ExportSignPublicKey_ECC", [_VP, ctypes.c_uint, _VP]),
                ("SDF_InternalSign_ECC",
                 [_VP, ctypes.c_uint, ctypes.c_char_p, ctypes.c_uint, _VP]),
            ):
                fn = getattr(lib, name)
                fn.argtypes = args
                fn.restype = ctypes.c_int
        except OSError as exc:
            raise KeyStoreUnavailableError(f"cannot load SDF library: {exc}", uri=uri) from None
        except AttributeError as exc:
            raise KeyStoreUnavailableError(f"not an SDF library: {exc}", uri=uri) from None
        _LIBS[path] = lib
        return lib


@dataclass(frozen=True)
class _Ref:
    uri: str
    module_path: str
    index: int
    layout: EccLayout


class _Device:
    """One open device handle and helpers that map SDR codes; used under the pool."""

    def __init__(self, ref: _Ref) -> None:
        self.ref = ref
        self.lib = _load_library(ref.module_path, ref.uri)
        handle = _VP()
        _raise_for(self.lib.SDF_OpenDevice(ctypes.byref(handle)), "cannot open device", ref.uri)
        self.handle = handle

    def open_session(self) -> ctypes.c_void_p:
        session = _VP()
        _raise_for(self.lib.SDF_OpenSession(self.handle, ctypes.byref(session)),
                   "cannot open session", self.ref.uri)
        return session

    def close_session(self, session: ctypes.c_void_p) -> None:
        self.lib.SDF_CloseSession(session)

    def export_point(self, session: ctypes.c_void_p) -> bytes:
        pk = self.ref.layout.new_public_key()
        _raise_for(self.lib.SDF_ExportSignPublicKey_ECC(session, self.ref.index,
                                                        ctypes.byref(pk)),
                   f"no signing key at index {self.ref.index}", self.ref.uri)
        try:
            return self.ref.layout.point(pk)
        except ValueError as exc:
            raise DeviceError(str(exc), uri=self.ref.uri) from None

    def close(self) -> None:
        self.lib.SDF_CloseDevice(self.handle)


def _parse(uri: str, config: SdfConfig) -> _Ref:
    ref = KeyUri.parse(uri)
    if ref.scheme != "sdf":
        raise KeyUriError("not an sdf: key URI", uri=uri)
    try:
        index = int(ref.path.get("key-index", ""))
        max_len = int(ref.query.get("ecc-max-len", config.ecc_max_len))
    except ValueError:
        raise KeyUriError("key-index and ecc-max-len must be integers", uri=uri) from None
    if not 1 <= index <= MAX_INDEX:
        raise KeyUriError(f"key-index must be within 1..{MAX_INDEX}", uri=uri)
    if max_len not in (32, 64):
        raise KeyUriError("ecc-max-len must be 32 or 64", uri=uri)
    module = ref.query.get("module-path", config.module_path)
    if not module:
        raise KeyUriError("no module-path in the URI and no default library", uri=uri)
    return _Ref(uri, module, index, layout(max_len))


class SdfKey(Key):
    """An SM2 key at an index of an SDF device, with a pool of authorised sessions."""

    adapter = "sdf"

    def __init__(self, device: _Device, sessions: list[ctypes.c_void_p], point: bytes,
                 chain: Sequence[bytes], sm2_uid: bytes) -> None:
        super().__init__(device.ref.uri, sm2.PublicKey.from_point(point).to_der(), chain,
                         sm2_uid=sm2_uid)
        self._device = device
        self._point = point
        self._all = list(sessions)
        self._pool: queue.SimpleQueue[ctypes.c_void_p] = queue.SimpleQueue()
        for session in sessions:
            self._pool.put(session)

    def _sign(self, message: bytes) -> bytes:
        ref = self._device.ref
        e = sm3.e_value(self._point, message, self._sm2_uid)
        sig = ref.layout.new_signature()
        session = self._pool.get()
        try:
            rc = self._device.lib.SDF_InternalSign_ECC(session, ref.index, e, len(e),
                                                       ctypes.byref(sig))
        finally:
            self._pool.put(session)
        _raise_for(rc, "SDF_InternalSign_ECC failed", ref.uri)
        try:
            return ref.layout.signature_der(sig)
        except ValueError as exc:
            raise DeviceError(f"malformed device signature: {exc}", uri=ref.uri) from None

    def _close(self) -> None:
        index = self._device.ref.index
        for session in self._all:
            self._device.lib.SDF_ReleasePrivateKeyAccessRight(session, index)
            self._device.close_session(session)
        self._device.close()


class SdfKeyStore(KeyStore):
    """GM/T 0018 devices; certificate chains are kept as PEM files under ``base_dir/sdf``."""

    scheme = "sdf"

    def __init__(self, config: SdfConfig | None = None, base_dir: Path | None = None) -> None:
        self.config = config or SdfConfig()
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()

    def _chain_path(self, ref: _Ref) -> Path:
        device = hashlib.sha256(ref.module_path.encode()).hexdigest()[:12]
        return self.base_dir / "sdf" / f"{device}-{ref.index}.chain.pem"

    def _chain(self, ref: _Ref) -> list[bytes]:
        path = self._chain_path(ref)
        if not path.exists():
            return []
        return [der for _, _, der in pem.unarmor(path.read_bytes(), multiple=True)]

    def open_key(self, uri: str, pin: PinSource | None) -> SdfKey:
        ref = _parse(uri, self.config)
        device = _Device(ref)
        sessions: list[ctypes.c_void_p] = []
        try:
            secret = read_pin(pin, uri)
            point = b""
            for _ in range(self.config.pool_size):
                session = device.open_session()
                sessions.append(session)
                if not point:
                    point = device.export_point(session)
                _raise_for(device.lib.SDF_GetPrivateKeyAccessRight(session, ref.index, secret,
                                                                   len(secret)),
                           "cannot get private key access right", uri)
            del secret
            return SdfKey(device, sessions, point, self._chain(ref), self.config.sm2_uid)
        except BaseException:
            for session in sessions:
                device.close_session(session)
            device.close()
            raise

    def public_key_der(self, uri: str) -> bytes:
        """The signing public key at ``uri`` (no PIN needed)."""
        ref = _parse(uri, self.config)
        device = _Device(ref)
        try:
            session = device.open_session()
            try:
                return sm2.PublicKey.from_point(device.export_point(session)).to_der()
            finally:
                device.close_session(session)
        finally:
            device.close()

    def open_wrapping_key(self, uri: str, pin: PinSource | None) -> WrappingKey:
        """The device's internal KEK at ``sdf:kek-index=N`` (no access password needed)."""
        from hsm_adapters.sdf_kek import open_sdf_kek

        return open_sdf_kek(uri, self.config)

    def generate_wrapping_key(self, uri: str, pin: PinSource | None) -> WrappingKey:
        """GM/T 0018 cannot create KEKs: the management tool does; this checks it exists."""
        return self.open_wrapping_key(uri, pin)

    def generate(self, uri: str, algorithm: str, pin: PinSource | None) -> Key:
        raise UnsupportedOperationError(
            "GM/T 0018 has no key generation call; use the device's management tool", uri=uri)

    def import_key(self, uri: str, key: SoftwareKey | bytes, pin: PinSource | None) -> Key:
        raise UnsupportedOperationError(
            "GM/T 0018 has no key import call; use the device's management tool", uri=uri)

    def set_certificate_chain(
        self, uri: str, chain: Sequence[bytes], pin: PinSource | None = None
    ) -> None:
        ref = _parse(uri, self.config)
        certs = validate_chain(uri, self.public_key_der(uri), chain)
        path = self._chain_path(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(pem.armor("CERTIFICATE", der) for der in certs))

    def list_keys(self, uri: str, pin: PinSource | None = None) -> list[KeyInfo]:
        """Indices 1..list_max_index that export a signing key (``uri`` names the device)."""
        KeyUri.parse(uri)  # refuses malformed URIs and PINs before anything is loaded
        base = _parse(f"sdf:key-index=1?{uri.partition('?')[2]}", self.config)
        device = _Device(base)
        out = []
        try:
            session = device.open_session()
            try:
                for index in range(1, self.config.list_max_index + 1):
                    probe = _Ref(base.uri, base.module_path, index, base.layout)
                    pk = base.layout.new_public_key()
                    rc = device.lib.SDF_ExportSignPublicKey_ECC(session, index, ctypes.byref(pk))
                    if rc != SDR_OK:
                        continue
                    key_uri = f"sdf:key-index={index}?{uri.partition('?')[2]}"
                    has_chain = self._chain_path(probe).exists()
                    out.append(KeyInfo(key_uri.rstrip("?"), "sm2", has_chain))
            finally:
                device.close_session(session)
        finally:
            device.close()
        return out
