"""SM2 interoperability: our signatures and keys against the openssl CLI and gmssl.

Both directions, both backends. The openssl CLI needs ``-sigopt distid:`` for
signing and verifying (OpenSSL 3.0 defaults to an EMPTY ID; ``-vfyopt`` is
not accepted by 3.0's ``dgst``), which is also checked here so a silent
ID mismatch cannot hide.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from gmssl import sm2 as gm

from tests.support import require
from trust import sm2, sm3
from trust.errors import CryptoError

BACKENDS = ["openssl", "gmssl"]
UID = "1234567812345678"


def _available(name: str) -> bool:
    try:
        sm2._load_backend(name)
    except (OSError, ImportError, CryptoError):
        return False
    return True


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    name: str = request.param
    require(_available(name), f"SM2 backend {name} unavailable (libcrypto without SM2?)")
    previous = sm2.get_backend()
    sm2.use_backend(name)
    yield name
    sm2._install_backend(previous)


@pytest.fixture(scope="module")
def openssl() -> str:
    path = shutil.which("openssl")
    require(path is not None, "openssl CLI not installed")
    assert path is not None
    probe = subprocess.run([path, "list", "-digest-algorithms"], capture_output=True, text=True)
    require("SM3" in probe.stdout.upper(), "openssl CLI without SM3/SM2")
    return path


def _pem(der: bytes, label: str) -> str:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(args), capture_output=True, timeout=30)


def _openssl_verify(openssl: str, tmp: Path, pub: sm2.PublicKey, msg: bytes, sig: bytes,
                    uid: str) -> bool:
    (tmp / "pub.pem").write_text(_pem(pub.to_der(), "PUBLIC KEY"))
    (tmp / "msg").write_bytes(msg)
    (tmp / "sig").write_bytes(sig)
    out = _run(openssl, "dgst", "-sm3", "-verify", str(tmp / "pub.pem"),
               "-sigopt", f"distid:{uid}", "-signature", str(tmp / "sig"), str(tmp / "msg"))
    assert out.returncode in (0, 1), out.stderr
    return out.returncode == 0 and b"Verified OK" in out.stdout


def _openssl_sign(openssl: str, tmp: Path, key_pem: Path, msg: bytes, uid: str) -> bytes:
    (tmp / "msg").write_bytes(msg)
    out = _run(openssl, "dgst", "-sm3", "-sign", str(key_pem), "-sigopt", f"distid:{uid}",
               "-out", str(tmp / "sig"), str(tmp / "msg"))
    assert out.returncode == 0, out.stderr
    return (tmp / "sig").read_bytes()


def test_ours_verify_under_openssl(backend: str, openssl: str, tmp_path: Path) -> None:
    key = sm2.PrivateKey.generate()
    for msg in (b"", b"licence bytes", secrets.token_bytes(5000)):
        sig = key.sign(msg)
        assert _openssl_verify(openssl, tmp_path, key.public_key(), msg, sig, UID)
    custom = key.sign(b"m", uid=b"alice@example.cn")
    assert _openssl_verify(openssl, tmp_path, key.public_key(), b"m", custom, "alice@example.cn")
    # Negative controls: the CLI really checks the ID and the message.
    assert not _openssl_verify(openssl, tmp_path, key.public_key(), b"m", custom, UID)
    assert not _openssl_verify(openssl, tmp_path, key.public_key(), b"n", key.sign(b"m"), UID)


def test_openssl_signatures_verify_with_ours(backend: str, openssl: str, tmp_path: Path) -> None:
    key = sm2.PrivateKey.generate()
    key_pem = tmp_path / "key.pem"
    key_pem.write_text(_pem(key.to_der(), "PRIVATE KEY"))
    for msg, uid in ((b"licence bytes", UID), (b"", UID), (b"m" * 999, "ALICE123@YAHOO.COM")):
        sig = _openssl_sign(openssl, tmp_path, key_pem, msg, uid)
        assert key.public_key().verify(msg, sig, uid.encode())
        assert not key.public_key().verify(msg, sig, b"")


def test_openssl_generated_key_loads(backend: str, openssl: str, tmp_path: Path) -> None:
    key_pem = tmp_path / "k.pem"
    assert _run(openssl, "genpkey", "-algorithm", "SM2", "-out", str(key_pem)).returncode == 0
    key_der = _run(openssl, "pkey", "-in", str(key_pem), "-outform", "DER").stdout
    sec1_der = _run(openssl, "ec", "-in", str(key_pem), "-outform", "DER").stdout
    pub_der = _run(openssl, "pkey", "-in", str(key_pem), "-pubout", "-outform", "DER").stdout
    key = sm2.PrivateKey.from_der(key_der)
    assert sm2.PrivateKey.from_der(sec1_der).public_key() == key.public_key()
    assert key.public_key().to_der() == pub_der
    assert sm2.PublicKey.from_der(pub_der) == key.public_key()
    sig = _openssl_sign(openssl, tmp_path, key_pem, b"x", UID)
    assert key.public_key().verify(b"x", sig)
    assert _openssl_verify(openssl, tmp_path, key.public_key(), b"x", key.sign(b"x"), UID)


def test_annex_a_vector_under_openssl(openssl: str, tmp_path: Path) -> None:
    """The vector file's signature verifies with the CLI only with the default ID."""
    point = bytes.fromhex(
        "04"
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    )
    der = sm2.encode_der(
        int("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3", 16),
        int("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA", 16),
    )
    pub = sm2.PublicKey.from_point(point)
    assert _openssl_verify(openssl, tmp_path, pub, b"message digest", der, UID)
    assert not _openssl_verify(openssl, tmp_path, pub, b"message digest", der, "1234567812345679")


