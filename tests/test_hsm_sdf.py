"""GM/T 0018 SDF adapter against the software SDF library compiled from tests/sdf/softsdf.c.

The real ctypes path runs: device, sessions, access right, public-key export,
SDF_InternalSign_ECC, struct layouts (ECCref_MAX_LEN 64 and 32) and SDR error
codes. Keys are made by the openssl CLI and signatures verified by it.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from asn1crypto import pem

from hsm_adapters import (
    DeviceError,
    KeyNotFoundError,
    KeyStoreRegistry,
    KeyStoreUnavailableError,
    LiteralPin,
    PinError,
    UnsupportedOperationError,
)
from hsm_adapters.sdf import SdfConfig, SdfKeyStore
from tests.sdf import harness
from tests.support import require
from trust.keys import signature_algorithm_oid, verify_signature

pytestmark = pytest.mark.sdf
PASSWORD = b"dev1ce-pass"


@pytest.fixture(scope="session")
def libraries(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    require(harness.have_gcc(), "gcc and libssl-dev to build the software SDF library")
    out = tmp_path_factory.mktemp("softsdf")
    return {n: harness.build_softsdf(out, n) for n in (64, 32)}


@pytest.fixture
def device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "device"
    harness.add_sdf_key(directory, 1, PASSWORD)
    harness.add_sdf_key(directory, 2, b"other")
    monkeypatch.setenv("SOFTSDF_DIR", str(directory))
    return directory


def _uri(lib: Path, index: int = 1, max_len: int = 64) -> str:
    return f"sdf:key-index={index}?module-path={lib}&ecc-max-len={max_len}"


def _openssl_verify(tmp: Path, spki: bytes, message: bytes, signature: bytes) -> bool:
    (tmp / "pub.pem").write_bytes(pem.armor("PUBLIC KEY", spki))
    (tmp / "msg").write_bytes(message)
    (tmp / "sig").write_bytes(signature)
    result = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp / "pub.pem"), "-rawin",
         "-in", str(tmp / "msg"), "-sigfile", str(tmp / "sig"), "-digest", "sm3",
         "-pkeyopt", "distid:1234567812345678"],
        capture_output=True, timeout=30,
    )
    return result.returncode == 0


@pytest.mark.parametrize("max_len", [64, 32])
def test_signature_verifies_with_openssl(
    libraries: dict[int, Path], device: Path, tmp_path: Path, max_len: int
) -> None:
    with SdfKeyStore(base_dir=tmp_path).open_key(
        _uri(libraries[max_len], max_len=max_len), LiteralPin(PASSWORD)
    ) as key:
        expected = subprocess.run(
            ["openssl", "pkey", "-in", str(device / "sign_1.pem"), "-pubout", "-outform", "DER"],
            capture_output=True, check=True, timeout=30).stdout
        assert key.public_key_der() == expected
        assert key.algorithm == "sm2"
        message = b"\xe7\x94\xb5\xe5\xad\x90\xe8\xaf\x81\xe7\x85\xa7 licence"
        signature = key.sign(message)
        assert _openssl_verify(tmp_path, key.public_key_der(), message, signature)
        assert not _openssl_verify(tmp_path, key.public_key_der(), message + b"!", signature)
        assert verify_signature(key.public_key_der(), signature_algorithm_oid("sm2"), message,
                                signature)
        assert key.health().up


def test_wrong_password_is_pin_error_with_sdr_code(libraries: dict[int, Path], device: Path) -> None:
    with pytest.raises(PinError) as info:
        SdfKeyStore().open_key(_uri(libraries[64]), LiteralPin(b"guess-1234"))
    assert info.value.vendor_name == "SDR_PARDENY"
    assert info.value.vendor_code == 0x01000007
    assert info.value.uri == _uri(libraries[64])
    assert "guess-1234" not in str(info.value)


def test_missing_library_device_and_key(
    libraries: dict[int, Path], device: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = SdfKeyStore()
    with pytest.raises(KeyStoreUnavailableError, match="cannot load SDF library"):
        store.open_key(_uri(tmp_path / "libabsent.so"), LiteralPin(PASSWORD))
    with pytest.raises(KeyNotFoundError) as info:
        store.open_key(_uri(libraries[64], index=7), LiteralPin(PASSWORD))
    assert info.value.vendor_name == "SDR_KEYNOTEXIST"
    monkeypatch.setenv("SOFTSDF_DIR", str(tmp_path / "unplugged"))
    with pytest.raises(KeyStoreUnavailableError) as absent:
        store.open_key(_uri(libraries[64]), LiteralPin(PASSWORD))
    assert absent.value.vendor_name == "SDR_OPENDEVICE"


def test_device_failure_in_the_middle_of_a_batch(libraries: dict[int, Path], device: Path) -> None:
    key = SdfKeyStore().open_key(_uri(libraries[64]), LiteralPin(PASSWORD))
    (device / "fault").write_text("3\n")
    signatures = []
    with pytest.raises(DeviceError) as info:
        for n in range(10):
            signatures.append(key.sign(b"licence %d" % n))
    assert len(signatures) == 3
    assert info.value.vendor_name == "SDR_HARDFAIL"
    assert info.value.vendor_code == 0x01000004
    assert info.value.uri == key.uri
    health = key.health()
    assert not health.up
    assert health.code == "keystore.device"
    (device / "fault").unlink()
    assert key.health().up
    key.close()


def test_struct_size_mismatch_is_detected(libraries: dict[int, Path], device: Path) -> None:
    # A 32-byte-layout library read as 64: non-zero "padding" must be refused, not signed with.
    with pytest.raises(DeviceError, match="ECCref_MAX_LEN"):
        SdfKeyStore().open_key(_uri(libraries[32], max_len=64), LiteralPin(PASSWORD))


def test_concurrent_signing_through_the_session_pool(
    libraries: dict[int, Path], device: Path
) -> None:
    store = SdfKeyStore(SdfConfig(pool_size=3))
    key = store.open_key(_uri(libraries[64]), LiteralPin(PASSWORD))
    results: list[tuple[bytes, bytes]] = []
    lock = threading.Lock()

    def work(tag: int) -> None:
        for n in range(20):
            message = b"%d-%d" % (tag, n)
            signature = key.sign(message)
            with lock:
                results.append((message, signature))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80
    oid = signature_algorithm_oid("sm2")
    assert all(verify_signature(key.public_key_der(), oid, m, s) for m, s in results)
    key.close()


def test_registry_list_and_unsupported_operations(
    libraries: dict[int, Path], device: Path, tmp_path: Path
) -> None:
    with KeyStoreRegistry(base_dir=tmp_path, entry_points=False) as stores:
        listed = stores.list_keys(f"sdf:?module-path={libraries[64]}")
        assert [info.uri for info in listed] == [
            f"sdf:key-index=1?module-path={libraries[64]}",
            f"sdf:key-index=2?module-path={libraries[64]}",
        ]
        with pytest.raises(UnsupportedOperationError):
            stores.generate(_uri(libraries[64], index=3), "sm2", LiteralPin(PASSWORD))
        key = stores.open_key(listed[1].uri, LiteralPin(b"other"))
        assert key.health().up


def _self_signed_sm2(key: object) -> bytes:
    """A self-signed SM2 certificate whose signature the SDF device makes (asn1crypto)."""
    import datetime as dt

    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509

    from trust import oids

    name = x509.Name.build({"common_name": "SDF seal"})
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    sig_alg = {"algorithm": oids.SM2_WITH_SM3}
    tbs = x509.TbsCertificate({
        "version": "v3", "serial_number": 1, "signature": sig_alg, "issuer": name,
        "validity": {"not_before": x509.Time({"utc_time": now}),
                     "not_after": x509.Time({"utc_time": now + dt.timedelta(days=1)})},
        "subject": name,
        "subject_public_key_info": asn1_keys.PublicKeyInfo.load(key.public_key_der()),  # type: ignore[attr-defined]
    })
    signature = key.sign(tbs.dump())  # type: ignore[attr-defined]
    cert = x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": sig_alg,
                             "signature_value": signature})
    return cert.dump()  # type: ignore[no-any-return]


def test_certificate_chain_is_kept_beside_the_device(
    libraries: dict[int, Path], device: Path, tmp_path: Path
) -> None:
    store = SdfKeyStore(base_dir=tmp_path)
    uri = _uri(libraries[64])
    with store.open_key(uri, LiteralPin(PASSWORD)) as key:
        cert = _self_signed_sm2(key)
        assert key.certificate_chain() == []
    with pytest.raises(Exception, match="different public key"):
        store.set_certificate_chain(_uri(libraries[64], index=2), [cert])
    store.set_certificate_chain(uri, [cert])
    with store.open_key(uri, LiteralPin(PASSWORD)) as key:
        assert key.certificate_chain() == [cert]
    from asn1crypto import x509

    parsed = x509.Certificate.load(cert, strict=True)
    assert verify_signature(key.public_key_der(), signature_algorithm_oid("sm2"),
                            parsed["tbs_certificate"].dump(), parsed["signature_value"].native)
    assert [info.has_certificate for info in store.list_keys(
        f"sdf:?module-path={libraries[64]}")] == [True, False]


# --- internal key-encryption keys (data at rest) -----------------------------------------

def _sm4(mode: object, key: bytes, data: bytes, encrypt: bool) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    cipher = Cipher(algorithms.SM4(key), mode)  # type: ignore[arg-type]
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(data) + op.finalize()


def test_internal_kek_wraps_data_keys_and_an_independent_reader_agrees(
        libraries: dict[int, Path], device: Path) -> None:
    """Wrapped under kek_1 inside the device; read back with ``cryptography``'s SM4 only."""
    import struct

    from cryptography.hazmat.primitives.ciphers import modes

    from hsm_adapters.wrapping import UnwrapError

    kek_value = harness.add_sdf_kek(device, 1)
    harness.add_sdf_kek(device, 2)
    store = SdfKeyStore(SdfConfig(pool_size=2))
    uri = f"sdf:kek-index=1?module-path={libraries[64]}"
    with store.open_wrapping_key(uri, None) as kek:
        wrapped = kek.wrap(b"D" * 16, b"licence A")
        assert kek.unwrap(wrapped, b"licence A") == b"D" * 16
        with pytest.raises(UnwrapError):
            kek.unwrap(wrapped, b"licence B")
        with pytest.raises(UnwrapError):
            kek.unwrap(wrapped[:-1] + bytes([wrapped[-1] ^ 1]), b"licence A")
    with store.open_wrapping_key(f"sdf:kek-index=2?module-path={libraries[64]}", None) as other, \
            pytest.raises(UnwrapError):
        other.unwrap(wrapped, b"licence A")
    assert wrapped[0] == 0x03 and len(wrapped) == 81
    w1, w2, iv, ciphertext, mac = (wrapped[1 + i:17 + i] for i in range(0, 80, 16))
    s1 = _sm4(modes.ECB(), kek_value, w1, encrypt=False)
    s2 = _sm4(modes.ECB(), kek_value, w2, encrypt=False)
    data = struct.pack(">Q", 9) + b"licence A" + iv + ciphertext
    data += bytes(-len(data) % 16)
    assert _sm4(modes.CBC(bytes(16)), s2, data, encrypt=True)[-16:] == mac
    assert _sm4(modes.CBC(iv), s1, ciphertext, encrypt=False) == b"D" * 16


def test_missing_internal_kek_is_key_not_found(libraries: dict[int, Path], device: Path) -> None:
    with pytest.raises(KeyNotFoundError):
        SdfKeyStore().open_wrapping_key(f"sdf:kek-index=7?module-path={libraries[64]}", None)
