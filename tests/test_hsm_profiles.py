"""SM2-over-PKCS#11 vendor profiles, with pure-Python gmssl standing in for the device.

No free PKCS#11 token implements SM2, so the device is simulated by gmssl
(an implementation independent of OpenSSL) doing what each profile says the
vendor's mechanism does; the resulting signature must verify with
trust.sm2 (OpenSSL). This proves the host side (hashing split, Z, output
decoding) but not any real vendor token.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from gmssl import func
from gmssl import sm3 as gm_sm3

from hsm_adapters.pkcs11 import Pkcs11Config, Pkcs11Key, _Ref
from hsm_adapters.pkcs11_profiles import PROFILES, Sm2Profile, profile
from tests.gmssl_oracle import crypt_sm2
from trust import sm2
from trust.errors import InputError, SealTrustError

MESSAGE = b"electronic licence \xe7\x94\xb5\xe5\xad\x90\xe8\xaf\x81\xe7\x85\xa7"


class _GmsslDevice:
    """A private-key object whose C_Sign behaves as the profile claims the vendor's does."""

    def __init__(self, key: sm2.PrivateKey, prof: Sm2Profile, d: int) -> None:
        self.prof = prof
        self.calls: list[tuple[bytes, int]] = []
        self.gm = crypt_sm2(key.public_key().point, f"{d:064x}", asn1=prof.output == "der")

    def sign(self, data: bytes, mechanism: int) -> bytes:
        self.calls.append((data, mechanism))
        k = func.random_hex(self.gm.para_len)
        if self.prof.hashing == "host-e":
            assert len(data) == 32
            out = self.gm.sign(data, k)
        elif self.prof.hashing == "host-z":
            e = bytes.fromhex(gm_sm3.sm3_hash(func.bytes_to_list(data)))
            out = self.gm.sign(e, k)
        else:
            out = self.gm.sign_with_sm3(data, k)
        return bytes.fromhex(out)


def _key() -> tuple[sm2.PrivateKey, int]:
    d = secrets.randbelow(sm2.N - 2) + 1
    return sm2.PrivateKey.from_scalar(d), d


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_each_profile_yields_a_standard_sm2_signature(name: str) -> None:
    key, d = _key()
    prof = profile(name)
    device = _GmsslDevice(key, prof, d)
    data = prof.prepare(key.public_key().point, MESSAGE, sm2.DEFAULT_UID)
    der = prof.to_der(device.sign(data, prof.mechanism))
    assert key.public_key().verify(MESSAGE, der)
    assert not key.public_key().verify(MESSAGE + b".", der)


def test_host_hashing_honours_a_configured_user_id() -> None:
    key, d = _key()
    prof = profile("sansec")
    uid = b"seal-office-42"
    der = prof.to_der(_GmsslDevice(key, prof, d).sign(
        prof.prepare(key.public_key().point, MESSAGE, uid), prof.mechanism))
    assert key.public_key().verify(MESSAGE, der, uid)
    assert not key.public_key().verify(MESSAGE, der)
    with pytest.raises(InputError):
        profile("tass").prepare(key.public_key().point, MESSAGE, uid)


def test_device_output_is_checked() -> None:
    with pytest.raises(SealTrustError):
        profile("sansec").to_der(b"\x01" * 63)
    with pytest.raises(SealTrustError):
        profile("ibm").to_der(b"\x30\x02\x02\x00")
    with pytest.raises(InputError):
        profile("nope")
    with pytest.raises(ValueError):
        Sm2Profile("x", 1, None, "sometimes", "raw")  # type: ignore[arg-type]


class _Pool:
    """The session-pool interface Pkcs11Key uses, over one fake session."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.out = 0

    def checkout(self) -> Any:
        self.out += 1
        return self._session

    def checkin(self, session: Any) -> None:
        assert session is self._session
        self.out -= 1


class _Session:
    def __init__(self, device: _GmsslDevice) -> None:
        self.device = device

    def get_key(self, **_: Any) -> _GmsslDevice:
        return self.device


@pytest.mark.parametrize("name", ["sansec", "tass", "ibm"])
def test_pkcs11_key_signs_sm2_through_a_profile(name: str) -> None:
    key, d = _key()
    prof = profile(name)
    device = _GmsslDevice(key, prof, d)
    ref = _Ref("pkcs11:token=T;object=sm2", "/dev/null", "T", None, "sm2", None)
    p11_key = Pkcs11Key(None, _Pool(_Session(device)), ref,  # type: ignore[arg-type]
                        key.public_key().to_der(), [], Pkcs11Config(sm2_profile=prof))
    pool = p11_key._pool
    signature = p11_key.sign(MESSAGE)
    assert pool.out == 0  # type: ignore[attr-defined]
    assert key.public_key().verify(MESSAGE, signature)
    assert device.calls[-1][1] == prof.mechanism
    assert p11_key.health().up
