"""Password-encrypted PKCS#8 (trust.pkcs8) against the openssl CLI and cryptography.

OpenSSL writes PBKDF2 and scrypt files that we must read; ours must open with
``openssl pkcs8``. Hostile files choose their own KDF cost, so oversized
parameters must be refused before any derivation starts (checked by making
the KDF itself explode if it is ever called).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import require
from trust import pkcs8, sm2
from trust.errors import InputError
from trust.pkcs8 import KeyDecryptionError

PASSWORD = b"correct horse"


@pytest.fixture(scope="module")
def openssl() -> str:
    path = shutil.which("openssl")
    require(path is not None, "openssl CLI not installed")
    assert path is not None
    return path


def _run(*args: str, data: bytes | None = None) -> bytes:
    out = subprocess.run(list(args), input=data, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout


@pytest.fixture(scope="module")
def openssl_key(openssl: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pkcs8") / "sm2.pem"
    _run(openssl, "genpkey", "-algorithm", "SM2", "-out", str(path))
    return path


def test_round_trip_sm2_key() -> None:
    key = sm2.PrivateKey.generate()
    encrypted = key.to_der(PASSWORD)
    assert key.to_der() not in encrypted
    assert sm2.PrivateKey.from_der(encrypted, PASSWORD).public_key() == key.public_key()
    assert pkcs8.decrypt(encrypted, PASSWORD) == key.to_der()


def test_round_trip_readable_by_cryptography() -> None:
    """An independent PBES2/scrypt reader opens what we write (for a key type it knows)."""
    private = ec.generate_private_key(ec.SECP256R1())
    plain = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    encrypted = pkcs8.encrypt(plain, PASSWORD)
    loaded = serialization.load_der_private_key(encrypted, PASSWORD)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert loaded.private_numbers() == private.private_numbers()
    assert pkcs8.decrypt(encrypted, PASSWORD) == plain


@pytest.mark.parametrize("wrong", [b"correct horsf", b"x", b"correct horse "])
def test_wrong_password(wrong: bytes) -> None:
    encrypted = sm2.PrivateKey.generate().to_der(PASSWORD)
    with pytest.raises(KeyDecryptionError) as info:
        pkcs8.decrypt(encrypted, wrong)
    assert info.value.code == "key.decrypt"
    with pytest.raises(KeyDecryptionError):
        sm2.PrivateKey.from_der(encrypted, wrong)


def test_empty_password_refused() -> None:
    with pytest.raises(InputError):
        pkcs8.encrypt(sm2.PrivateKey.generate().to_der(), b"")


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(["-v2", "aes-256-cbc"], id="pbkdf2-sha256-aes256"),
        pytest.param(["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"], id="pbkdf2-sha1-aes128"),
        pytest.param(["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA512"], id="pbkdf2-sha512"),
        pytest.param(["-scrypt"], id="scrypt"),
    ],
)
def test_openssl_encrypted_keys_decrypt_with_ours(
    openssl: str, openssl_key: Path, options: list[str]
) -> None:
    encrypted = _run(openssl, "pkcs8", "-topk8", *options, "-in", str(openssl_key),
                     "-passout", "pass:" + PASSWORD.decode(), "-outform", "DER")
    plain = _run(openssl, "pkcs8", "-topk8", "-nocrypt", "-in", str(openssl_key), "-outform",
                 "DER")
    assert pkcs8.decrypt(encrypted, PASSWORD) == plain
    pub = _run(openssl, "pkey", "-in", str(openssl_key), "-pubout", "-outform", "DER")
    assert sm2.PrivateKey.from_der(encrypted, PASSWORD).public_key().to_der() == pub
    with pytest.raises(KeyDecryptionError):
        pkcs8.decrypt(encrypted, b"wrong")


def test_ours_decrypt_with_openssl(openssl: str, tmp_path: Path) -> None:
    key = sm2.PrivateKey.generate()
    path = tmp_path / "ours.der"
    path.write_bytes(key.to_der(PASSWORD))
    out = _run(openssl, "pkcs8", "-inform", "DER", "-in", str(path),
               "-passin", "pass:" + PASSWORD.decode(), "-outform", "DER")
    assert sm2.PrivateKey.from_der(out).public_key() == key.public_key()
    as_pkcs8 = _run(openssl, "pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", str(path),
                    "-passin", "pass:" + PASSWORD.decode(), "-outform", "DER")
    assert as_pkcs8 == key.to_der()


def test_pbes1_and_unknown_ciphers_refused(openssl: str, openssl_key: Path) -> None:
    for options in (["-v1", "PBE-SHA1-3DES"], ["-v2", "des3"]):
        encrypted = _run(openssl, "pkcs8", "-topk8", *options, "-in", str(openssl_key),
                         "-passout", "pass:pw", "-outform", "DER")
        with pytest.raises(KeyDecryptionError):
            pkcs8.decrypt(encrypted, b"pw")


# --------------------------------------------------------------------------
# Hostile parameters
# --------------------------------------------------------------------------


class _AlgId(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _Kdf(core.Sequence):
    _fields = [("kdf", _AlgId), ("scheme", _AlgId)]


class _Epki(core.Sequence):
    _fields = [("algorithm", _AlgId), ("data", core.OctetString)]


def _file(kdf_oid: str, kdf_params: core.Asn1Value) -> bytes:
    scheme = _AlgId({"algorithm": pkcs8.AES256_CBC, "parameters": core.OctetString(bytes(16))})
    pbes2 = _Kdf({"kdf": _AlgId({"algorithm": kdf_oid, "parameters": kdf_params}),
                  "scheme": scheme})
    return _Epki(  # type: ignore[no-any-return]
        {"algorithm": {"algorithm": pkcs8.PBES2, "parameters": pbes2}, "data": bytes(32)}
    ).dump()


def _scrypt(n: int, r: int, p: int) -> bytes:
    seq = core.Sequence()
    params: list[core.Asn1Value] = [core.OctetString(b"salt"), core.Integer(n), core.Integer(r),
                                    core.Integer(p)]
    seq.contents = b"".join(v.dump() for v in params)
    return _file(pkcs8.SCRYPT, seq)


def _pbkdf2(iterations: int) -> bytes:
    seq = core.Sequence()
    seq.contents = core.OctetString(b"salt").dump() + core.Integer(iterations).dump()
    return _file(pkcs8.PBKDF2, seq)


@pytest.fixture
def exploding_kdfs(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a KDF ran on hostile parameters")

    monkeypatch.setattr(pkcs8, "Scrypt", explode)
    monkeypatch.setattr(pkcs8, "PBKDF2HMAC", explode)


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param(_scrypt(2**30, 8, 1), id="scrypt-1TiB"),
        pytest.param(_scrypt(2**20, 32, 1), id="scrypt-4GiB"),
        pytest.param(_scrypt(2**17, 16, 1), id="scrypt-256MiB"),
        pytest.param(_scrypt(2**14, 8, 16), id="scrypt-p16"),
        pytest.param(_scrypt(2**64, 8, 1), id="scrypt-huge-n"),
        pytest.param(_scrypt(3000, 8, 1), id="scrypt-n-not-power-of-two"),
        pytest.param(_scrypt(2**14, 0, 1), id="scrypt-r0"),
        pytest.param(_pbkdf2(10**9), id="pbkdf2-1e9"),
        pytest.param(_pbkdf2(0), id="pbkdf2-zero"),
        pytest.param(_pbkdf2(-5), id="pbkdf2-negative"),
    ],
)
def test_hostile_kdf_parameters_refused_before_deriving(
    exploding_kdfs: None, hostile: bytes
) -> None:
    with pytest.raises(KeyDecryptionError):
        pkcs8.decrypt(hostile, PASSWORD)


def test_hostile_builders_are_otherwise_well_formed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: the same builder with sane parameters reaches the KDF."""
    calls: list[str] = []

    def record(name: str) -> Callable[..., Any]:
        def fake(*_args: Any, **_kwargs: Any) -> Any:
            calls.append(name)
            raise ValueError("stop here")

        return fake

    monkeypatch.setattr(pkcs8, "Scrypt", record("scrypt"))
    monkeypatch.setattr(pkcs8, "PBKDF2HMAC", record("pbkdf2"))
    for sane in (_scrypt(2**14, 8, 1), _pbkdf2(2048)):
        with pytest.raises(KeyDecryptionError):
            pkcs8.decrypt(sane, PASSWORD)
    assert calls == ["scrypt", "pbkdf2"]


@pytest.fixture(scope="module")
def cheap_encrypted(openssl: str, openssl_key: Path) -> bytes:
    """PBKDF2 with one iteration, so fuzzing exercises decryption, not the KDF."""
    return _run(openssl, "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-iter", "1",
                "-in", str(openssl_key), "-passout", "pass:pw", "-outform", "DER")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_corrupted_files_only_raise_typed_errors(cheap_encrypted: bytes, data: Any) -> None:
    blob = bytearray(cheap_encrypted)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(blob) // 2, len(blob)))
    try:
        plain = pkcs8.decrypt(bytes(blob[:cut]), b"pw")
    except KeyDecryptionError:
        return
    # AES-CBC has no integrity: a corrupted IV or middle block can still "decrypt".
    # The key loader must then reject the damaged key cleanly (or it was untouched).
    with contextlib.suppress(sm2.KeyFormatError):
        sm2.PrivateKey.from_der(plain)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_typed_errors(blob: bytes) -> None:
    with pytest.raises(KeyDecryptionError):
        pkcs8.decrypt(blob, b"pw")
