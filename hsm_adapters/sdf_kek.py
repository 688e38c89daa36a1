"""``sdf:`` key-encryption keys: the device's internal KEK (GM/T 0018), the key never leaves it.

    sdf:kek-index=1?module-path=/opt/vendor/libsdf.so

GM/T 0018-2012 has no call that encrypts with an internal KEK directly, nor
an AEAD mode, so a data key is wrapped with the calls every device has:
two SM4 session keys are generated inside the device and returned wrapped
under the internal KEK (``SDF_GenerateKeyWithKEK``, SGD_SM4_ECB); the first
encrypts the data key (``SDF_Encrypt``, SGD_SM4_CBC, random IV), the second
computes an SM4 CBC-MAC (``SDF_CalculateMAC``) over the length-prefixed
context, IV and ciphertext. Unwrapping imports both (``SDF_ImportKeyWithKEK``),
checks the MAC in constant time, then decrypts. Layout (mechanism 0x03):
``W1 | W2 | IV | C | MAC``, 16 bytes each (docs/encryption-at-rest.md).

KEKs are created with the device's management tool (GM/T 0018 has no call
for it); using them needs no access password.
"""

from __future__ import annotations

import ctypes
import hmac
import os
import queue
import struct
from typing import Final

from hsm_adapters.errors import KeyUriError, UnsupportedOperationError
from hsm_adapters.sdf import MAX_INDEX, SdfConfig, _Device, _raise_for, _Ref
from hsm_adapters.sdf_structs import layout
from hsm_adapters.uri import KeyUri
from hsm_adapters.wrapping import MECH_SDF_KEK, UnwrapError, WrappingKey

__all__ = ["SdfWrappingKey", "open_sdf_kek"]

SGD_SM4_ECB: Final = 0x00000401
SGD_SM4_CBC: Final = 0x00000402
SGD_SM4_MAC: Final = 0x00000410
BLOCK: Final = 16
BODY: Final = 5 * BLOCK
_VP = ctypes.c_void_p
_U = ctypes.c_uint
_B = ctypes.c_char_p
_SIGNATURES: Final = (
    ("SDF_GenerateKeyWithKEK", [_VP, _U, _U, _U, _B, ctypes.POINTER(_U), ctypes.POINTER(_VP)]),
    ("SDF_ImportKeyWithKEK", [_VP, _U, _U, _B, _U, ctypes.POINTER(_VP)]),
    ("SDF_DestroyKey", [_VP, _VP]),
    ("SDF_Encrypt", [_VP, _VP, _U, _B, _B, _U, _B, ctypes.POINTER(_U)]),
    ("SDF_Decrypt", [_VP, _VP, _U, _B, _B, _U, _B, ctypes.POINTER(_U)]),
    ("SDF_CalculateMAC", [_VP, _VP, _U, _B, _B, _U, _B, ctypes.POINTER(_U)]),
)


def _parse(uri: str, config: SdfConfig) -> _Ref:
    ref = KeyUri.parse(uri)
    if ref.scheme != "sdf":
        raise KeyUriError("not an sdf: key URI", uri=uri)
    try:
        index = int(ref.path.get("kek-index", ""))
    except ValueError:
        raise KeyUriError("an SDF KEK URI needs kek-index=N", uri=uri) from None
    if not 1 <= index <= MAX_INDEX:
        raise KeyUriError(f"kek-index must be within 1..{MAX_INDEX}", uri=uri)
    module = ref.query.get("module-path", config.module_path)
    if not module:
        raise KeyUriError("no module-path in the URI and no default library", uri=uri)
    return _Ref(uri, module, index, layout(config.ecc_max_len))


def _bind(device: _Device) -> None:
    for name, args in _SIGNATURES:
        try:
            fn = getattr(device.lib, name)
        except AttributeError:
            raise UnsupportedOperationError(f"the SDF library has no {name}: no internal-KEK "
                                            "wrapping on this device", uri=device.ref.uri
                                            ) from None
        fn.argtypes = args
        fn.restype = ctypes.c_int


