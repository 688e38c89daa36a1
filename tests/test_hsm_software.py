"""The ``file:`` store: encrypted PKCS#8 on disk, checked with openssl and cryptography."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsm_adapters import (
    KeyExistsError,
    KeyNotFoundError,
    KeyStoreError,
    KeyStoreRegistry,
    KeyUriError,
    LiteralPin,
    PinError,
)
from hsm_adapters.software import FileKeyStore
from tests.support import require
from trust.errors import InputError
from trust.keys import SoftwareKey, signature_algorithm_oid, verify_signature

PIN = LiteralPin("correct horse battery staple")


def _openssl_sm2_verify(tmp: Path, spki: bytes, message: bytes, signature: bytes) -> bool:
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


@pytest.fixture
def store(tmp_path: Path) -> FileKeyStore:
    return FileKeyStore(tmp_path)


def test_sm2_key_round_trips_and_openssl_verifies(store: FileKeyStore, tmp_path: Path) -> None:
    require(shutil.which("openssl") is not None, "openssl CLI")
    generated = store.generate("file:keys/seal.p8", "sm2", PIN)
    with store.open_key("file:keys/seal.p8", PIN) as key:
        assert key.algorithm == "sm2"
        assert key.public_key_der() == generated.public_key_der()
        signature = key.sign(b"licence bytes")
        assert _openssl_sm2_verify(tmp_path, key.public_key_der(), b"licence bytes", signature)
        assert not _openssl_sm2_verify(tmp_path, key.public_key_der(), b"licence bytez",
                                       signature)
        assert key.health().up


def test_key_file_is_scrypt_pbes2_readable_by_openssl(store: FileKeyStore, tmp_path: Path) -> None:
    require(shutil.which("openssl") is not None, "openssl CLI")
    key = store.generate("file:k.p8", "ecdsa-p256", PIN)
    path = tmp_path / "k.p8"
    assert path.stat().st_mode & 0o777 == 0o600
    out = subprocess.run(
        ["openssl", "pkcs8", "-inform", "DER", "-in", str(path), "-passin",
         "pass:correct horse battery staple", "-outform", "DER"],
        capture_output=True, timeout=30, check=True,
    ).stdout
    private = serialization.load_der_private_key(out, None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key_der()
    dump = subprocess.run(["openssl", "asn1parse", "-inform", "DER", "-in", str(path)],
                          capture_output=True, text=True, timeout=30, check=True).stdout
    assert ":scrypt" in dump
    assert "aes-256-cbc" in dump


@pytest.mark.parametrize("algorithm", ["rsa-2048", "ecdsa-p256"])
def test_rsa_and_ecdsa_signatures_verify_with_cryptography(
    store: FileKeyStore, algorithm: str
) -> None:
    store.generate(f"file:{algorithm}.p8", algorithm, PIN)
    key = store.open_key(f"file:{algorithm}.p8", PIN)
    public = serialization.load_der_public_key(key.public_key_der())
    signature = key.sign(b"payload")
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, b"payload", ec.ECDSA(hashes.SHA256()))
    assert key.algorithm == algorithm


def test_wrong_password_corrupt_file_and_missing_key(store: FileKeyStore, tmp_path: Path) -> None:
    store.generate("file:a.p8", "sm2", PIN)
    with pytest.raises(PinError) as info:
        store.open_key("file:a.p8", LiteralPin("wrong"))
    assert info.value.uri == "file:a.p8"
    assert "wrong" not in info.value.message.replace("wrong password", "")
    (tmp_path / "junk.p8").write_bytes(b"\x30\x03\x02\x01\x00")
    with pytest.raises(KeyStoreError):
        store.open_key("file:junk.p8", PIN)
    (tmp_path / "huge.p8").write_bytes(b"\x30" * 100_000)
    with pytest.raises(KeyStoreError):
        store.open_key("file:huge.p8", PIN)
    with pytest.raises(KeyNotFoundError):
        store.open_key("file:absent.p8", PIN)
    with pytest.raises(KeyExistsError):
        store.generate("file:a.p8", "sm2", PIN)
    with pytest.raises(KeyUriError):
        store.open_key("file://remote.host/a.p8", PIN)


def _self_signed(key: SoftwareKey) -> bytes:
    private = key.private
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "seal")])
    import datetime as dt

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(private, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_import_chain_and_list(tmp_path: Path) -> None:
    software = SoftwareKey.generate("ecdsa-p256")
    other = SoftwareKey.generate("ecdsa-p256")
    with KeyStoreRegistry(base_dir=tmp_path, entry_points=False) as stores:
        stores.import_key("file:keys/imp.p8", software, PIN)
        stores.generate("file:keys/gen.p8", "rsa-2048", PIN)
        cert = _self_signed(software)
        with pytest.raises(KeyStoreError, match="different public key"):
            stores.set_certificate_chain("file:keys/imp.p8", [_self_signed(other)], PIN)
        with pytest.raises(KeyStoreError):
            stores.set_certificate_chain("file:keys/imp.p8", [b"\x30\x00"], PIN)
        stores.set_certificate_chain("file:keys/imp.p8", [cert], PIN)
        key = stores.open_key("file:keys/imp.p8", PIN)
        assert key.certificate_chain() == [cert]
        assert key.public_key_der() == software.public_key_der()
        listed = {info.uri: info for info in stores.list_keys("file:keys", PIN)}
        assert set(listed) == {"file:keys/imp.p8", "file:keys/gen.p8"}
        assert listed["file:keys/imp.p8"].has_certificate
        assert listed["file:keys/gen.p8"].algorithm == "rsa-2048"
        locked = {info.uri: info.algorithm for info in stores.list_keys("file:keys")}
        assert locked == {"file:keys/imp.p8": "ecdsa-p256", "file:keys/gen.p8": "unknown"}
    assert (tmp_path / "keys" / "imp.chain.pem").exists()


def test_import_from_pkcs8_der(store: FileKeyStore) -> None:
    software = SoftwareKey.generate("sm2")
    der = software.private.to_der()  # type: ignore[union-attr]
    key = store.import_key("file:from-der.p8", der, PIN)
    assert key.public_key_der() == software.public_key_der()
    with pytest.raises(InputError):
        store.import_key("file:bad.p8", b"\x30\x01\x00", PIN)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048))
def test_hostile_key_files_give_typed_errors(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "fuzz.p8").write_bytes(data)
    with pytest.raises(KeyStoreError):
        FileKeyStore(tmp_path).open_key("file:fuzz.p8", PIN)


@pytest.fixture(scope="module")
def valid_key_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    base = tmp_path_factory.mktemp("valid")
    key = FileKeyStore(base).generate("file:v.p8", "sm2", PIN)
    return (base / "v.p8").read_bytes(), key.public_key_der()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_mutated_key_file_opens_unchanged_or_fails_typed(
    tmp_path: Path, valid_key_file: tuple[bytes, bytes], position: int, value: int
) -> None:
    data, spki = valid_key_file
    mutated = bytearray(data)
    mutated[position % len(data)] = value
    (tmp_path / "m.p8").write_bytes(bytes(mutated))
    try:
        key = FileKeyStore(tmp_path).open_key("file:m.p8", PIN)
    except KeyStoreError:
        return
    assert key.public_key_der() == spki


def test_file_key_signs_from_several_threads(store: FileKeyStore) -> None:
    import threading

    key = store.generate("file:threads.p8", "sm2", PIN)
    results: list[tuple[bytes, bytes]] = []
    lock = threading.Lock()

    def work(tag: int) -> None:
        for n in range(50):
            message = b"%d:%d" % (tag, n)
            signature = key.sign(message)
            with lock:
                results.append((message, signature))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200
    oid = signature_algorithm_oid("sm2")
    assert all(verify_signature(key.public_key_der(), oid, m, s) for m, s in results)
