"""Password-encrypted PKCS#8 (RFC 5958 / PBES2, RFC 8018) for any key type.

``cryptography`` cannot load SM2 keys, so it cannot decrypt their PKCS#8
either; this module does the PBES2 envelope itself. Writing uses scrypt
(RFC 7914) + AES-256-CBC, readable by ``openssl pkcs8``; reading also accepts
PBKDF2 (HMAC-SHA1/SHA-256/SM3) so keys exported by other tools load.
"""

from __future__ import annotations

import os
from typing import Final

from asn1crypto import core
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from trust.errors import InputError

PBES2: Final = "1.2.840.113549.1.5.13"
PBKDF2: Final = "1.2.840.113549.1.5.12"
SCRYPT: Final = "1.3.6.1.4.1.11591.4.11"
AES256_CBC: Final = "2.16.840.1.101.3.4.1.42"
AES128_CBC: Final = "2.16.840.1.101.3.4.1.2"
_PRFS: Final[dict[str, hashes.HashAlgorithm]] = {
    # HMAC-SHA1 is PBKDF2's default PRF: read-only, for keys other tools wrote.
    "1.2.840.113549.2.7": hashes.SHA1(),  # noqa: S303
    "1.2.840.113549.2.9": hashes.SHA256(),
    "1.2.840.113549.2.11": hashes.SHA512(),
    "1.2.156.10197.1.401.2": hashes.SM3(),
}
# scrypt cost: 128 * N * r = 16 MiB (OpenSSL refuses more than 32 MiB by default,
# so larger N would make our key files unreadable to `openssl pkcs8`); p = 2
# doubles the work instead (~0.1 s): a key file is opened once.
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 2
MAX_COST: Final = 2**20  # refuse attacker-chosen parameters that would exhaust memory/time
# A key file chooses its own KDF cost: bound memory (128*N*r bytes) and work
# (N*r*p) before deriving, so a hostile file is refused at once, not after
# minutes or gigabytes. The limits leave headroom over our own and OpenSSL's
# defaults (N=2**14, r=8, p=1..2).
MAX_SCRYPT_MEMORY: Final = 128 * 2**20
MAX_SCRYPT_WORK: Final = 4 * SCRYPT_N * SCRYPT_R * SCRYPT_P
MAX_PBKDF2_ITERATIONS: Final = 2_000_000
_ASN1_ERRORS: Final = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


class KeyDecryptionError(InputError):
    """Wrong password or a malformed encrypted key."""

    code = "key.decrypt"