class SdfWrappingKey(WrappingKey):
    """An internal SM4 KEK of an SDF device, with a pool of sessions."""

    adapter = "sdf"
    mechanism = MECH_SDF_KEK

    def __init__(self, device: _Device, sessions: list[ctypes.c_void_p]) -> None:
        super().__init__(device.ref.uri)
        self._device = device
        self._all = list(sessions)
        self._pool: queue.SimpleQueue[ctypes.c_void_p] = queue.SimpleQueue()
        for session in sessions:
            self._pool.put(session)

    def _call(self, name: str, *args: object) -> None:
        _raise_for(getattr(self._device.lib, name)(*args), f"{name} failed", self.uri)

    def _session_key(self, session: ctypes.c_void_p, wrapped: bytes | None
                     ) -> tuple[bytes, ctypes.c_void_p]:
        handle = _VP()
        index = self._device.ref.index
        if wrapped is None:
            out, size = ctypes.create_string_buffer(64), _U(64)
            self._call("SDF_GenerateKeyWithKEK", session, 128, SGD_SM4_ECB, index, out,
                       ctypes.byref(size), ctypes.byref(handle))
            if size.value != BLOCK:
                raise UnsupportedOperationError("device wraps session keys to an unexpected "
                                                "length", uri=self.uri)
            return out.raw[:BLOCK], handle
        self._call("SDF_ImportKeyWithKEK", session, SGD_SM4_ECB, index, wrapped, len(wrapped),
                   ctypes.byref(handle))
        return wrapped, handle

    def _cbc(self, session: ctypes.c_void_p, handle: ctypes.c_void_p, name: str, alg: int,
             iv: bytes, data: bytes) -> bytes:
        iv_buf, out, size = ctypes.create_string_buffer(iv, BLOCK), \
            ctypes.create_string_buffer(len(data)), _U(len(data))
        self._call(name, session, handle, alg, iv_buf, data, len(data), out, ctypes.byref(size))
        return out.raw[:size.value]

    @staticmethod
    def _mac_input(context: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        data = struct.pack(">Q", len(context)) + context + iv + ciphertext
        return data + bytes(-len(data) % BLOCK)

    def _wrap(self, data_key: bytes, context: bytes) -> bytes:
        if len(data_key) % BLOCK:
            raise UnsupportedOperationError("SDF wrapping takes whole SM4 blocks", uri=self.uri)
        session = self._pool.get()
        handles: list[ctypes.c_void_p] = []
        try:
            w1, h1 = self._session_key(session, None)
            handles.append(h1)
            w2, h2 = self._session_key(session, None)
            handles.append(h2)
            iv = os.urandom(BLOCK)
            ciphertext = self._cbc(session, h1, "SDF_Encrypt", SGD_SM4_CBC, iv, data_key)
            mac = self._cbc(session, h2, "SDF_CalculateMAC", SGD_SM4_MAC, bytes(BLOCK),
                            self._mac_input(context, iv, ciphertext))[:BLOCK]
            return w1 + w2 + iv + ciphertext + mac
        finally:
            for handle in handles:
                self._device.lib.SDF_DestroyKey(session, handle)
            self._pool.put(session)

    def _unwrap(self, body: bytes, context: bytes) -> bytes:
        if len(body) != BODY:
            raise UnwrapError("wrapped data key has the wrong length", uri=self.uri)
        w1, w2, iv, ciphertext, mac = (body[i:i + BLOCK] for i in range(0, BODY, BLOCK))
        session = self._pool.get()
        handles: list[ctypes.c_void_p] = []
        try:
            _, h2 = self._session_key(session, w2)
            handles.append(h2)
            expected = self._cbc(session, h2, "SDF_CalculateMAC", SGD_SM4_MAC, bytes(BLOCK),
                                 self._mac_input(context, iv, ciphertext))[:BLOCK]
            # Threat: a data key wrapped by another device KEK or for another licence, or
            # edited; the MAC (checked before decrypting, in constant time) refuses it.
            if not hmac.compare_digest(expected, mac):
                raise UnwrapError("wrapped data key does not authenticate under this KEK",
                                  uri=self.uri)
            _, h1 = self._session_key(session, w1)
            handles.append(h1)
            return self._cbc(session, h1, "SDF_Decrypt", SGD_SM4_CBC, iv, ciphertext)
        finally:
            for handle in handles:
                self._device.lib.SDF_DestroyKey(session, handle)
            self._pool.put(session)

    def _close(self) -> None:
        for session in self._all:
            self._device.close_session(session)
        self._device.close()


def open_sdf_kek(uri: str, config: SdfConfig) -> SdfWrappingKey:
    """The internal KEK ``uri`` names, after a wrap/unwrap probe proves the device has it."""
    ref = _parse(uri, config)
    device = _Device(ref)
    sessions: list[ctypes.c_void_p] = []
    try:
        _bind(device)
        for _ in range(config.pool_size):
            sessions.append(device.open_session())
        kek = SdfWrappingKey(device, sessions)
    except BaseException:
        for session in sessions:
            device.close_session(session)
        device.close()
        raise
    try:
        kek.health()
    except BaseException:
        kek.close()
        raise
    return kek