def _gmssl_for(point: bytes, private: bytes = b"") -> object:
    crypt = gm.CryptSM2(private_key=private.hex(), public_key="")
    crypt.public_key = point[1:].hex()  # 128-hex X||Y, never through lstrip("04")
    return crypt


def _k() -> str:
    return f"{secrets.randbelow(sm2.N - 1) + 1:064x}"


def test_gmssl_verifies_ours(backend: str) -> None:
    key = sm2.PrivateKey.generate()
    crypt = _gmssl_for(key.public_key().point)
    raw = key.sign_raw(b"licence")
    assert crypt.verify_with_sm3(raw.hex(), b"licence")  # type: ignore[attr-defined]
    assert not crypt.verify_with_sm3(raw.hex(), b"licencf")  # type: ignore[attr-defined]
    # Non-default ID through the e-based API.
    raw = key.sign_raw(b"licence", uid=b"bob")
    e = sm3.e_value(key.public_key().point, b"licence", b"bob")
    assert crypt.verify(raw.hex(), e)  # type: ignore[attr-defined]
    assert not crypt.verify_with_sm3(raw.hex(), b"licence")  # type: ignore[attr-defined]


def test_ours_verify_gmssl_signatures(backend: str) -> None:
    d = secrets.randbelow(sm2.N - 2) + 1
    key = sm2.PrivateKey.from_scalar(d)
    point = key.public_key().point
    crypt = _gmssl_for(point, d.to_bytes(32, "big"))
    raw_hex = crypt.sign_with_sm3(b"licence", _k())  # type: ignore[attr-defined]
    assert key.public_key().verify_raw(b"licence", bytes.fromhex(raw_hex))
    e = sm3.e_value(point, b"licence", b"carol")
    raw_hex = crypt.sign(e, _k())  # type: ignore[attr-defined]
    assert key.public_key().verify_raw(b"licence", bytes.fromhex(raw_hex), uid=b"carol")
    assert not key.public_key().verify_raw(b"licence", bytes.fromhex(raw_hex))


def test_z_value_matches_gmssl_default_id() -> None:
    point = sm2.PrivateKey.generate().public_key().point
    crypt = _gmssl_for(point)
    expected = crypt._sm3_z(b"some message")  # type: ignore[attr-defined]
    assert sm3.e_value(point, b"some message", sm2.DEFAULT_UID).hex() == expected