class _AlgId(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _ScryptParams(core.Sequence):
    _fields = [
        ("salt", core.OctetString),
        ("cost", core.Integer),
        ("block_size", core.Integer),
        ("parallelization", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
    ]


class _Pbkdf2Params(core.Sequence):
    _fields = [
        ("salt", core.OctetString),
        ("iterations", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
        ("prf", _AlgId, {"optional": True}),
    ]


class _Pbes2Params(core.Sequence):
    _fields = [("kdf", _AlgId), ("scheme", _AlgId)]


class _EncryptedPrivateKeyInfo(core.Sequence):
    _fields = [("algorithm", _AlgId), ("data", core.OctetString)]


def encrypt(der: bytes, password: bytes) -> bytes:
    """Wrap a DER PrivateKeyInfo in PBES2(scrypt, AES-256-CBC)."""
    if not password:
        raise InputError("an empty password would not protect the key")
    salt, iv = os.urandom(16), os.urandom(16)
    key = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(password)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(der) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    data = enc.update(plain) + enc.finalize()
    kdf = _AlgId(
        {
            "algorithm": SCRYPT,
            "parameters": _ScryptParams(
                {
                    "salt": salt,
                    "cost": SCRYPT_N,
                    "block_size": SCRYPT_R,
                    "parallelization": SCRYPT_P,
                    "key_length": 32,
                }
            ),
        }
    )
    scheme = _AlgId({"algorithm": AES256_CBC, "parameters": core.OctetString(iv)})
    info = _EncryptedPrivateKeyInfo(
        {
            "algorithm": {"algorithm": PBES2, "parameters": _Pbes2Params({"kdf": kdf,
                                                                           "scheme": scheme})},
            "data": data,
        }
    )
    return info.dump()  # type: ignore[no-any-return]


def _check_key_length(declared: object, needed: int) -> None:
    if declared is not None and declared != needed:
        raise KeyDecryptionError("KDF key length does not match the cipher")


def _is_one_der_value(data: bytes) -> bool:
    """Whether ``data`` is exactly one DER SEQUENCE: a wrong password almost never gives that."""
    if len(data) < 2 or data[0] != 0x30:
        return False
    first = data[1]
    if first < 0x80:
        return 2 + first == len(data)
    count = first & 0x7F
    if not 1 <= count <= 4 or len(data) < 2 + count:
        return False
    return 2 + count + int.from_bytes(data[2 : 2 + count], "big") == len(data)


def _derive(kdf: _AlgId, password: bytes, length: int) -> bytes:
    oid = kdf["algorithm"].dotted
    raw = kdf["parameters"].dump()
    if oid == SCRYPT:
        sp = _ScryptParams.load(raw)
        n, r, p = sp["cost"].native, sp["block_size"].native, sp["parallelization"].native
        if not (1 < n <= MAX_COST and n & (n - 1) == 0 and 0 < r <= 32 and 0 < p <= 16):
            raise KeyDecryptionError("scrypt parameters out of the accepted range")
        if 128 * n * r > MAX_SCRYPT_MEMORY or n * r * p > MAX_SCRYPT_WORK:
            raise KeyDecryptionError("scrypt parameters exceed the accepted memory or work")
        _check_key_length(sp["key_length"].native, length)
        return Scrypt(salt=sp["salt"].native, length=length, n=n, r=r, p=p).derive(password)
    if oid == PBKDF2:
        pp = _Pbkdf2Params.load(raw)
        iterations = pp["iterations"].native
        if not 0 < iterations <= MAX_PBKDF2_ITERATIONS:
            raise KeyDecryptionError("PBKDF2 iteration count out of the accepted range")
        _check_key_length(pp["key_length"].native, length)
        prf_oid = pp["prf"]["algorithm"].dotted if pp["prf"].native else "1.2.840.113549.2.7"
        prf = _PRFS.get(prf_oid)
        if prf is None:
            raise KeyDecryptionError(f"unsupported PBKDF2 PRF {prf_oid}")
        return PBKDF2HMAC(prf, length, pp["salt"].native, iterations).derive(password)
    raise KeyDecryptionError(f"unsupported key derivation {oid}")


def decrypt(der: bytes, password: bytes) -> bytes:
    """Unwrap PBES2 EncryptedPrivateKeyInfo; wrong password -> KeyDecryptionError."""
    try:
        info = _EncryptedPrivateKeyInfo.load(bytes(der), strict=True)
        alg = info["algorithm"]
        if alg["algorithm"].dotted != PBES2:
            raise KeyDecryptionError("only PBES2-encrypted keys are supported")
        params = _Pbes2Params.load(alg["parameters"].dump())
        scheme_oid = params["scheme"]["algorithm"].dotted
        key_len = {AES256_CBC: 32, AES128_CBC: 16}.get(scheme_oid)
        if key_len is None:
            raise KeyDecryptionError(f"unsupported cipher {scheme_oid}")
        iv = core.OctetString.load(params["scheme"]["parameters"].dump()).native
        if not isinstance(iv, bytes) or len(iv) != 16:
            raise KeyDecryptionError("bad AES-CBC IV")
        key = _derive(params["kdf"], password, key_len)
        data = info["data"].native
        if not data or len(data) % 16:
            raise KeyDecryptionError("ciphertext is not a whole number of AES blocks")
        dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = dec.update(data) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
    except KeyDecryptionError:
        raise
    except _ASN1_ERRORS as exc:
        raise KeyDecryptionError("cannot decrypt key: wrong password or corrupted file") from exc
    if not _is_one_der_value(plain):
        raise KeyDecryptionError("cannot decrypt key: wrong password or corrupted file")
    return plain
